// Opens N idle connections to 127.0.0.1:PORT (each sends one byte and waits for its echo, so every
// connection reached the backend), then prints the RSS of the given processes before and with them.
// Usage: node bench/tcp-idle.mjs PORT N PID[,PID...]     (bounded: N <= 9500, loopback only)
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';

const [port, n, pids] = [Number(process.argv[2]), Math.min(9500, Number(process.argv[3])), process.argv[4].split(',')];
const rssMiB = () => pids.reduce((sum, pid) => sum + Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]), 0) / 1024;
const before = rssMiB();
const sockets = [];
for (let opened = 0; opened < n; opened += 500) {
  await Promise.all(Array.from({ length: Math.min(500, n - opened) }, () => new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    sockets.push(s);
    s.once('error', reject);
    s.once('data', resolve);
    s.once('connect', () => s.write('x'));
  })));
}
const withIdle = rssMiB();
console.log(JSON.stringify({ connections: sockets.length, rssBeforeMiB: +before.toFixed(1), rssWithIdleMiB: +withIdle.toFixed(1), kibPerConnection: +(((withIdle - before) * 1024) / sockets.length).toFixed(2) }));
for (const s of sockets) s.destroy();

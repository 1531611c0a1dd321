// Reads a tcpdump capture of one proxy's listen port and prints the latency each request saw on the
// wire at the proxy (its first data packet in, to the first data packet of the answer out), per
// connection in order: the proxy's own share of what wrk reports, without the load generator's delays.
// Usage: node bench/wire-latency.mjs FILE.pcap PORT   ->  "n N p50 X p90 X p99 X max X" (ms)
import { execFileSync } from 'node:child_process';

const [file, port] = process.argv.slice(2);
if (file === undefined || port === undefined) {
  console.error('usage: node bench/wire-latency.mjs FILE.pcap PORT');
  process.exit(2);
}
const text = execFileSync('tcpdump', ['-r', file, '-tt', '-nn', '-q'], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
const asked = new Map(); // client port -> time its pending request arrived
const latencies = [];
for (const line of text.split('\n')) {
  // 1764520000.123456 IP 127.0.0.1.40000 > 127.0.0.1.8095: tcp 40
  const m = /^(\d+\.\d+) IP [\d.]+\.(\d+) > [\d.]+\.(\d+): tcp (\d+)/.exec(line);
  if (m === null || m[4] === '0') continue;
  const at = Number(m[1]) * 1000;
  if (m[3] === port) {
    if (!asked.has(m[2])) asked.set(m[2], at);
  } else if (m[2] === port && asked.has(m[3])) {
    latencies.push(at - asked.get(m[3]));
    asked.delete(m[3]);
  }
}
latencies.sort((a, b) => a - b);
const q = (p) => (latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(2);
console.log(`n ${latencies.length} p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${q(1)}`);

// Reads a tcpdump capture of one proxy's listen port and prints the latency each request saw on the
// wire at the proxy (its first data packet in, to the first data packet of the answer out), per
// connection in order: the proxy's own share of what wrk reports, without the load generator's delays.
//
// Beside the raw percentiles it prints the p99 wrk would report for the same latencies: wrk corrects for
// coordinated omission (stats_correct: an answer slower than the mean interval per connection adds a
// sample at every interval below it), so one long wait counts many times. Computed here from the wire,
// it reproduced wrk's own p99 to within 1% in the captures of 2026-11-30, so where the two p99s differ
// the difference is long waits, not the load generator. `first` is the wait for each connection's first
// answer (the new connections wrk opens right after the warm-up run).
// Usage: node bench/wire-latency.mjs FILE.pcap PORT
//   ->  "n N p50 X p90 X p99 X max X wrk-p99 X first-p50 X first-max X" (ms)
import { execFileSync } from 'node:child_process';

const [file, port] = process.argv.slice(2);
if (file === undefined || port === undefined) {
  console.error('usage: node bench/wire-latency.mjs FILE.pcap PORT');
  process.exit(2);
}
const text = execFileSync('tcpdump', ['-r', file, '-tt', '-nn', '-q'], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
const asked = new Map(); // client port -> time its pending request arrived
const answered = new Set(); // client ports that had an answer
const latencies = [];
const firsts = [];
let from = Infinity;
let to = 0;
for (const line of text.split('\n')) {
  // 1764520000.123456 IP 127.0.0.1.40000 > 127.0.0.1.8095: tcp 40
  const m = /^(\d+\.\d+) IP [\d.]+\.(\d+) > [\d.]+\.(\d+): tcp (\d+)/.exec(line);
  if (m === null || m[4] === '0') continue;
  const at = Number(m[1]) * 1000;
  if (m[3] === port) {
    if (!asked.has(m[2])) asked.set(m[2], at);
    from = Math.min(from, at);
  } else if (m[2] === port && asked.has(m[3])) {
    const latency = at - asked.get(m[3]);
    latencies.push(latency);
    if (!answered.has(m[3])) firsts.push(latency);
    answered.add(m[3]);
    asked.delete(m[3]);
    to = at;
  }
}
// wrk's correction: the expected interval is the run's length over the requests per connection.
const interval = (to - from) / (latencies.length / Math.max(1, answered.size));
const corrected = [...latencies];
for (const latency of latencies) for (let m = latency - interval; m > interval; m -= interval) corrected.push(m);
const q = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0).toFixed(2);
};
console.log(`n ${latencies.length} p50 ${q(latencies, 0.5)} p90 ${q(latencies, 0.9)} p99 ${q(latencies, 0.99)} max ${q(latencies, 1)} wrk-p99 ${q(corrected, 0.99)} first-p50 ${q(firsts, 0.5)} first-max ${q(firsts, 1)}`);

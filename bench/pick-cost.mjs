// Cost of one pick per algorithm for pools of 3, 100, 1 000 and 10 000 servers (not a test: prints figures).
// Run after a build:  node bench/pick-cost.mjs [picks-per-case]
// Every server is available and has a latency sample (the steady state); clients rotate over 1 024
// addresses so consistent_hash hashes a different key each time. Times are wall clock per pick, median
// of 5 runs, after a warm-up: compare within one run only.
import { createAlgorithm } from '../dist/balancer/algorithms/index.js';
import { DEFAULT_CONFIG } from '../dist/balancer/config.js';
import { Server } from '../dist/balancer/server.js';
import { ALGORITHM_NAMES } from '../dist/shared/api-types.js';
import { seededRandom } from '../dist/shared/random.js';

const PICKS = Number(process.argv[2] ?? 200_000);
const SIZES = [3, 16, 64, 65, 100, 1_000, 10_000];
const contexts = Array.from({ length: 1024 }, (_, i) => ({
  clientIp: `10.${(i >> 8) & 255}.${i & 255}.7`,
  method: 'GET',
  path: '/',
  headers: {},
  exclude: null,
}));

function makePool(n) {
  const random = seededRandom(n);
  return Array.from({ length: n }, (_, i) => {
    const server = new Server({ host: `10.0.${i >> 8}.${i & 255}`, port: 8080, weight: 1 + (i % 3) });
    server.peakEwma.observe(5 + random() * 10, 0);
    for (let k = Math.floor(random() * 4); k > 0; k--) server.requestStarted();
    return server;
  });
}

function measure(name, pool, extra = {}) {
  const algorithm = createAlgorithm(name, {
    random: seededRandom(1),
    nowMs: () => 1,
    consistentHash: { ...DEFAULT_CONFIG.consistentHash, ...extra },
    hashKey: { kind: 'ip' },
  });
  algorithm.rebuild?.(pool);
  const picks = Math.max(2_000, Math.floor(PICKS / Math.max(1, Math.log10(pool.length))));
  let sink = 0;
  const run = () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < picks; i++) sink += algorithm.pick(pool, contexts[i & 1023]).port;
    return Number(process.hrtime.bigint() - t0) / picks;
  };
  run(); // warm-up: JIT
  const times = Array.from({ length: 5 }, run).sort((a, b) => a - b);
  if (sink === 42) console.log('');
  return times[2];
}

const fmt = (ns) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);
const rows = [...ALGORITHM_NAMES.map((n) => [n, n, {}]), ['consistent_hash (md5)', 'consistent_hash', { hashFunction: 'md5' }]];
console.log(`pick cost per algorithm (median of 5 runs, node ${process.version})`);
console.log(`| algorithm | ${SIZES.map((s) => `${s} servers`).join(' | ')} |`);
console.log(`| --- | ${SIZES.map(() => '---').join(' | ')} |`);
const pools = new Map(SIZES.map((n) => [n, makePool(n)]));
for (const [label, name, extra] of rows) {
  console.log(`| ${label} | ${SIZES.map((n) => fmt(measure(name, pools.get(n), extra))).join(' | ')} |`);
}

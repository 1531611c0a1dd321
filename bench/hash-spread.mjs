// How evenly consistent_hash spreads keys, and how many move when a server joins (not a test: prints
// figures; the tests assert the bands). Run after a build:  node bench/hash-spread.mjs
import { createAlgorithm } from '../dist/balancer/algorithms/index.js';
import { Server } from '../dist/balancer/server.js';
import { seededRandom } from '../dist/shared/random.js';

const keys = Array.from({ length: 100_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
const pick = (pool, consistentHash) => {
  const algorithm = createAlgorithm('consistent_hash', { random: seededRandom(1), nowMs: () => 0, consistentHash, hashKey: { kind: 'ip' } });
  algorithm.rebuild(pool);
  return keys.map((clientIp) => algorithm.pick(pool, { clientIp, method: 'GET', path: '/', headers: {}, exclude: null }).id);
};
const servers = (n) => Array.from({ length: n }, (_, i) => new Server({ host: `10.0.0.${i + 1}`, port: 8080 }));

console.log('consistent_hash spread of 100 000 keys over 10 servers');
for (const [hashFunction, virtualNodes] of [['fnv1a', 160], ['md5', 160], ['fnv1a', 1000]]) {
  const tally = new Map();
  for (const id of pick(servers(10), { virtualNodes, hashFunction })) tally.set(id, (tally.get(id) ?? 0) + 1);
  const c = [...tally.values()];
  const worst = Math.max(...c.map((n) => Math.abs(n - 10_000) / 10_000));
  console.log(`  ${hashFunction} x${virtualNodes}: min ${Math.min(...c)} max ${Math.max(...c)} (worst ${(worst * 100).toFixed(1)}% from the mean)`);
}
const four = pick(servers(4), { virtualNodes: 160, hashFunction: 'fnv1a' });
const five = pick(servers(5), { virtualNodes: 160, hashFunction: 'fnv1a' });
const moved = four.filter((id, i) => id !== five[i]).length;
console.log(`adding a 5th server moved ${moved} of ${keys.length} keys (ideal ${keys.length / 5})`);

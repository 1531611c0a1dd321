// Embedding lb in your own process: two test servers, a balancer in front, the per-request event
// (the seeds' monitoring callback) and server-state changes. Run after `npm install`: node examples/embed.mjs
import { configFrom, startBalancer, startTestServer } from 'lb';

const servers = await Promise.all([startTestServer({ port: 0, name: 'a' }), startTestServer({ port: 0, name: 'b' })]);
const lb = await startBalancer(
  configFrom(
    servers.map((s) => ({ host: '127.0.0.1', port: s.port, name: s.name })),
    { port: 0, host: '127.0.0.1', adminPort: 0, algorithm: 'least_connections' },
  ),
);

lb.on('request', ({ server, ok, status, durationMs }) => console.log(`request -> ${server} ${status} ${ok ? 'ok' : 'failed'} ${durationMs.toFixed(1)} ms`));
lb.on('server-state', ({ server, type, state }) => console.log(`server ${server}: ${type} (now ${state})`));

for (let i = 0; i < 4; i++) await (await fetch(`${lb.url}/hello`)).text();
lb.apply({ type: 'updateServer', server: 'a', drain: true });
console.log('totals:', lb.admin.stats().totals.requests, 'requests');

await lb.close();
await Promise.all(servers.map((s) => s.close()));

import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../src/shared/random.js';
import { startTestServer, type TestServerHandle } from '../../src/testserver/server.js';
import { waitFor } from '../helpers/servers.js';

let server: TestServerHandle | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function get(path: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server!.url}${path}`);
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('lb testserver', () => {
  it('answers any path with JSON naming itself', async () => {
    server = await startTestServer({ port: 0, name: 'alpha' });
    const res = await get('/a/b?c=d');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ server: 'alpha', port: server.port, method: 'GET', path: '/a/b', query: { c: 'd' }, body_bytes: 0 });
    expect(typeof res.json['headers-count']).toBe('number');
    expect(typeof res.json.time).toBe('string');
  });

  it('toggles health and behaviour through /control, and rejects bad values', async () => {
    server = await startTestServer({ port: 0 });
    expect((await get('/health')).status).toBe(200);
    expect((await get('/control?healthy=false')).json).toMatchObject({ healthy: false, delayMs: 0, errorRate: 0 });
    expect((await get('/health')).json).toMatchObject({ status: 'unhealthy' });
    expect((await get('/health')).status).toBe(503);
    const slow = await get('/control?set_delay_ms=40&error_rate=0&healthy=true');
    expect(slow.json).toMatchObject({ healthy: true, delayMs: 40 });
    const started = performance.now();
    await get('/');
    expect(performance.now() - started).toBeGreaterThanOrEqual(39);
    for (const bad of ['set_delay_ms=-5', 'error_rate=1.5', 'healthy=maybe', 'set_delay_ms=abc']) {
      const res = await get(`/control?${bad}`);
      expect(res.status).toBe(400);
      expect(String(res.json.error)).toMatch(/delay|error rate|healthy/);
    }
    expect(server.state).toEqual({ healthy: true, delayMs: 40, errorRate: 0 });
  });

  it('injects errors at the configured rate (seeded)', async () => {
    server = await startTestServer({ port: 0, errorRate: 0.3, random: seededRandom(42) });
    let errors = 0;
    for (let i = 0; i < 200; i++) if ((await get('/')).status === 500) errors += 1;
    expect(errors).toBeGreaterThanOrEqual(40);
    expect(errors).toBeLessThanOrEqual(80);
  });

  it('delays one answer with ?delay= and streams ?bytes=N', async () => {
    server = await startTestServer({ port: 0 });
    const started = performance.now();
    expect((await get('/?delay=50')).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(49);
    const res = await fetch(`${server.url}/blob?bytes=200000`);
    expect(res.headers.get('content-length')).toBe('200000');
    expect((await res.arrayBuffer()).byteLength).toBe(200_000);
    expect((await get('/?bytes=-1')).status).toBe(400);
  });

  it('rejects a bad start configuration', async () => {
    await expect(startTestServer({ port: 0, errorRate: 3 })).rejects.toThrow('error rate must be between 0 and 1, got 3');
  });
});

describe('going away and coming back', () => {
  it('/control?stop_ms=N answers, refuses connections for N ms, then listens on the same port again', async () => {
    server = await startTestServer({ port: 0, name: 'phoenix' });
    const res = await fetch(`${server.url}/control?stop_ms=400`);
    expect(await res.json()).toMatchObject({ stoppingForMs: 400, port: server.port });
    await waitFor('the port to refuse connections', async () => (await fetch(`${server!.url}/`).then(() => 'open', (err: Error) => (err.cause as { code?: string })?.code)) === 'ECONNREFUSED', 2000);
    const back = await waitFor('the port to answer again', async () => fetch(`${server!.url}/health`).then((r) => r.status, () => 0), 5000);
    expect(back).toBe(200);
    for (const bad of ['0', '-1', 'soon', '300001']) expect((await fetch(`${server!.url}/control?stop_ms=${bad}`)).status).toBe(400);
  });
});

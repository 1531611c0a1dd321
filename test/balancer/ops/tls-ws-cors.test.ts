import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { BalancerHandle } from '../../../src/balancer/balancer.js';
import type { TestServerHandle } from '../../../src/testserver/server.js';
import { closedAfterEach, startLb, waitFor } from '../../helpers/servers.js';
import { tempDir } from '../../helpers/temp.js';

let lb: BalancerHandle | undefined;
let backends: TestServerHandle[] = [];

/** A self-signed certificate for 127.0.0.1 made now with the openssl CLI: no key is ever committed. */
let certFile = '';
let keyFile = '';

const scope = closedAfterEach();

beforeAll(async () => {
  const dir = await tempDir();
  certFile = join(dir, 'cert.pem');
  keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
});

function httpsGet(url: string, ca: Buffer): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    httpsRequest(url, { ca }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('TLS', () => {
  it('terminates HTTPS on the traffic port and tells servers the scheme', async () => {
    backends = await scope.startServers(1);
    lb = await scope.startLb(backends, { tlsCert: certFile, tlsKey: keyFile });
    expect(lb.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await httpsGet(`${lb.url}/x?echo=headers`, readFileSync(certFile));
    expect(res.status).toBe(200);
    expect(res.headers['x-lb-server']).toBe('s1');
    expect((JSON.parse(res.body) as { headers: Record<string, string> }).headers['x-forwarded-proto']).toBe('https');
  });

  it('speaks HTTPS to servers marked "tls": true, verifying them against --upstream-ca', async () => {
    const secure = createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (_req, res) => res.end('secure'));
    secure.listen(0, '127.0.0.1');
    await once(secure, 'listening');
    scope.track({ close: async () => { secure.closeAllConnections(); secure.close(); } });
    const file = { servers: [{ host: '127.0.0.1', port: (secure.address() as AddressInfo).port, tls: true, name: 'secure' }] };

    lb = await scope.startLb([], { file, upstreamCa: certFile });
    const verified = await fetch(`${lb.url}/`);
    expect([verified.status, await verified.text()]).toEqual([200, 'secure']);
    await lb.close();

    lb = await scope.startLb([], { file });
    const unverified = await fetch(`${lb.url}/`);
    expect(unverified.status).toBe(502);
    expect(((await unverified.json()) as { error: { message: string } }).error.message).toMatch(/the server failed: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/);
    await lb.close();

    lb = await scope.startLb([], { file, upstreamInsecure: true });
    expect((await fetch(`${lb.url}/`)).status).toBe(200);
  });

  it('refuses a certificate without its key', async () => {
    await expect(startLb([], { tlsCert: certFile })).rejects.toThrow('--tls-key: HTTPS needs both --tls-cert and --tls-key');
  });
});

function openSocket(url: string): Promise<{ ws: WebSocket; server: string | undefined; messages: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const messages: string[] = [];
    let server: string | undefined;
    ws.on('upgrade', (res) => (server = res.headers['x-lb-server'] as string | undefined));
    ws.on('message', (data) => messages.push(String(data)));
    ws.once('open', () => resolve({ ws, server, messages }));
    ws.once('error', reject);
  });
}

describe('WebSockets', () => {
  it('tunnels to the picked server, counts the tunnel as active while open, and closes both sides', async () => {
    backends = await scope.startServers(2);
    lb = await scope.startLb(backends);
    const wsUrl = lb.url.replace('http', 'ws');
    const first = await openSocket(`${wsUrl}/ws`);
    expect(first.server).toBe('s1');
    await waitFor('the greeting', () => first.messages.length === 1);
    first.ws.send('ping');
    await waitFor('the echo', () => first.messages.length === 2);
    expect(first.messages).toEqual(['hello from s1', 's1: ping']);
    expect(lb.pool.get('s1')!.activeRequests).toBe(1);

    const second = await openSocket(`${wsUrl}/ws`);
    expect(second.server).toBe('s2');
    first.ws.close();
    await waitFor('the first tunnel to end', () => lb!.pool.get('s1')!.activeRequests === 0);

    // The server going away closes the client's side too.
    const closed = once(second.ws, 'close');
    await backends[1]!.close();
    await closed;
    await waitFor('the second tunnel to end', () => lb!.pool.get('s2')!.activeRequests === 0);
    expect(lb.history().requests.filter((r) => r.status === 101).map((r) => r.server)).toEqual(['s1', 's2']);
  });

  it('follows sticky rules and answers 503 with no server', async () => {
    backends = await scope.startServers(3);
    lb = await scope.startLb(backends, { sticky: 'ip' });
    const home = (await fetch(`${lb.url}/`)).headers.get('x-lb-server');
    const tunnel = await openSocket(`${lb.url.replace('http', 'ws')}/ws`);
    expect(tunnel.server).toBe(home);
    tunnel.ws.close();
    for (const b of backends) lb.admin.removeServer(b.name);
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${lb!.url.replace('http', 'ws')}/ws`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(503);
  });
});

describe('CORS on the admin API', () => {
  it('is off by default and answers only the configured origins', async () => {
    backends = await scope.startServers(1);
    lb = await scope.startLb(backends);
    expect((await fetch(`${lb.adminUrl}/lb/stats`, { headers: { origin: 'http://localhost:3000' } })).headers.get('access-control-allow-origin')).toBeNull();
    await lb.close();

    lb = await scope.startLb(backends, { adminCors: 'http://localhost:3000', adminToken: 'secret' });
    const allowed = await fetch(`${lb.adminUrl}/lb/stats`, { headers: { origin: 'http://localhost:3000', authorization: 'Bearer secret' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    const other = await fetch(`${lb.adminUrl}/lb/stats`, { headers: { origin: 'http://evil.example', authorization: 'Bearer secret' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const preflight = await fetch(`${lb.adminUrl}/lb/add-server`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
    expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization');
  });
});

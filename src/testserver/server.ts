/**
 * A mock backend for trying the balancer: answers every path with JSON naming itself, with an optional
 * delay and error rate, a health endpoint that can be switched off, and a control endpoint that changes
 * all of that at runtime. Request bodies are counted as they stream in (never buffered), and `?bytes=N`
 * streams N bytes back with backpressure, so large transfers through the balancer can be tested.
 *
 *   GET  /health                       200 {status: "healthy"} or 503 when marked unhealthy
 *   GET  /control?set_delay_ms=N&healthy=true|false&error_rate=0..1   change behaviour, answer the state
 *   GET  /control?stop_ms=N            answer, then go away for N ms (stop listening, close every connection,
 *                                      as a crashed or restarting process would), then listen again
 *   ANY  /anything?delay=MS            one slow answer
 *   ANY  /anything?bytes=N             N bytes of application/octet-stream (at most 1 GiB)
 *   ANY  /anything?echo=headers        the JSON answer also lists the request headers
 *   WS   /ws                           WebSocket echo: "hello from <name>", then "<name>: <message>"
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { LbError } from '../shared/errors.js';
import { defaultRandom, type Random } from '../shared/random.js';

export interface TestServerOptions {
  port: number;
  host?: string;
  /** Default `Server-<port>`. */
  name?: string;
  delayMs?: number;
  /** Share of requests answered 500, 0..1. */
  errorRate?: number;
  healthy?: boolean;
  random?: Random;
}

export interface TestServerState {
  delayMs: number;
  errorRate: number;
  healthy: boolean;
}

export interface TestServerHandle {
  readonly url: string;
  readonly port: number;
  readonly name: string;
  readonly state: TestServerState;
  /** Requests answered so far, /health and /control included. */
  readonly requestCount: number;
  close(): Promise<void>;
}

const MAX_DELAY_MS = 300_000;
const MAX_BYTES = 1024 ** 3;
const CHUNK = Buffer.alloc(64 * 1024, 0x61);

export function validateTestServerState(state: TestServerState): void {
  if (!Number.isFinite(state.delayMs) || state.delayMs < 0 || state.delayMs > MAX_DELAY_MS) {
    throw new LbError('LB_USAGE', `delay must be 0-${MAX_DELAY_MS / 1000} seconds, got ${state.delayMs / 1000}`);
  }
  if (!Number.isFinite(state.errorRate) || state.errorRate < 0 || state.errorRate > 1) {
    throw new LbError('LB_USAGE', `error rate must be between 0 and 1, got ${state.errorRate}`);
  }
}

export async function startTestServer(options: TestServerOptions): Promise<TestServerHandle> {
  const random = options.random ?? defaultRandom;
  const state: TestServerState = {
    delayMs: options.delayMs ?? 0,
    errorRate: options.errorRate ?? 0,
    healthy: options.healthy ?? true,
  };
  validateTestServerState(state);
  let name = options.name ?? '';
  let port = 0;
  let requestCount = 0;
  const timers = new Set<NodeJS.Timeout>();

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    requestCount += 1;
    const url = new URL(req.url ?? '/', 'http://testserver');
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    req.on('end', () => {
      if (url.pathname === '/health') {
        json(res, state.healthy ? 200 : 503, { status: state.healthy ? 'healthy' : 'unhealthy', server: name, port });
        return;
      }
      if (url.pathname === '/control') {
        control(res, url.searchParams);
        return;
      }
      const delayParam = url.searchParams.get('delay');
      const delayMs = delayParam === null ? state.delayMs : Number(delayParam);
      if (!Number.isFinite(delayMs) || delayMs < 0 || delayMs > MAX_DELAY_MS) {
        json(res, 400, { error: `delay must be 0-${MAX_DELAY_MS} ms, got ${JSON.stringify(delayParam)}`, server: name });
        return;
      }
      const answer = (): void => respond(req, res, url, bodyBytes);
      if (delayMs === 0) {
        answer();
        return;
      }
      // Timers count from the event loop's cached clock, which can lag the real one under load, so a
      // timer may fire a little early: wait again for what is left, so the delay is never shorter.
      const due = performance.now() + delayMs;
      let timer: NodeJS.Timeout;
      const wait = (ms: number): void => {
        timer = setTimeout(() => {
          timers.delete(timer);
          const left = due - performance.now();
          if (left > 0) wait(left);
          else answer();
        }, ms);
        timers.add(timer);
      };
      wait(delayMs);
      res.once('close', () => {
        clearTimeout(timer);
        timers.delete(timer);
      });
    });
  };

  const respond = (req: IncomingMessage, res: ServerResponse, url: URL, bodyBytes: number): void => {
    if (res.destroyed) return;
    if (state.errorRate > 0 && random() < state.errorRate) {
      json(res, 500, { error: 'injected error', server: name, port });
      return;
    }
    const bytesParam = url.searchParams.get('bytes');
    if (bytesParam !== null) {
      const bytes = Number(bytesParam);
      if (!Number.isInteger(bytes) || bytes < 0 || bytes > MAX_BYTES) {
        json(res, 400, { error: `bytes must be an integer 0-${MAX_BYTES}, got ${JSON.stringify(bytesParam)}`, server: name });
        return;
      }
      streamBytes(res, bytes);
      return;
    }
    const payload: Record<string, unknown> = {
      server: name,
      port,
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      'headers-count': Object.keys(req.headers).length,
      body_bytes: bodyBytes,
      time: new Date().toISOString(),
    };
    if (url.searchParams.get('echo') === 'headers') payload.headers = req.headers;
    json(res, 200, payload);
  };

  /** Down for `ms`: nothing listens and every connection is closed; then the same port listens again. */
  let stopped = false;
  const stopFor = (ms: number): void => {
    stopped = true;
    for (const ws of sockets.clients) ws.terminate();
    server.close();
    server.closeAllConnections();
    const timer = setTimeout(() => {
      timers.delete(timer);
      stopped = false;
      server.listen(port, options.host ?? '127.0.0.1');
    }, ms);
    timers.add(timer);
  };

  const control = (res: ServerResponse, params: URLSearchParams): void => {
    const stop = params.get('stop_ms');
    if (stop !== null) {
      const ms = Number(stop);
      if (!Number.isInteger(ms) || ms < 1 || ms > MAX_DELAY_MS) {
        json(res, 400, { error: `stop_ms must be an integer 1-${MAX_DELAY_MS}, got ${JSON.stringify(stop)}`, server: name });
        return;
      }
      json(res, 200, { server: name, port, stoppingForMs: ms });
      res.once('finish', () => stopFor(ms));
      return;
    }
    const next: TestServerState = { ...state };
    const delay = params.get('set_delay_ms') ?? params.get('delay_ms');
    if (delay !== null) next.delayMs = Number(delay);
    const rate = params.get('error_rate');
    if (rate !== null) next.errorRate = Number(rate);
    const healthy = params.get('healthy');
    if (healthy !== null) {
      if (healthy !== 'true' && healthy !== 'false') {
        json(res, 400, { error: `healthy must be true or false, got ${JSON.stringify(healthy)}`, server: name });
        return;
      }
      next.healthy = healthy === 'true';
    }
    try {
      validateTestServerState(next);
    } catch (err) {
      json(res, 400, { error: (err as Error).message, server: name });
      return;
    }
    Object.assign(state, next);
    json(res, 200, { server: name, port, ...state });
  };

  const server = createServer({ keepAliveTimeout: 65_000 }, handler);
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    requestCount += 1;
    if (new URL(req.url ?? '/', 'http://testserver').pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => {
      ws.send(`hello from ${name}`);
      ws.on('message', (data) => ws.send(`${name}: ${String(data)}`));
    });
  });
  server.listen(options.port, options.host ?? '127.0.0.1');
  try {
    await once(server, 'listening');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LbError('LB_LISTEN_FAILED', `cannot listen on ${options.host ?? '127.0.0.1'}:${options.port}: ${code === 'EADDRINUSE' ? 'address already in use' : String(code ?? err)}`);
  }
  port = (server.address() as AddressInfo).port;
  if (name === '') name = `Server-${port}`;
  const host = options.host ?? '127.0.0.1';
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;

  // Closing twice returns the first close: a handle may be closed by a test and again by its cleanup.
  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    name,
    state,
    get requestCount() {
      return requestCount;
    },
    close: () =>
      (closing ??= (async () => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        for (const ws of sockets.clients) ws.terminate();
        sockets.close();
        // Stopped by /control?stop_ms: nothing listens, there is nothing to wait for.
        if (stopped) return;
        const closed = once(server, 'close');
        server.close();
        server.closeAllConnections();
        await closed;
      })()),
  };
}

function json(res: ServerResponse, status: number, payload: unknown): void {
  if (res.destroyed) return;
  const body = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function streamBytes(res: ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      if (!res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

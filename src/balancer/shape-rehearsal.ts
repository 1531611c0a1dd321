/**
 * A rehearsal, once at start and on loopback only, of what connections will do later: a request proxied
 * through an undici pool, clients that leave in the middle of an answer (with a FIN and with a reset), and
 * a fired timer re-armed after a pause (undici re-arms its clock timer that way whenever traffic resumes).
 *
 * Why: V8 optimises the request path for the object shapes it has seen. The first time a connection
 * closes mid-request, or a fired timer is re-armed, Node's stream and timer objects change shape (a field
 * written once becomes a field written twice), and V8 throws away every piece of optimised code that
 * relied on the old shape. Under load that is ~50 functions recompiled on the proxy's core while every
 * connection waits: at proxy-bench.sh's reconnect after its warm-up, 42-50 functions, first answers
 * waiting up to 480 ms and wrk's p99 at 79-174 ms; with the rehearsal done at start, 8-12 functions and
 * p99 at 19-24 ms (README, Performance, run 12). Done before the hot path is optimised, the same shape
 * changes cost nothing.
 *
 * Nothing here reaches a configured server, and nothing is counted: its own two servers listen on
 * 127.0.0.1 port 0 and are closed when it ends. It never fails the start: any error ends it early.
 */
import { once } from 'node:events';
import { createServer, type Server as HttpServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { Pool } from 'undici';

/** The rehearsal never runs longer than this, whatever happens on loopback. */
const REHEARSAL_DEADLINE_MS = 2000;
/** How long the rehearsal's backend takes over the answer the clients walk away from. */
const SLOW_ANSWER_MS = 20;
/** When the clients walk away: the second request is with the backend by then. */
const LEAVE_AFTER_MS = 5;

export async function rehearseConnectionShapes(): Promise<void> {
  const timers = new Set<NodeJS.Timeout>();
  const backend = createServer((req, res) => {
    const timer = setTimeout(() => res.end('ok'), req.url === '/slow' ? SLOW_ANSWER_MS : 0);
    timers.add(timer);
  });
  const front = createServer();
  let pool: Pool | null = null;
  const deadline = setTimeout(() => {
    front.closeAllConnections();
    backend.closeAllConnections();
  }, REHEARSAL_DEADLINE_MS);
  try {
    await listenOnLoopback(backend);
    pool = new Pool(`http://127.0.0.1:${(backend.address() as AddressInfo).port}`, { connections: 4, pipelining: 1 });
    const upstream = pool;
    front.on('request', (req, res) => {
      upstream.stream(
        { path: req.url ?? '/', method: 'GET', opaque: res },
        ({ statusCode, opaque }) => {
          (opaque as typeof res).writeHead(statusCode);
          return opaque as typeof res;
        },
        (err) => {
          if (err !== null && !res.headersSent) res.writeHead(502).end();
        },
      );
    });
    await listenOnLoopback(front);
    const port = (front.address() as AddressInfo).port;
    for (let round = 0; round < 2; round++) {
      await Promise.all([0, 1, 2, 3].map((client) => visit(port, client % 2 === 0)));
    }
    await rearmFiredTimer();
  } catch {
    // A machine without loopback, or out of sockets: lb starts all the same, only warms up the slow way.
  } finally {
    clearTimeout(deadline);
    for (const timer of timers) clearTimeout(timer);
    front.closeAllConnections();
    backend.closeAllConnections();
    front.close();
    backend.close();
    await pool?.destroy().catch(() => undefined);
  }
}

function listenOnLoopback(server: HttpServer): Promise<void> {
  server.listen(0, '127.0.0.1');
  return once(server, 'listening').then(() => undefined);
}

/** One client: two pipelined requests, then it leaves while the second answer is on its way. */
function visit(port: number, reset: boolean): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nhost: rehearsal\r\n\r\nGET /slow HTTP/1.1\r\nhost: rehearsal\r\n\r\n'));
    socket.on('error', () => undefined);
    socket.once('data', () => {
      setTimeout(() => (reset ? socket.resetAndDestroy() : socket.destroy()), LEAVE_AFTER_MS);
    });
    socket.once('close', () => resolve());
  });
}

/** A timer that fired, re-armed on a later turn of the loop, then cleared. */
function rearmFiredTimer(): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      setImmediate(() => {
        timer.refresh();
        clearTimeout(timer);
        resolve();
      });
    }, 0);
  });
}

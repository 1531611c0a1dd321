/**
 * Sticky sessions: a layer around the algorithm, never an algorithm itself.
 *
 * cookie mode: the cookie holds `<session id>.<server tag>`, where the tag is an HMAC of the server id
 * (as Caddy does it), so clients never see backend addresses and cannot forge a route to a server they
 * were not sent to. A request with a valid tag goes to that server while it is available; otherwise the
 * algorithm picks and the cookie is set again. ip mode: the client address on a hash ring, so a client
 * keeps its server while the server set is unchanged and only ~1/n of clients move when it changes.
 *
 * Sessions are counted in a table bounded to `maxSessions` (least recently seen evicted first) and
 * forgotten after `ttlMs` idle, the seed's "automatic session cleanup after timeout".
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { SessionStats } from '../shared/api-types.js';
import type { BalancingAlgorithm, RequestContext } from './algorithms/index.js';
import { isEligible } from './algorithms/types.js';
import { fnv1a } from './hash.js';
import { cookieValue } from './hash-key.js';
import { HashRing } from './hash-ring.js';
import type { Server } from './server.js';

import type { StickyMode } from './config.js';
export interface StickyConfig {
  mode: StickyMode;
  cookieName: string;
  /** Cookie Max-Age, and how long an idle session is still counted. */
  ttlMs: number;
  /** HMAC key for the cookie; random per process when null (set it to share cookies between instances). */
  secret: string | null;
  /** Most sessions tracked at once; the least recently seen go first. */
  maxSessions: number;
}

export interface StickyRoute {
  server: Server | undefined;
  /** A Set-Cookie value to add to the answer, or null when the client's cookie is still right. */
  setCookie: string | null;
}

const SESSION_ID = /^[A-Za-z0-9_-]{16}$/;
const IP_RING_POINTS = 160;

export class StickySessions {
  readonly #config: StickyConfig;
  #secret: Buffer;
  readonly #nowMs: () => number;
  /** session id (cookie) or client IP (ip mode) -> last seen; Map order is least recently seen first. */
  readonly #sessions = new Map<string, number>();
  #byTag = new Map<string, Server>();
  #tagOf = new Map<Server, string>();
  #ring: HashRing | null = null;
  #builtFor: readonly Server[] | null = null;
  readonly #cookieAttributes: string;

  constructor(config: StickyConfig, nowMs: () => number) {
    this.#config = config;
    this.#nowMs = nowMs;
    this.#secret = config.secret === null ? randomBytes(32) : Buffer.from(config.secret);
    this.#cookieAttributes = `; Path=/; Max-Age=${Math.round(config.ttlMs / 1000)}; HttpOnly; SameSite=Lax`;
  }

  get mode(): StickyConfig['mode'] {
    return this.#config.mode;
  }

  /**
   * Another HMAC key from now on (a cluster's shared one, read from the store at start): cookies signed
   * with it route on every instance of the cluster. Cookies issued before point nowhere and are re-set.
   */
  useSecret(secret: string): void {
    this.#secret = Buffer.from(secret);
    if (this.#builtFor !== null) this.rebuild(this.#builtFor);
  }

  rebuild(servers: readonly Server[]): void {
    this.#builtFor = servers;
    if (this.#config.mode === 'ip') {
      this.#ring = new HashRing(servers, IP_RING_POINTS, fnv1a);
      return;
    }
    this.#byTag = new Map();
    this.#tagOf = new Map();
    for (const server of servers) {
      const tag = createHmac('sha256', this.#secret).update(server.id).digest('base64url').slice(0, 22);
      this.#byTag.set(tag, server);
      this.#tagOf.set(server, tag);
    }
  }

  route(servers: readonly Server[], ctx: RequestContext, fallback: BalancingAlgorithm): StickyRoute {
    if (servers !== this.#builtFor) this.rebuild(servers);
    const now = this.#nowMs();
    if (this.#config.mode === 'ip') {
      this.#touch(ctx.clientIp, now);
      const server = this.#ring!.lookup(fnv1a(ctx.clientIp), (s) => isEligible(s, ctx));
      return { server, setCookie: null };
    }
    const cookie = cookieValue(ctx.headers.cookie, this.#config.cookieName);
    const dot = cookie === undefined ? -1 : cookie.indexOf('.');
    let sessionId = dot === -1 ? '' : cookie!.slice(0, dot);
    if (!SESSION_ID.test(sessionId)) sessionId = '';
    if (sessionId !== '') {
      const server = this.#byTag.get(cookie!.slice(dot + 1));
      if (server !== undefined && isEligible(server, ctx)) {
        this.#touch(sessionId, now);
        return { server, setCookie: null };
      }
    }
    const server = fallback.pick(servers, ctx);
    if (server === undefined) return { server, setCookie: null };
    if (sessionId === '') sessionId = randomBytes(12).toString('base64url');
    this.#touch(sessionId, now);
    return { server, setCookie: `${this.#config.cookieName}=${sessionId}.${this.#tagOf.get(server)!}${this.#cookieAttributes}` };
  }

  stats(): SessionStats {
    this.#expire(this.#nowMs());
    return { mode: this.#config.mode, active: this.#sessions.size, capacity: this.#config.maxSessions, ttlSeconds: this.#config.ttlMs / 1000 };
  }

  clear(): void {
    this.#sessions.clear();
  }

  #touch(key: string, now: number): void {
    // Delete and set moves the key to the end: Map order stays "least recently seen first".
    this.#sessions.delete(key);
    this.#sessions.set(key, now);
    this.#expire(now);
    if (this.#sessions.size > this.#config.maxSessions) {
      this.#sessions.delete(this.#sessions.keys().next().value!);
    }
  }

  #expire(now: number): void {
    const oldest = now - this.#config.ttlMs;
    for (const [key, seen] of this.#sessions) {
      if (seen > oldest) break;
      this.#sessions.delete(key);
    }
  }
}

/**
 * A client for the balancer's admin API, on got: the monitor's poller and actions, the scripted
 * `lb monitor --command ...`, and `lb loadtest --admin-url` all use it. got's timeouts and JSON handling
 * serve here; speed does not matter (one call per interval). Every failure becomes an AdminError with a
 * one-line message: the API's own `{error: {message}}` when it answered, else what went wrong on the way.
 */
import got, { HTTPError, RequestError, type Got } from 'got';
import type {
  AlgorithmName,
  AlgorithmSwitchResponse,
  HistoryResponse,
  ServerChangeResponse,
  ServerRemovedResponse,
  ServerSnapshot,
  ServerUpdate,
  StatsSnapshot,
} from './api-types.js';

export class AdminError extends Error {
  /** HTTP status when the API answered, else null (connection failed, timeout). */
  readonly status: number | null;

  constructor(message: string, status: number | null) {
    super(message);
    this.name = 'AdminError';
    this.status = status;
  }
}

export interface AdminClientOptions {
  /** e.g. http://127.0.0.1:8081 */
  url: string;
  token?: string | null;
  timeoutMs?: number;
}

export class AdminClient {
  readonly url: string;
  readonly #http: Got;

  constructor({ url, token = null, timeoutMs = 3000 }: AdminClientOptions) {
    this.url = url.replace(/\/+$/, '');
    this.#http = got.extend({
      prefixUrl: this.url,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      timeout: { request: timeoutMs },
      // The poller has its own backoff; a retried poll would only overlap the next one.
      retry: { limit: 0 },
      responseType: 'json',
    });
  }

  stats(): Promise<StatsSnapshot> {
    return this.#call('GET', 'lb/stats');
  }

  /** Requests and events; with `sinceEventId`, only events after it (the viewers' cursor). */
  history(sinceEventId?: number): Promise<HistoryResponse> {
    return this.#call('GET', sinceEventId === undefined ? 'lb/history' : `lb/history?since=${sinceEventId}`);
  }

  async addServer(server: { host: string; port: number; weight?: number }): Promise<ServerSnapshot> {
    return (await this.#call<ServerChangeResponse>('POST', 'lb/add-server', server)).server;
  }

  async removeServer(id: string): Promise<ServerSnapshot> {
    return (await this.#call<ServerRemovedResponse>('DELETE', `api/servers/${encodeURIComponent(id)}`)).removed;
  }

  async updateServer(id: string, update: ServerUpdate): Promise<ServerSnapshot> {
    return (await this.#call<ServerChangeResponse>('PATCH', `api/servers/${encodeURIComponent(id)}`, update)).server;
  }

  setAlgorithm(algorithm: AlgorithmName): Promise<AlgorithmSwitchResponse> {
    return this.#call('POST', 'lb/algorithm', { algorithm });
  }

  async reset(): Promise<void> {
    await this.#call('POST', 'lb/reset');
  }

  async #call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, json?: unknown): Promise<T> {
    try {
      // Changes always say JSON, body or not: the admin API refuses them otherwise (its browser guard).
      const body = json === undefined ? (method === 'POST' ? { json: {} } : { headers: { 'content-type': 'application/json' } }) : { json };
      const response = await this.#http<T>(path, { method, ...body });
      return response.body;
    } catch (err) {
      throw toAdminError(err, `${this.url}/${path}`);
    }
  }
}

function toAdminError(err: unknown, url: string): AdminError {
  if (err instanceof HTTPError) {
    const body = err.response.body as { error?: { message?: unknown } } | undefined;
    const message = typeof body?.error?.message === 'string' ? body.error.message : `HTTP ${err.response.statusCode}`;
    return new AdminError(message, err.response.statusCode);
  }
  if (err instanceof RequestError) {
    const why = err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ETIMEDOUT' ? 'timed out' : (err.code ?? err.message);
    return new AdminError(`cannot reach ${url}: ${why}`, null);
  }
  return new AdminError(err instanceof Error ? err.message : String(err), null);
}

/**
 * The page's client for the admin API, typed by the contract every client shares
 * (src/shared/api-types.ts): one method per call the page makes, as `AdminClient` has for the monitor.
 * Same origin, so no URL; a bearer token when the balancer wants one. Every failure is an ApiError with
 * the API's own message, or "unreachable" when no answer came.
 */
import type {
  AlgorithmName,
  AlgorithmSwitchResponse,
  HistoryResponse,
  LoadTestSpec,
  LoadTestStatus,
  ResetResponse,
  ServerChangeResponse,
  ServerRemovedResponse,
  ServerRequestBody,
  ServerUpdate,
  StatsSnapshot,
} from '../shared/api-types.js';

export class ApiError extends Error {
  /** HTTP status when the API answered, 0 when it could not be reached. */
  readonly status: number;

  constructor(message: string, status: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

const serverPath = (id: string): string => `/api/servers/${encodeURIComponent(id)}`;

export class AdminApi {
  #token: string | null;
  readonly #onUnauthorized: () => void;

  /** `onUnauthorized` runs on every 401: the page asks for the token. */
  constructor(token: string | null, onUnauthorized: () => void) {
    this.#token = token;
    this.#onUnauthorized = onUnauthorized;
  }

  useToken(token: string | null): void {
    this.#token = token;
  }

  stats(): Promise<StatsSnapshot> {
    return this.#request('GET', '/lb/stats');
  }

  history(): Promise<HistoryResponse> {
    return this.#request('GET', '/lb/history');
  }

  addServer(body: ServerRequestBody): Promise<ServerChangeResponse> {
    return this.#request('POST', '/lb/add-server', body);
  }

  updateServer(id: string, update: ServerUpdate): Promise<ServerChangeResponse> {
    return this.#request('PATCH', serverPath(id), update);
  }

  removeServer(id: string): Promise<ServerRemovedResponse> {
    return this.#request('DELETE', serverPath(id));
  }

  setAlgorithm(algorithm: AlgorithmName): Promise<AlgorithmSwitchResponse> {
    return this.#request('POST', '/lb/algorithm', { algorithm });
  }

  reset(): Promise<ResetResponse> {
    return this.#request('POST', '/lb/reset');
  }

  loadTest(): Promise<LoadTestStatus> {
    return this.#request('GET', '/api/loadtest');
  }

  startLoadTest(spec: LoadTestSpec): Promise<LoadTestStatus> {
    return this.#request('POST', '/api/loadtest', spec);
  }

  stopLoadTest(): Promise<LoadTestStatus> {
    return this.#request('POST', '/api/loadtest/stop');
  }

  /** The answer is trusted to be `T`: the balancer and this page are built from one contract. */
  async #request<T>(method: Method, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.#token !== null) headers.authorization = `Bearer ${this.#token}`;
    // The admin API refuses changes without a JSON content type (what keeps other sites' pages out).
    if (method !== 'GET') headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? null : JSON.stringify(body) });
    } catch {
      throw new ApiError('the balancer is unreachable', 0);
    }
    const data: unknown = await res.json().catch(() => null);
    if (res.status === 401) {
      this.#onUnauthorized();
      throw new ApiError('the admin API needs its token', 401);
    }
    if (!res.ok) throw new ApiError(errorMessageOf(data) ?? `HTTP ${res.status}`, res.status);
    return data as T;
  }
}

/** The message of an `ApiErrorBody`, if that is what came. */
function errorMessageOf(data: unknown): string | null {
  if (typeof data !== 'object' || data === null || !('error' in data)) return null;
  const error: unknown = data.error;
  if (typeof error !== 'object' || error === null || !('message' in error)) return null;
  return typeof error.message === 'string' ? error.message : null;
}

/**
 * Typed errors with stable codes. Callers switch on `code`, never on message text; the HTTP status and
 * the CLI exit code for each code live here, once.
 */

export type LbErrorCode =
  | 'LB_USAGE'
  | 'LB_CONFIG_INVALID'
  | 'LB_LISTEN_FAILED'
  | 'LB_ADMIN_REQUEST'
  | 'LB_TARGET_UNREACHABLE'
  | 'LB_THRESHOLD_CROSSED'
  | 'LB_INTERRUPTED'
  | 'LB_BAD_REQUEST'
  | 'LB_UNAUTHORIZED'
  | 'LB_NOT_FOUND'
  | 'LB_METHOD_NOT_ALLOWED'
  | 'LB_CONFLICT'
  | 'LB_PAYLOAD_TOO_LARGE'
  | 'LB_FORBIDDEN'
  | 'LB_MISDIRECTED'
  | 'LB_UNSUPPORTED_MEDIA_TYPE'
  | 'LB_HEADERS_TOO_LARGE'
  | 'LB_RATE_LIMITED'
  | 'LB_INTERNAL'
  | 'LB_PROXY_INTERNAL'
  | 'LB_UPSTREAM_BAD_RESPONSE'
  | 'LB_CLIENT_GONE'
  | 'LB_CLIENT_TIMEOUT'
  | 'LB_HTTP_VERSION'
  | 'LB_NO_AVAILABLE_SERVER'
  | 'LB_QUEUE_FULL'
  | 'LB_QUEUE_TIMEOUT'
  | 'LB_UPSTREAM_CONNECT'
  | 'LB_UPSTREAM_ERROR'
  | 'LB_UPSTREAM_TIMEOUT'
  | 'LB_STORE_UNAVAILABLE'
  | 'LB_IDLE_TIMEOUT'
  | 'LB_DRAIN_TIMEOUT';

const HTTP_STATUS: Record<LbErrorCode, number> = {
  LB_USAGE: 400,
  LB_CONFIG_INVALID: 400,
  LB_LISTEN_FAILED: 500,
  LB_ADMIN_REQUEST: 502,
  LB_TARGET_UNREACHABLE: 502,
  LB_THRESHOLD_CROSSED: 500,
  LB_INTERRUPTED: 500,
  LB_BAD_REQUEST: 400,
  LB_UNAUTHORIZED: 401,
  LB_NOT_FOUND: 404,
  LB_METHOD_NOT_ALLOWED: 405,
  LB_CONFLICT: 409,
  LB_PAYLOAD_TOO_LARGE: 413,
  LB_FORBIDDEN: 403,
  LB_MISDIRECTED: 421,
  LB_UNSUPPORTED_MEDIA_TYPE: 415,
  LB_HEADERS_TOO_LARGE: 431,
  LB_RATE_LIMITED: 429,
  LB_INTERNAL: 500,
  // A bug on the traffic path: the client gets a gateway error for its request, the balancer lives on.
  LB_PROXY_INTERNAL: 502,
  LB_UPSTREAM_BAD_RESPONSE: 502,
  // nginx's "client closed request": recorded, never sent (the client is gone).
  LB_CLIENT_GONE: 499,
  LB_CLIENT_TIMEOUT: 408,
  LB_HTTP_VERSION: 505,
  LB_NO_AVAILABLE_SERVER: 503,
  LB_QUEUE_FULL: 503,
  LB_QUEUE_TIMEOUT: 503,
  LB_UPSTREAM_CONNECT: 502,
  LB_UPSTREAM_ERROR: 502,
  LB_UPSTREAM_TIMEOUT: 504,
  // A cluster change while the shared store (Redis) is away: refused rather than applied on one
  // instance only; traffic keeps flowing on the last known state.
  LB_STORE_UNAVAILABLE: 503,
  // tcp mode only (a connection has no status to send): no byte either way for idle_timeout; a drained
  // server's connection cut at drain_timeout.
  LB_IDLE_TIMEOUT: 408,
  LB_DRAIN_TIMEOUT: 503,
};

/**
 * Exit codes: 2 for a wrong command line (as getopt tools do), 3 for a load test that crossed a --fail-on
 * threshold (so CI can tell it from a crash), 130 for Ctrl-C (128 + SIGINT), 1 for everything else.
 */
const EXIT_CODE: Partial<Record<LbErrorCode, number>> = { LB_USAGE: 2, LB_THRESHOLD_CROSSED: 3, LB_INTERRUPTED: 130 };

export class LbError extends Error {
  readonly code: LbErrorCode;

  constructor(code: LbErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LbError';
    this.code = code;
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }

  get exitCode(): number {
    return EXIT_CODE[this.code] ?? 1;
  }

  toJSON(): { code: LbErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isLbError(err: unknown): err is LbError {
  return err instanceof LbError;
}

export function httpStatusOf(code: LbErrorCode): number {
  return HTTP_STATUS[code];
}

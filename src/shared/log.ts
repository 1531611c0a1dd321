/**
 * A minimal levelled logger. The core receives one as a dependency and never writes to the terminal
 * itself; the command layer decides where lines go. `silentLogger` is the default for embedding and tests.
 */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Structured fields of a log line: the JSON log carries them as keys, the terminal form shows the message. */
export type LogFields = Readonly<Record<string, string | number | boolean | null>>;

export interface Logger {
  /** Lets a hot path skip building a debug message nobody will read. */
  readonly debugEnabled: boolean;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const noop = (): void => {};
export const silentLogger: Logger = { debugEnabled: false, debug: noop, info: noop, warn: noop, error: noop };

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** Human-readable lines, `HH:MM:SS LEVEL message`, for every level at or above `level` (a terminal's log). */
export function createLogger(level: LogLevel, write: (line: string) => void): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const at = (lvl: LogLevel) =>
    LOG_LEVELS.indexOf(lvl) >= threshold
      ? (message: string, _fields?: LogFields) => write(`${new Date().toISOString().slice(11, 19)} ${lvl.toUpperCase().padEnd(5)} ${message}\n`)
      : noop;
  return { debugEnabled: threshold === 0, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * A minimal levelled logger. The core receives one as a dependency and never writes to the terminal
 * itself; the command layer decides where lines go. `silentLogger` is the default for embedding and tests.
 */

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const noop = (): void => {};
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** Writes `LEVEL message` lines to `write` for every level at or above `level`. */
export function createLogger(level: LogLevel, write: (line: string) => void): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const at = (lvl: LogLevel) =>
    LOG_LEVELS.indexOf(lvl) >= threshold ? (message: string) => write(`${lvl.toUpperCase()} ${message}\n`) : noop;
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

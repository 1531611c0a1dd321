/**
 * The JSON log (pino) for when stderr is not a terminal: one object a line with time, level, a short msg
 * and the line's structured fields (server, method, path, event...), ready for a log shipper. Kept out of log.ts so that commands which never log JSON do not load pino.
 */
import { pino } from 'pino';
import type { LogLevel, Logger } from './log.js';

export function createJsonLogger(level: LogLevel, destination: NodeJS.WritableStream = process.stderr): Logger {
  const log = pino({ level, base: { app: 'lb' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  return {
    debugEnabled: log.isLevelEnabled('debug'),
    debug: (m, f) => log.debug(f ?? {}, m),
    info: (m, f) => log.info(f ?? {}, m),
    warn: (m, f) => log.warn(f ?? {}, m),
    error: (m, f) => log.error(f ?? {}, m),
  };
}

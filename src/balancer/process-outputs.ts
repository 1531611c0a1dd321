/**
 * Where an `lb serve` process (the command, or a worker it forked) writes: its logger (readable lines on
 * a terminal, pino's JSON for anything else: a file, a log shipper) and its access log. Only process entry
 * points call these; the core receives what they open.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { LbError } from '../shared/errors.js';
import { createLogger, type LogFields, type Logger, type LogLevel } from '../shared/log.js';
import { AccessLog } from './access-log.js';

export async function processLogger(level: LogLevel, worker: number | null = null): Promise<Logger> {
  const base = process.stderr.isTTY
    ? createLogger(level, (line) => process.stderr.write(line))
    : (await import('../shared/json-logger.js')).createJsonLogger(level);
  return worker === null ? base : tagged(base, worker);
}

/** A worker's lines say which worker wrote them: in the text for eyes, as a field for machines. */
function tagged(base: Logger, worker: number): Logger {
  const tag = `worker ${worker}: `;
  const wrap = (log: (m: string, f?: LogFields) => void) => (message: string, fields?: LogFields) => log(tag + message, { ...fields, worker });
  return { debugEnabled: base.debugEnabled, debug: wrap(base.debug), info: wrap(base.info), warn: wrap(base.warn), error: wrap(base.error) };
}

/** The access log for `--access-log TARGET`: a file opened for appending (workers share it), or - for stdout. */
export async function openAccessLog(target: string): Promise<AccessLog> {
  if (target === '-') return new AccessLog(process.stdout, false);
  const stream = createWriteStream(target, { flags: 'a' });
  try {
    await once(stream, 'open');
  } catch (err) {
    throw new LbError('LB_CONFIG_INVALID', `--access-log ${target}: cannot open (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return new AccessLog(stream, true);
}

/**
 * What both `lb loadtest` runs (HTTP and --tcp) do around their runner in a terminal: a progress line on
 * stderr while it runs (a TTY only, never with --json, cleared at the end), Ctrl-C stopping it early so
 * the summary covers what ran, and the one error kind to name when nothing got through.
 */
import type { EventEmitter } from 'node:events';

type Runner<P, R> = EventEmitter<{ progress: [P] }> & { run(): Promise<R>; stop(): void };

export async function runInTerminal<P, R>(runner: Runner<P, R>, json: boolean, progressLine: (progress: P) => string): Promise<R> {
  const showProgress = process.stderr.isTTY === true && !json;
  if (showProgress) runner.on('progress', (p) => process.stderr.write(`\r${progressLine(p)}\x1b[K`));
  const onSignal = (): void => runner.stop();
  process.once('SIGINT', onSignal);
  try {
    return await runner.run();
  } finally {
    process.off('SIGINT', onSignal);
    if (showProgress) process.stderr.write('\r\x1b[K');
  }
}

/** The most frequent error kind and its count (the map is never empty when this is asked). */
export function commonestError<K>(errors: ReadonlyMap<K, number>): [K, number] {
  return [...errors].sort((a, b) => b[1] - a[1])[0]!;
}

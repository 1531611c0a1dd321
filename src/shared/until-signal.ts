/**
 * For the command layer only: resolves on the first SIGINT or SIGTERM so a long-running command can close
 * its handles and return. The listeners are removed then, so a second Ctrl-C falls back to Node's default
 * and stops the process at once (the way out when a graceful close takes too long).
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/**
 * `lb loadtest`: flags only; the run, its progress line and its summary live in run.ts, loaded when the
 * command runs.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { numberOption, stringOption } from '../shared/cli-options.js';
import { DEFAULT_URL, type LoadtestFlags } from './options.js';
import { LbError } from '../shared/errors.js';

export interface LoadtestArgs extends LoadtestFlags {
  json?: boolean;
  tcp?: boolean;
  bytes?: number;
  names?: boolean;
  failOn?: string[];
  adminUrl?: string;
}

export const loadtestCommand: CommandModule<object, LoadtestArgs> = {
  command: 'loadtest',
  describe: 'load a balancer and report latency, status codes and how the load spread across its servers',
  builder: (yargs: Argv) =>
    yargs
      .option('url', { type: 'string', array: true, describe: `target URL; repeat it for several entry points (a cluster's instances), sent to in turn [default: ${DEFAULT_URL}]`, requiresArg: true })
      .option('requests', numberOption('requests', 'requests to send', { min: 1, max: 10_000_000, integer: true }, '100'))
      .option('duration', stringOption('duration', 'run for this long instead of a count: 30s, 500ms, 2m'))
      .option('concurrent', numberOption('concurrent', 'virtual clients (most requests in flight)', { min: 1, max: 10_000, integer: true }, '10'))
      .option('rate', numberOption('rate', 'open loop: requests per second on a fixed schedule (latency counted from the scheduled time)', { min: 0.1, max: 1_000_000 }))
      .option('method', stringOption('method', 'HTTP method', 'GET, or POST with a body'))
      .option('header', { type: 'string', array: true, describe: 'request header name:value (repeatable)', requiresArg: true })
      .option('body', stringOption('body', 'request body'))
      .option('body-file', stringOption('body-file', 'request body from a file'))
      .option('timeout', numberOption('timeout', 'seconds before a request counts as timed out', { min: 0.001, max: 3600 }, '10'))
      .option('path', { type: 'string', array: true, describe: 'paths to spread requests over: /a,/b, repeat the flag, or @file with one per line', requiresArg: true })
      .option('cookies', { type: 'boolean', describe: 'a cookie jar per virtual client; reports clients that reached more than one server' })
      .option('timeline', { type: 'boolean', describe: 'print the per-second mix of servers (see a failover or drain as it happened)' })
      .option('admin-url', stringOption('admin-url', "balancer admin API, to compare the spread with the servers' weights"))
      .option('fail-on', { type: 'string', array: true, describe: 'exit 3 when crossed: error-rate>1%, p99>200ms, p50, p90, p99.9, mean, max, rps<N (repeatable)', requiresArg: true })
      .option('insecure', { type: 'boolean', describe: 'HTTPS: accept any certificate (self-signed test setups)' })
      .option('json', { type: 'boolean', describe: 'print the result as JSON on stdout (and no progress line)' })
      .option('tcp', { type: 'boolean', describe: 'TCP instead of HTTP (lb serve --mode tcp): --requests connections, each sends --bytes and reads them back' })
      .option('bytes', numberOption('bytes', 'with --tcp: bytes each connection sends and expects echoed', { min: 0, max: 1024 ** 3, integer: true }, '1024'))
      .option('names', { type: 'boolean', describe: 'with --tcp: ask each server its name first (a NAME line; lb testserver --tcp answers it) for the spread; --no-names for a plain echo', default: true })
      // As oha, hey and autocannon users type them.
      .alias('c', 'concurrent')
      .alias('n', 'requests')
      .alias('z', 'duration')
      .alias('q', 'rate')
      .example('$0 loadtest --requests 50 --concurrent 5', 'or: -n 50 -c 5')
      .example('$0 loadtest --duration 30s --concurrent 50 --timeline', 'a stress test; watch a failover second by second')
      .example('$0 loadtest --url http://127.0.0.1:8080 --url http://127.0.0.1:9080 --duration 30s --timeline', 'a cluster: each instance in turn, reported per entry point')
      .example('$0 loadtest --tcp --url tcp://127.0.0.1:8080 -n 1000 -c 50 --bytes 65536', 'layer 4: connections/s, MB/s, connect time')
      .example('$0 loadtest --rate 500 --duration 10s --fail-on "p99>200ms" --fail-on "error-rate>1%"', 'a CI gate') as unknown as Argv<LoadtestArgs>,
  handler: async (args: ArgumentsCamelCase<LoadtestArgs>) => {
    if (args.tcp === true) {
      const { runTcpLoadtest } = await import('./tcp-run.js');
      await runTcpLoadtest(args);
      return;
    }
    if (args.bytes !== undefined) throw new LbError('LB_USAGE', '--bytes needs --tcp');
    const { runLoadtest } = await import('./run.js');
    await runLoadtest(args);
  },
};

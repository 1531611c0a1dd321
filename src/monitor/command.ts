/**
 * `lb monitor`: the live dashboard on a terminal; the seed's text table every interval when stdout is
 * not a terminal (or --plain); one snapshot with --once; raw JSON with --json; one scripted admin action
 * with --command. Flags only: the modes live in run.ts, imported when the command runs (got and
 * blessed-contrib cost ~500 ms to load, which `lb --help` should not pay).
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { numberOption, portOption, stringOption } from '../shared/cli-options.js';
import { LbError } from '../shared/errors.js';

const COMMANDS = ['add-server', 'remove-server'] as const;

interface MonitorArgs {
  url?: string;
  interval?: number;
  token?: string;
  plain?: boolean;
  once?: boolean;
  json?: boolean;
  command?: (typeof COMMANDS)[number];
  host?: string;
  port?: number;
  weight?: number;
}

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:8081';

export const monitorCommand: CommandModule<object, MonitorArgs> = {
  command: 'monitor',
  describe: 'live terminal dashboard of a running balancer; keys add, remove, drain and re-weight servers',
  builder: (yargs: Argv) =>
    yargs
      .option('url', stringOption('url', 'admin API of the balancer', DEFAULT_ADMIN_URL))
      .option('interval', numberOption('interval', 'seconds between updates (fractions allowed)', { min: 0.1, max: 3600 }, '2'))
      .option('token', stringOption('token', 'admin bearer token (env LB_ADMIN_TOKEN)'))
      .option('plain', { type: 'boolean', describe: 'print a text table every interval instead of the dashboard (default when not a terminal)' })
      .option('once', { type: 'boolean', describe: 'print one snapshot and exit: 0 if the balancer answered, 1 if not' })
      .option('json', { type: 'boolean', describe: 'print the raw stats JSON (with --once: once; else one line per interval)' })
      .option('command', { ...stringOption('command', 'run one admin action and exit'), choices: COMMANDS })
      .option('host', stringOption('host', 'server host, with --command'))
      .option('port', portOption('port', 'server port, with --command', '-'))
      .option('weight', numberOption('weight', 'server weight, with --command add-server', { min: 1, max: 1000, integer: true }, '1'))
      .check((args) => {
        if (args.command !== undefined && (args.host === undefined || args.port === undefined)) {
          throw new LbError('LB_USAGE', `--command ${String(args.command)} needs --host and --port`);
        }
        return true;
      })
      .example('$0 monitor --interval 3', '')
      .example('$0 monitor --once --json | jq .totals', '')
      .example('$0 monitor --command add-server --host localhost --port 3004', '') as unknown as Argv<MonitorArgs>,
  handler: async (args: ArgumentsCamelCase<MonitorArgs>) => {
    const { AdminClient, admin, runDashboard, runPlain } = await import('./run.js');
    const { formatPlain } = await import('./plain.js');
    const url = args.url ?? DEFAULT_ADMIN_URL;
    try {
      new URL(url);
    } catch {
      throw new LbError('LB_USAGE', `--url must be a URL like ${DEFAULT_ADMIN_URL}, got ${JSON.stringify(url)}`);
    }
    const token = args.token ?? process.env.LB_ADMIN_TOKEN ?? null;
    const client = new AdminClient({ url, token });
    const intervalMs = Math.round((args.interval ?? 2) * 1000);

    if (args.command !== undefined) {
      const host = args.host!;
      const port = args.port!;
      const id = `${host}:${port}`;
      if (args.command === 'add-server') {
        const server = await admin('add-server', () => client.addServer({ host, port, ...(args.weight !== undefined ? { weight: args.weight } : {}) }));
        process.stdout.write(`added ${server.id} (weight ${server.weight})\n`);
      } else {
        const server = await admin('remove-server', () => client.removeServer(id));
        process.stdout.write(`removed ${server.id}\n`);
      }
      return;
    }
    if (args.once === true) {
      const snapshot = await admin('monitor', () => client.stats());
      process.stdout.write(args.json === true ? `${JSON.stringify(snapshot, null, 2)}\n` : formatPlain(snapshot, null, new Date()));
      return;
    }
    if (args.plain === true || args.json === true || !process.stdout.isTTY) {
      await runPlain(client, intervalMs, args.json === true);
      return;
    }
    await runDashboard({ url, intervalMs, token });
  },
};

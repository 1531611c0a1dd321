/**
 * `lb monitor`: the live dashboard on a terminal; the seed's text table every interval when stdout is
 * not a terminal (or --plain); one snapshot with --once; raw JSON with --json; one scripted admin action
 * with --command. Flags only: the modes live in run.ts, imported when the command runs (got and
 * blessed-contrib cost ~500 ms to load, which `lb --help` should not pay).
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { ALGORITHM_NAMES, type AlgorithmName } from '../shared/api-types.js';
import type { AdminClient } from '../shared/admin-client.js';
import { numberOption, portOption, stringOption } from '../shared/cli-options.js';
import { LbError } from '../shared/errors.js';

/**
 * Every action of the dashboard, scriptable (HAProxy's runtime API and hatop users script them all):
 * what each needs, and the one line it prints from the API's answer.
 */
const COMMANDS = {
  'add-server': { needs: 'address', run: async (c, a) => `added ${(await c.addServer({ host: a.host!, port: a.port!, ...(a.weight !== undefined ? { weight: a.weight } : {}) })).id} (weight ${a.weight ?? 1})` },
  'remove-server': { needs: 'server', run: async (c, a) => `removed ${(await c.removeServer(serverOf(a))).id}` },
  drain: { needs: 'server', run: async (c, a) => stateLine(await c.updateServer(serverOf(a), { drain: true })) },
  undrain: { needs: 'server', run: async (c, a) => stateLine(await c.updateServer(serverOf(a), { drain: false })) },
  weight: { needs: 'server', run: async (c, a) => stateLine(await c.updateServer(serverOf(a), { weight: a.weight ?? needWeight() })) },
  algorithm: { needs: 'algorithm', run: async (c, a) => { const r = await c.setAlgorithm(a.algorithm!); return `algorithm ${r.previous} -> ${r.algorithm}`; } },
  reset: { needs: 'nothing', run: async (c) => (await c.reset(), 'counters reset') },
} satisfies Record<string, { needs: 'address' | 'server' | 'algorithm' | 'nothing'; run(client: AdminClient, args: MonitorArgs): Promise<string> }>;

type CommandName = keyof typeof COMMANDS;

/** `--server ID` or `--host H --port P` (the id of an unnamed server is host:port). */
function serverOf(args: MonitorArgs): string {
  return args.server ?? `${args.host}:${args.port}`;
}

function needWeight(): never {
  throw new LbError('LB_USAGE', '--command weight needs --weight N');
}

function stateLine(server: { id: string; state: string; weight: number }): string {
  return `${server.id}: ${server.state}, weight ${server.weight}`;
}

interface MonitorArgs {
  url?: string;
  interval?: number;
  token?: string;
  plain?: boolean;
  once?: boolean;
  json?: boolean;
  command?: CommandName;
  server?: string;
  algorithm?: AlgorithmName;
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
      .option('command', { ...stringOption('command', 'run one admin action, print the answer, exit 0 (or 1 when refused)'), choices: Object.keys(COMMANDS) })
      .option('server', stringOption('server', 'server id or host:port, with --command remove-server, drain, undrain, weight'))
      .option('host', stringOption('host', 'server host, with --command add-server (or instead of --server)'))
      .option('port', portOption('port', 'server port, with --command add-server (or instead of --server)'))
      .option('weight', numberOption('weight', 'server weight, with --command add-server or weight', { min: 1, max: 1000, integer: true }))
      .option('algorithm', { ...stringOption('algorithm', 'with --command algorithm'), choices: ALGORITHM_NAMES })
      .check((args) => {
        const name = args.command as CommandName | undefined;
        if (name === undefined) return true;
        const needs = COMMANDS[name].needs;
        const hasAddress = args.host !== undefined && args.port !== undefined;
        if (needs === 'address' && !hasAddress) throw new LbError('LB_USAGE', `--command ${name} needs --host and --port`);
        if (needs === 'server' && args.server === undefined && !hasAddress) throw new LbError('LB_USAGE', `--command ${name} needs --server ID (or --host and --port)`);
        if (needs === 'algorithm' && args.algorithm === undefined) throw new LbError('LB_USAGE', `--command ${name} needs --algorithm NAME`);
        if (name === 'weight' && args.weight === undefined) needWeight();
        return true;
      })
      .example('$0 monitor --interval 3', '')
      .example('$0 monitor --once --json | jq .totals', '')
      .example('$0 monitor --command add-server --host localhost --port 3004', '')
      .example('$0 monitor --command drain --server api-2', 'also: undrain, weight --weight 5, algorithm --algorithm p2c, reset') as unknown as Argv<MonitorArgs>,
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
      const name = args.command;
      process.stdout.write(`${await admin(name, () => COMMANDS[name].run(client, args))}\n`);
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

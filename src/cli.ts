/**
 * The `lb` command line. `buildCli(argv)` parses without running anything (tests use it); `main(argv)`
 * runs a command and is the ONLY place that sets the exit code or prints a fatal error:
 * 2 for a wrong command line, 1 for a bad config or a failure to start, 0 otherwise.
 */
import yargs, { type Argv } from 'yargs';
import { serveCommand } from './balancer/command.js';
import { closestName } from './balancer/settings/kinds.js';
import { demoCommand } from './demo/command.js';
import { loadtestCommand } from './loadtest/command.js';
import { monitorCommand } from './monitor/command.js';
import { LbError, isLbError } from './shared/errors.js';
import { VERSION } from './shared/version.js';
import { testServerCommand } from './testserver/command.js';

export function buildCli(argv: readonly string[]): Argv {
  const cli = yargs([...argv])
    .scriptName('lb')
    .usage('$0 <command> [options]\n\nTerminal-first HTTP load balancer toolkit.')
    .command(serveCommand)
    .command(monitorCommand)
    .command(loadtestCommand)
    .command(testServerCommand)
    .command(demoCommand)
    .demandCommand(1, 'name a command: serve, monitor, loadtest, testserver or demo')
    .recommendCommands()
    .strict()
    .version(VERSION)
    .help()
    .alias('h', 'help')
    // Options take their values as text and check them themselves (durations like 2s, numbers with
    // bounds): "[string]" after a port or a timeout would mislead.
    .updateStrings({ string: 'value' })
    .wrap(Math.min(120, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((message: string | null, err: Error | undefined) => {
      // yargs wraps what an option's coerce throws in its own YError: that is a usage error too.
      if (err !== undefined && err.name !== 'YError') throw err;
      let text = (err?.message ?? message ?? 'bad command line').replace(/\s*\n\s*/g, ' ');
      if (text.startsWith('Did you mean')) text = `unknown command ${JSON.stringify(argv[0])}. ${text}`;
      const unknown = /^Unknown arguments?: (.+)$/.exec(text)?.[1];
      if (unknown !== undefined) {
        // yargs names a mistyped --some-flag twice (some-flag, someFlag): once is enough.
        const names = unknown.split(', ').filter((name, _i, all) => !/[A-Z]/.test(name) || !all.includes(name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)));
        text = `Unknown argument${names.length > 1 ? 's' : ''}: ${names.join(', ')}`;
        // yargs suggests commands but not options: "--algoritm" deserves the same help as "serv".
        // Among the kebab-case names: yargs also lists each camelCase alias and one-letter alias.
        const near = closestName(names[0] ?? '', definedOptions(cli).filter((name) => name.length > 1 && name === name.toLowerCase()));
        if (near !== undefined) text += ` (did you mean --${near}?)`;
      }
      throw new LbError('LB_USAGE', text);
    });
  skipHelpPrerender(cli);
  return cli;
}

/** Every option name the running command defines: yargs has getOptions() but leaves it out of its types. */
function definedOptions(cli: Argv): string[] {
  const options = (cli as unknown as { getOptions?(): { key?: Record<string, unknown> } }).getOptions?.();
  return Object.keys(options?.key ?? {});
}

/** The part of yargs' internals that skipHelpPrerender reaches (not in its public types). */
interface YargsInternals {
  getInternalMethods?(): { getUsageInstance?(): { cacheHelpMessage?: () => void } } | undefined;
}

/**
 * yargs renders a command's whole help text just as the command starts, in case the command asks for it
 * later; no lb command does (errors go through .fail, `--help` renders it when asked). For `lb serve`
 * and its ~60 options that render (cliui, string-width) took 150-300 ms of a ~900 ms start on the main
 * thread while the balancer was starting. If a yargs version lacks this internal, nothing changes.
 */
function skipHelpPrerender(cli: Argv): void {
  const usage = (cli as unknown as YargsInternals).getInternalMethods?.()?.getUsageInstance?.();
  if (usage !== undefined && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

/**
 * `lb monitor --json | head -c 400` closes our stdout: that is the reader saying "enough", not an
 * error. End at once and quietly, as `yes | head` does.
 */
function endQuietlyWhenStdoutCloses(): void {
  const onError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EPIPE') throw err;
    process.exitCode ??= 0;
    process.exit();
  };
  process.stdout.on('error', onError);
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

export async function main(argv: readonly string[]): Promise<void> {
  endQuietlyWhenStdoutCloses();
  try {
    await buildCli(argv).parseAsync();
  } catch (err) {
    if (isLbError(err)) {
      const command = ['serve', 'monitor', 'loadtest', 'testserver', 'demo'].find((c) => c === argv[0]);
      const hint = err.code === 'LB_USAGE' ? ` (see lb ${command === undefined ? '' : `${command} `}--help)` : '';
      process.stderr.write(`lb: ${err.message}${hint}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`lb: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  }
}

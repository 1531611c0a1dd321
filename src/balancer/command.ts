/** `lb serve`: flags -> loadConfig -> startBalancer, then wait for a signal and close. No logic of its own. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { stringOption } from '../shared/cli-options.js';
import { openAccessLog, processLogger } from './process-outputs.js';
import { untilSignal } from '../shared/until-signal.js';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { loadConfig, type ConfigFlags } from './config.js';
import { withSettingOptions } from './settings/options.js';
import { describeReport } from './control/describe-report.js';
import type { BalancerHandle } from './balancer.js';
import type { PrimaryHandle } from './workers/primary.js';

interface ServeArgs extends ConfigFlags {
  servers?: string;
  watch?: boolean;
  accessLog?: string;
}

export const DEFAULT_SERVERS_FILE = 'servers.json';

export const serveCommand: CommandModule<object, ServeArgs> = {
  command: 'serve',
  describe: 'run the load balancer (traffic port + admin API)',
  builder: (yargs: Argv) =>
    withSettingOptions(yargs)
      .option('servers', stringOption('servers', 'servers list or config file (JSON)', DEFAULT_SERVERS_FILE))
      .option('access-log', stringOption('access-log', 'one JSON line per request to this file, or - for stdout'))
      .option('watch', { type: 'boolean', describe: 'reload the servers file when it changes (SIGHUP always reloads)' })
      .example('$0 serve --servers servers.json --algorithm least_connections', '')
      .example('$0 serve --algorithm consistent_hash --hash-key header:x-user-id', '')
      .example('$0 serve --algorithm weighted --sticky cookie', 'LB_STICKY_SECRET shares cookies between instances')
      .example('$0 serve --rate-limit 50 --rate-limit-burst 100', '50 req/s per client IP, bursts of 100, then 429')
      .example('LB_PORT=9000 $0 serve', 'flags > env > file > defaults; every flag has an LB_ variable')
      .example('$0 serve --health-interval 500ms --timeout 2s', 'durations: 500ms, 2s, 1m, or seconds')
      .example('$0 serve --workers auto', 'one proxy process per core, one balancer')
      .example('$0 serve --mode tcp --servers redis.json', 'layer 4: balance connections to any TCP service') as unknown as Argv<ServeArgs>,
  handler: async (args: ArgumentsCamelCase<ServeArgs>) => {
    const serversFile = args.servers ?? DEFAULT_SERVERS_FILE;
    const load = () => loadConfig({ flags: args, env: process.env, serversFile, required: args.servers !== undefined });
    const config = await load();
    const logger = await processLogger(config.logLevel);
    for (const warning of config.warnings) logger.warn(`${config.serversFile ?? 'config'}: ${warning}`);
    if (config.serversFile === null) logger.warn(`no ${serversFile} here: starting with no servers (add some with POST /lb/add-server)`);
    // Loaded here, not at the top: `lb --help` should not pay for undici, prom-client and the rest.
    // The dashboard's built-in tests run the same runner as `lb loadtest`, wired in here.
    const { createLoadTestControl } = await import('../loadtest/embedded.js');
    let balancer: PrimaryHandle | BalancerHandle;
    if (config.workers > 1) {
      const { startPrimary } = await import('./workers/primary.js');
      balancer = await startPrimary(config, { logger, loadTests: createLoadTestControl, accessLog: args.accessLog ?? null });
    } else {
      const accessLog = args.accessLog === undefined ? undefined : await openAccessLog(args.accessLog);
      const { startBalancer } = await import('./balancer.js');
      balancer = await startBalancer(config, { logger, loadTests: createLoadTestControl, ...(accessLog ? { accessLog } : {}) });
    }

    // Reload: re-read the same sources; a bad file is logged and the running config kept.
    let reloading = Promise.resolve();
    const reload = (why: string): void => {
      reloading = reloading.then(async () => {
        try {
          const next = await load();
          const r = balancer.reload(next);
          // With --workers, logged once every worker runs the new config.
          await balancer.settled();
          logger.info(`reloaded (${why}): ${describeReport(r)}`);
          if (r.needsRestart.length) logger.warn(`changed but only applied on restart: ${r.needsRestart.join(', ')}`);
        } catch (err) {
          logger.error(`reload (${why}) failed, keeping the running config: ${(err as Error).message}`);
        }
      });
    };
    const onHup = (): void => reload('SIGHUP');
    process.on('SIGHUP', onHup);
    const watcher = args.watch === true && config.serversFile !== null ? watchFile(config.serversFile, () => reload('file changed')) : null;
    // Printed last: once these lines are out, SIGHUP and file changes are already handled.
    process.stdout.write(
      `lb serve: ${balancer.url} -> ${balancer.pool.size} server(s), ${balancer.algorithm()}${config.workers > 1 ? `, ${config.workers} workers` : ''}\n` +
        `admin API: ${balancer.adminUrl}/lb/stats\n` +
        `dashboard: ${balancer.adminUrl}/\n`,
    );

    const signal = await untilSignal();
    process.off('SIGHUP', onHup);
    watcher?.close();
    logger.info(`${signal}: finishing in-flight requests (up to ${config.shutdownTimeoutMs / 1000} s; Ctrl-C again to stop now)`);
    await reloading;
    await balancer.close();
  },
};

/** Watches the file's folder, not the file: editors replace files by renaming, which ends a file watch. */
function watchFile(path: string, onChange: () => void): FSWatcher {
  let timer: NodeJS.Timeout | null = null;
  return watch(dirname(path), (_event, name) => {
    if (name !== basename(path)) return;
    // Editors write in several steps: reload once things are quiet.
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(onChange, 200);
  });
}

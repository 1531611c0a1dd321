/** `lb serve`: flags -> loadConfig -> startBalancer, then wait for a signal and close. No logic of its own. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { ALGORITHM_NAMES } from '../shared/api-types.js';
import { numberOption, portOption, stringOption } from '../shared/cli-options.js';
import { createLogger, LOG_LEVELS } from '../shared/log.js';
import { untilSignal } from '../shared/until-signal.js';
import { createWriteStream, watch, type FSWatcher } from 'node:fs';
import { once } from 'node:events';
import { basename, dirname } from 'node:path';
import { LbError } from '../shared/errors.js';
import { AccessLog } from './access-log.js';
import { loadConfig, SERVER_HEADER_MODES, STICKY_MODES, type ConfigFlags } from './config.js';
import { HASH_KEY_HELP } from './hash-key.js';
import { describeReport } from './control/describe-report.js';

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
    yargs
      .option('port', portOption('port', 'traffic port (env LB_PORT)', '8080'))
      .option('host', stringOption('host', 'traffic interface (env LB_HOST)', '0.0.0.0'))
      .option('admin-port', portOption('admin-port', 'admin API port (env LB_ADMIN_PORT)', '8081'))
      .option('admin-host', stringOption('admin-host', 'admin API interface (env LB_ADMIN_HOST)', '127.0.0.1'))
      .option('admin-token', stringOption('admin-token', 'bearer token required by the admin API (env LB_ADMIN_TOKEN); needed off loopback'))
      .option('servers', stringOption('servers', 'servers list or config file (JSON)', DEFAULT_SERVERS_FILE))
      .option('algorithm', { ...stringOption('algorithm', 'balancing algorithm (env LB_ALGORITHM)', 'round_robin'), choices: ALGORITHM_NAMES })
      .option('timeout', numberOption('timeout', 'seconds to wait for a server\'s response headers -> 504', { min: 0.001, max: 3600 }, '30'))
      .option('connect-timeout', numberOption('connect-timeout', 'seconds to connect to a server', { min: 0.001, max: 600 }, '5'))
      .option('retries', numberOption('retries', 'extra attempts on other servers when a connection fails', { min: 0, max: 10, integer: true }, '2'))
      .option('health-check', { type: 'boolean', describe: 'active health checks (--no-health-check to turn off) [default: true]' })
      .option('health-path', stringOption('health-path', 'path probed on each server', '/health'))
      .option('health-interval', numberOption('health-interval', 'seconds between checks of a server', { min: 0.1, max: 3600 }, '2'))
      .option('health-timeout', numberOption('health-timeout', 'seconds before a check counts as failed', { min: 0.01, max: 600 }, '1'))
      .option('max-conns', numberOption('max-conns', 'most requests in flight per server, 0 = no limit; more wait in a queue', { min: 0, max: 1_000_000, integer: true }, '0'))
      .option('hash-key', stringOption('hash-key', `consistent_hash key: ${HASH_KEY_HELP}`, 'ip'))
      .option('sticky', { ...stringOption('sticky', 'sticky sessions', 'off'), choices: STICKY_MODES })
      .option('sticky-cookie', stringOption('sticky-cookie', 'sticky session cookie name', 'lb_session'))
      .option('sticky-ttl', numberOption('sticky-ttl', 'seconds a sticky session lives (cookie Max-Age, idle timeout)', { min: 1, max: 31_536_000 }, '1800'))
      .option('tls-cert', stringOption('tls-cert', 'PEM certificate (chain): serve HTTPS on the traffic port'))
      .option('tls-key', stringOption('tls-key', 'PEM private key for --tls-cert'))
      .option('upstream-ca', stringOption('upstream-ca', 'PEM CA bundle to verify servers marked "tls": true'))
      .option('upstream-insecure', { type: 'boolean', describe: 'accept any certificate from HTTPS servers (self-signed tests only)' })
      .option('admin-cors', stringOption('admin-cors', 'origins allowed to call the admin API from a browser, comma-separated, or *'))
      .option('allow-hosts', stringOption('allow-hosts', 'risky server addresses allowed anyway (link-local, cloud metadata), comma-separated'))
      .option('server-header', { ...stringOption('server-header', 'what the x-lb-server response header says', 'id'), choices: SERVER_HEADER_MODES })
      .option('max-headers', numberOption('max-headers', 'most header fields in a request -> 431', { min: 1, max: 10_000, integer: true }, '100'))
      .option('max-header-size', numberOption('max-header-size', 'most bytes of request line and headers -> 431', { min: 1024, max: 1_048_576, integer: true }, '16384'))
      .option('max-conns-per-client', numberOption('max-conns-per-client', 'most open connections per client address, 0 = no limit', { min: 0, max: 1_000_000, integer: true }, '0'))
      .option('client-body-timeout', numberOption('client-body-timeout', 'seconds a client may pause while sending its request body -> 408', { min: 0.1, max: 3600 }, '60'))
      .option('rate-limit', numberOption('rate-limit', 'requests per second per client -> 429 beyond, 0 = off', { min: 0, max: 10_000_000 }, '0'))
      .option('rate-limit-burst', numberOption('rate-limit-burst', 'requests a client may send at once', { min: 1, max: 10_000_000, integer: true }, 'one second\'s worth'))
      .option('rate-limit-key', stringOption('rate-limit-key', `what identifies a client for --rate-limit: ${HASH_KEY_HELP}`, 'ip'))
      .option('state-file', stringOption('state-file', 'keep runtime changes (servers added, removed, re-weighted, drained; the algorithm) in this file across restarts (env LB_STATE_FILE)'))
      .option('access-log', stringOption('access-log', 'one JSON line per request to this file, or - for stdout'))
      .option('watch', { type: 'boolean', describe: 'reload the servers file when it changes (SIGHUP always reloads)' })
      .option('log-level', { ...stringOption('log-level', 'log level (env LOG_LEVEL)', 'info'), choices: LOG_LEVELS })
      .example('$0 serve --servers servers.json --algorithm least_connections', '')
      .example('$0 serve --algorithm consistent_hash --hash-key header:x-user-id', '')
      .example('$0 serve --algorithm weighted --sticky cookie', 'LB_STICKY_SECRET shares cookies between instances')
      .example('$0 serve --rate-limit 50 --rate-limit-burst 100', '50 req/s per client IP, bursts of 100, then 429')
      .example('LB_PORT=9000 $0 serve', 'flags > env > file > defaults') as unknown as Argv<ServeArgs>,
  handler: async (args: ArgumentsCamelCase<ServeArgs>) => {
    const serversFile = args.servers ?? DEFAULT_SERVERS_FILE;
    const load = () => loadConfig({ flags: args, env: process.env, serversFile, required: args.servers !== undefined });
    const config = await load();
    // A terminal gets readable lines; anything else (a file, a log shipper) gets pino's JSON.
    const logger = process.stderr.isTTY
      ? createLogger(config.logLevel, (line) => process.stderr.write(line))
      : (await import('../shared/json-logger.js')).createJsonLogger(config.logLevel);
    for (const warning of config.warnings) logger.warn(`${config.serversFile ?? 'config'}: ${warning}`);
    if (config.serversFile === null) logger.warn(`no ${serversFile} here: starting with no servers (add some with POST /lb/add-server)`);
    const accessLog = args.accessLog === undefined ? undefined : await openAccessLog(args.accessLog);
    // Loaded here, not at the top: `lb --help` should not pay for undici, prom-client and the rest.
    const { startBalancer } = await import('./balancer.js');
    // The dashboard's built-in tests run the same runner as `lb loadtest`, wired in here.
    const { createLoadTestControl } = await import('../loadtest/embedded.js');
    const balancer = await startBalancer(config, { logger, loadTests: createLoadTestControl, ...(accessLog ? { accessLog } : {}) });

    // Reload: re-read the same sources; a bad file is logged and the running config kept.
    let reloading = Promise.resolve();
    const reload = (why: string): void => {
      reloading = reloading.then(async () => {
        try {
          const next = await load();
          const r = balancer.reload(next);
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
      `lb serve: ${balancer.url} -> ${balancer.pool.size} server(s), ${balancer.algorithm()}\n` +
        `admin API: ${balancer.adminUrl}/lb/stats\n`,
    );

    const signal = await untilSignal();
    process.off('SIGHUP', onHup);
    watcher?.close();
    logger.info(`${signal}: finishing in-flight requests (up to ${config.shutdownTimeoutMs / 1000} s; Ctrl-C again to stop now)`);
    await reloading;
    await balancer.close();
  },
};

async function openAccessLog(target: string): Promise<AccessLog> {
  if (target === '-') return new AccessLog(process.stdout, false);
  const stream = createWriteStream(target, { flags: 'a' });
  try {
    await once(stream, 'open');
  } catch (err) {
    throw new LbError('LB_CONFIG_INVALID', `--access-log ${target}: cannot open (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return new AccessLog(stream, true);
}

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

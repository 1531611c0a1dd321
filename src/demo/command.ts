/**
 * `lb demo`: the first command a newcomer runs. Three test servers (no delay, 100 ms, 200 ms) and the
 * balancer in one process, and on a terminal the monitor on top of them; the URLs and commands to try
 * are printed (and stay on screen after the monitor closes). q or Ctrl-C stops everything.
 * It wires parts together (test servers, balancer, monitor), which only the command layer may do.
 *
 * `--cluster`: two balancer instances sharing one Redis (started here from the PATH unless `--store`
 * names one), the second on the next ports; the monitor watches the first and lists both.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { ALGORITHM_NAMES, type AlgorithmName } from '../shared/api-types.js';
import { portOption, stringOption } from '../shared/cli-options.js';
import { createLogger } from '../shared/log.js';
import { untilSignal } from '../shared/until-signal.js';
import type { BalancerHandle } from '../balancer/balancer.js';
import { resolveConfig } from '../balancer/config.js';
import type { TestServerHandle } from '../testserver/server.js';

interface DemoArgs {
  cluster?: boolean;
  store?: string;
  port?: number;
  adminPort?: number;
  serverPort?: number;
  algorithm?: string;
  monitor?: boolean;
}

const DEMO_DELAYS_MS = [0, 100, 200];

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'start three test servers and the balancer in one process, and show what to try',
  builder: (yargs: Argv) =>
    yargs
      .option('port', portOption('port', 'balancer traffic port', '8080'))
      .option('admin-port', portOption('admin-port', 'admin API port', '8081'))
      .option('server-port', portOption('server-port', 'first test server port (three in a row)', '3001'))
      .option('algorithm', { ...stringOption('algorithm', 'balancing algorithm', 'round_robin'), choices: ALGORITHM_NAMES })
      .option('monitor', { type: 'boolean', describe: 'open the monitor (on a terminal) [default: true]' })
      .option('cluster', { type: 'boolean', describe: 'two balancer instances sharing state through Redis (redis-server from the PATH, or --store)' })
      .option('store', stringOption('store', 'with --cluster: an existing Redis, redis://host:port/db, instead of starting one'))
      .example('$0 demo --cluster', 'Redis, two instances, three test servers, the monitor on the cluster') as unknown as Argv<DemoArgs>,
  handler: async (args: ArgumentsCamelCase<DemoArgs>) => {
    const { startBalancer } = await import('../balancer/balancer.js');
    const { startTestServer } = await import('../testserver/server.js');
    const firstPort = args.serverPort ?? 3001;
    const servers: TestServerHandle[] = [];
    let balancer: BalancerHandle | undefined;
    let second: BalancerHandle | undefined;
    let redis: { url: string; pid: number; close(): Promise<void> } | undefined;
    const showMonitor = process.stdout.isTTY === true && args.monitor !== false;
    // Under the monitor, log lines would scribble over the screen; its event log shows the same changes.
    const logger = createLogger(showMonitor ? 'silent' : 'info', (line) => process.stderr.write(line));
    try {
      for (const [i, delayMs] of DEMO_DELAYS_MS.entries()) {
        servers.push(
          await startTestServer({ port: firstPort === 0 ? 0 : firstPort + i, name: `Server-${i + 1}`, delayMs }),
        );
      }
      // --store alone means a cluster too: on that Redis.
      const clustered = args.cluster === true || args.store !== undefined;
      if (clustered && args.store === undefined) redis = await (await import('./redis-server.js')).startRedisServer();
      const store = clustered ? (args.store ?? redis!.url) : undefined;
      const configFor = (port: number, adminPort: number) =>
        resolveConfig({
          file: servers.map((s) => ({ host: '127.0.0.1', port: s.port, name: s.name })),
          filePath: null,
          env: {},
          flags: {
            port,
            host: '127.0.0.1',
            adminPort,
            algorithm: (args.algorithm ?? 'round_robin') as AlgorithmName,
            ...(store !== undefined ? { store, cluster: 'demo' } : {}),
          },
        });
      const { createLoadTestControl } = await import('../loadtest/embedded.js');
      const port = args.port ?? 8080;
      const adminPort = args.adminPort ?? 8081;
      balancer = await startBalancer(configFor(port, adminPort), { logger, loadTests: createLoadTestControl });
      // The second instance on the next free pair of ports (8082 and 8083 by default).
      if (store !== undefined) second = await startBalancer(configFor(port === 0 ? 0 : adminPort + 1, adminPort === 0 ? 0 : adminPort + 2), { logger, loadTests: createLoadTestControl });
      const lines = [
        'lb demo is running:',
        ...servers.map((s, i) => `  test server ${s.name}  ${s.url}  (delay ${DEMO_DELAYS_MS[i]} ms)`),
        `  balancer              ${balancer.url}  (${balancer.algorithm()})`,
        `  admin API             ${balancer.adminUrl}/lb/stats`,
        `  web dashboard         ${balancer.adminUrl}/`,
        ...(second === undefined
          ? []
          : [
              `  second instance       ${second.url}  admin ${second.adminUrl}/lb/stats`,
              `  store                 ${redis !== undefined ? `${redis.url} (redis-server pid ${redis.pid}, started for the demo)` : store}, cluster "demo"`,
            ]),
        '',
        'Try, in another terminal:',
        ...(second === undefined
          ? []
          : [
              `  curl -s ${balancer.adminUrl}/lb/cluster                 # both instances, their req/s, the cluster totals`,
              `  curl -s -X PATCH ${balancer.adminUrl}/api/servers/Server-2 -H 'content-type: application/json' -d '{"drain":true}'`,
              `  curl -s ${second.adminUrl}/lb/stats                 # the drain made on one instance is on the other`,
              `  lb loadtest --url ${balancer.url} --url ${second.url} --duration 30s --timeline`,
            ]),
        `  curl -i ${balancer.url}/hello                         # x-lb-server says who answered`,
        `  for i in 1 2 3 4 5 6; do curl -s ${balancer.url}/ ; echo; done`,
        `  curl -s ${balancer.adminUrl}/lb/stats`,
        `  curl -s -X POST ${balancer.adminUrl}/lb/algorithm -H 'content-type: application/json' -d '{"algorithm":"least_connections"}'`,
        `  curl -s "${servers[0]!.url}/control?healthy=false"       # leaves rotation after 3 failed checks`,
        `  curl -s "${servers[1]!.url}/control?error_rate=0.5"      # its circuit opens: "ejected" in /lb/stats`,
        `  curl -s "${servers[2]!.url}/control?stop_ms=8000"        # goes away for 8 s: routed around, then back`,
        '',
        'Ctrl-C stops everything.',
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
      if (showMonitor) {
        // The monitor takes the screen; quitting it (q, Ctrl-C) ends the demo.
        const { runDashboard } = await import('../monitor/run.js');
        // The screen covers the lines printed above: the hints go into the event log as well.
        const hints = lines.filter((l) => /^(curl|lb) /.test(l.trimStart()));
        await runDashboard({ url: balancer.adminUrl, intervalMs: 1000, token: null, intro: ['try, in another terminal:', ...hints.map((h) => h.trim())] });
        // The block above is back on screen once the monitor leaves; one line says it is over.
        process.stdout.write(`lb demo stopped: ${second === undefined ? 'balancer' : 'both instances, Redis'} and test servers closed.\n`);
      } else {
        await untilSignal();
      }
    } finally {
      await second?.close();
      await balancer?.close();
      await redis?.close();
      await Promise.all(servers.map((s) => s.close()));
    }
  },
};

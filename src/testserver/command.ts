/** `lb testserver`: a mock backend on one port until Ctrl-C. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { numberOption, portOption, stringOption } from '../shared/cli-options.js';
import { untilSignal } from '../shared/until-signal.js';

interface TestServerArgs {
  port?: number;
  host?: string;
  name?: string;
  delay?: number;
  errorRate?: number;
  unhealthy?: boolean;
}

export const testServerCommand: CommandModule<object, TestServerArgs> = {
  command: 'testserver',
  describe: 'run a mock backend (delay, error rate, health toggle, /control endpoint)',
  builder: (yargs: Argv) =>
    yargs
      .option('port', portOption('port', 'port to listen on (0 = any free port, printed)', '3001'))
      .option('host', stringOption('host', 'interface to listen on', '127.0.0.1'))
      .option('name', stringOption('name', 'name reported in every answer', 'Server-<port>'))
      .option('delay', numberOption('delay', 'seconds to wait before each answer', { min: 0, max: 300 }, '0'))
      .option('error-rate', numberOption('error-rate', 'share of requests answered 500, 0-1', { min: 0, max: 1 }, '0'))
      .option('unhealthy', { type: 'boolean', describe: 'start with GET /health answering 503', default: false })
      .example('$0 testserver --port 3002 --delay 0.1 --error-rate 0.05', '')
      // Short lines: yargs cuts an example wider than its column in the middle of a word.
      .example('curl localhost:3002/control?set_delay_ms=500', 'slow it down while it runs')
      .example('curl localhost:3002/control?healthy=false', 'fail its health checks')
      .example('curl localhost:3002/control?stop_ms=5000', 'go away for 5 s, then come back') as unknown as Argv<TestServerArgs>,
  handler: async (args: ArgumentsCamelCase<TestServerArgs>) => {
    const { startTestServer } = await import('./server.js');
    const server = await startTestServer({
      port: args.port ?? 3001,
      host: args.host ?? '127.0.0.1',
      name: args.name,
      delayMs: (args.delay ?? 0) * 1000,
      errorRate: args.errorRate ?? 0,
      healthy: args.unhealthy !== true,
    });
    process.stdout.write(`lb testserver: ${server.name} listening on ${server.url} (port ${server.port})\n`);
    await untilSignal();
    await server.close();
  },
};

/** `lb testserver`: a mock backend on one port until Ctrl-C. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { numberOption, portOption, stringOption } from '../shared/cli-options.js';
import { untilSignal } from '../shared/until-signal.js';
import { LbError } from '../shared/errors.js';

interface TestServerArgs {
  port?: number;
  host?: string;
  name?: string;
  delay?: number;
  errorRate?: number;
  unhealthy?: boolean;
  tcp?: boolean;
  acceptProxy?: boolean;
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
      .option('tcp', { type: 'boolean', describe: 'a TCP echo server instead (first line NAME: it says its name; PEER: the client address it sees)', default: false })
      .option('accept-proxy', { type: 'boolean', describe: 'with --tcp: connections start with a PROXY v1/v2 header (lb send_proxy)', default: false })
      .example('$0 testserver --port 3002 --delay 0.1 --error-rate 0.05', '')
      // Short lines: yargs cuts an example wider than its column in the middle of a word.
      .example('curl localhost:3002/control?set_delay_ms=500', 'slow it down while it runs')
      .example('curl localhost:3002/control?healthy=false', 'fail its health checks')
      .example('curl localhost:3002/control?stop_ms=5000', 'go away for 5 s, then come back')
      .example('$0 testserver --tcp --port 4001', 'TCP echo; try: printf "NAME\\n" | nc -q1 localhost 4001') as unknown as Argv<TestServerArgs>,
  handler: async (args: ArgumentsCamelCase<TestServerArgs>) => {
    if (args.acceptProxy === true && args.tcp !== true) throw new LbError('LB_USAGE', '--accept-proxy needs --tcp');
    if (args.tcp === true) {
      const { startTcpTestServer } = await import('./tcp-server.js');
      const server = await startTcpTestServer({ port: args.port ?? 3001, host: args.host ?? '127.0.0.1', ...(args.name !== undefined ? { name: args.name } : {}), acceptProxy: args.acceptProxy === true });
      process.stdout.write(`lb testserver: ${server.name} (TCP echo${args.acceptProxy === true ? ', PROXY protocol required' : ''}) listening on ${server.url} (port ${server.port})\n`);
      await untilSignal();
      await server.close();
      return;
    }
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

/** lb testserver --tcp: echo, the NAME and PEER lines, and --accept-proxy's strictness, on real sockets. */
import { describe, expect, it } from 'vitest';
import { startTcpTestServer } from '../../src/testserver/tcp-server.js';
import { closedAfterEach } from '../helpers/servers.js';
import { exchange } from '../balancer/tcp/helpers.js';

const scope = closedAfterEach();

describe('lb testserver --tcp', () => {
  it.each([
    ['echoes bytes', 'hello', 'hello'],
    ['says its name on a first NAME line, then echoes', 'NAME\r\nabc', 'echo-1\nabc'],
    ['echoes NAME when it is not the first line', 'x\nNAME\n', 'x\nNAME\n'],
    ['echoes a first line that only starts like NAME', 'NAMES\n', 'NAMES\n'],
    ['echoes a short first line at FIN', 'NA', 'NA'],
  ])('%s', async (_name, sent, expected) => {
    const server = scope.track(await startTcpTestServer({ port: 0, name: 'echo-1' }));
    expect((await exchange(server.port, sent)).toString()).toBe(expected);
  });

  it('with --accept-proxy: reads the header, tells PEER from it, and closes a connection without one', async () => {
    const server = scope.track(await startTcpTestServer({ port: 0, acceptProxy: true }));
    expect((await exchange(server.port, 'PROXY TCP4 192.0.2.1 127.0.0.1 5000 80\r\nPEER\n')).toString()).toBe('{"address":"192.0.2.1","port":5000}\n');
    expect(server.proxyHeaders).toEqual([{ family: 'IPv4', sourceAddress: '192.0.2.1', sourcePort: 5000, destinationAddress: '127.0.0.1', destinationPort: 80 }]);
    expect((await exchange(server.port, 'PEER\n')).length).toBe(0);
    expect(server.proxyHeaders).toHaveLength(1);
  });
});

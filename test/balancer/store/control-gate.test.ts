/** The control plane's seam for a cluster store: a gate before every command, the `applied` stream after. */
import { describe, expect, it } from 'vitest';
import type { Command } from '../../../src/balancer/control/commands.js';
import { LbError } from '../../../src/shared/errors.js';
import { closedAfterEach } from '../../helpers/servers.js';

const scope = closedAfterEach();
const a = { host: '127.0.0.1', port: 3001, name: 'a' };
const b = { host: '127.0.0.1', port: 3002, name: 'b' };

describe('ControlPlane gate and applied stream', () => {
  it('a refusing gate leaves everything as it was and emits nothing; applied follows each command that took effect, after its events', async () => {
    const lb = await scope.startLb([], { file: [a, b] });
    const seen: string[] = [];
    lb.control.on('change', (e) => seen.push(`event ${e.type}`));
    lb.control.on('applied', (c: Command) => seen.push(`applied ${c.type}`));
    lb.control.setGate((command) => {
      if (command.type === 'updateServer') throw new LbError('LB_STORE_UNAVAILABLE', 'store away');
      return true;
    });
    expect(() => lb.apply({ type: 'updateServer', server: 'a', weight: 9 })).toThrow(/store away/);
    expect(lb.pool.get('a')!.weight).toBe(1);
    lb.apply({ type: 'setAlgorithm', algorithm: 'random' });
    // The gate's owner applies what it received without asking itself.
    lb.control.applyUngated({ type: 'updateServer', server: 'a', weight: 9 });
    expect(lb.pool.get('a')!.weight).toBe(9);
    expect(() => lb.apply({ type: 'updateServer', server: 'a', weight: 3 })).toThrow(/store away/);
    expect(seen).toEqual(['event algorithm-switched', 'applied setAlgorithm', 'event weight-changed', 'applied updateServer']);
  });

  it('a held health verdict changes nothing; any other command cannot be held', async () => {
    const lb = await scope.startLb([], { file: [a, b] });
    lb.control.setGate(() => false);
    const server = lb.apply({ type: 'setHealth', server: 'a', healthy: false, detail: 'quorum not reached' });
    expect(server.id).toBe('a');
    expect(lb.pool.get('a')!.healthy).toBe(true);
    expect(() => lb.apply({ type: 'removeServer', server: 'b' })).toThrow(/cannot be held/);
    expect(lb.pool.size).toBe(2);
    lb.control.setGate(null);
    lb.apply({ type: 'setHealth', server: 'a', healthy: false, detail: '3 checks failed' });
    expect(lb.pool.get('a')!.healthy).toBe(false);
  });
});

/** The shared configuration document, pure: merging concurrent commands, planning a sync, reading it back. */
import { describe, expect, it } from 'vitest';
import { ServerPool } from '../../../src/balancer/pool.js';
import { applyChange, parseSharedConfig, planSync, serialiseSharedConfig, sharedConfigOf, type SharedConfig } from '../../../src/balancer/store/shared-config.js';

const doc = (servers: Array<Partial<SharedConfig['servers'][number]> & { port: number }>): SharedConfig => ({
  algorithm: 'round_robin',
  servers: servers.map((s) => ({ host: '127.0.0.1', weight: 1, maxConns: 0, drain: false, ...s })),
});

describe('applyChange: one replicated command on the newest document', () => {
  const base = doc([{ port: 1, name: 'a' }, { port: 2, name: 'b' }]);
  it.each([
    { title: 'weight of one server keeps the other fields and servers', change: { type: 'updateServer' as const, server: 'a', weight: 5 }, ports: [1, 2], a: { weight: 5, drain: false } },
    { title: 'drain by host:port', change: { type: 'updateServer' as const, server: '127.0.0.1:1', drain: true }, ports: [1, 2], a: { weight: 1, drain: true } },
    { title: 'update of a server removed meanwhile changes nothing', change: { type: 'updateServer' as const, server: 'gone', weight: 9 }, ports: [1, 2], a: { weight: 1 } },
    { title: 'remove', change: { type: 'removeServer' as const, server: 'b' }, ports: [1], a: { weight: 1 } },
    { title: 'add', change: { type: 'addServer' as const, server: { host: '127.0.0.1', port: 3, name: 'c', weight: 2 } }, ports: [1, 2, 3], a: { weight: 1 } },
    { title: 'add on an address taken meanwhile: the earlier write stands', change: { type: 'addServer' as const, server: { host: '127.0.0.1', port: 2, name: 'other' } }, ports: [1, 2], a: { weight: 1 } },
    { title: 'a command that does not replicate (reset)', change: { type: 'reset' as const }, ports: [1, 2], a: { weight: 1 } },
  ])('$title', ({ change, ports, a }) => {
    const next = applyChange(base, change, 0);
    expect(next.servers.map((s) => s.port)).toEqual(ports);
    expect(next.servers.find((s) => s.name === 'a')).toMatchObject(a);
    expect(base.servers.map((s) => s.weight)).toEqual([1, 1]);
  });

  it('two instances changing different fields of one server both land, in version order', () => {
    const fromA = { type: 'updateServer' as const, server: 'a', weight: 7 };
    const fromB = { type: 'updateServer' as const, server: 'a', drain: true };
    const merged = [fromA, fromB].reduce((c, ch) => applyChange(c, ch, 0), base);
    expect(merged.servers[0]).toMatchObject({ weight: 7, drain: true });
  });
});

describe('planSync: the commands that turn the pool into the document', () => {
  it('removes first, then adds and updates in the document order, the algorithm last', () => {
    const pool = new ServerPool([
      { host: '127.0.0.1', port: 1, name: 'a' },
      { host: '127.0.0.1', port: 2, name: 'b' },
      { host: '127.0.0.1', port: 9, name: 'moved' },
    ]);
    const target: SharedConfig = { ...doc([{ port: 1, name: 'a', weight: 4, drain: true }, { port: 3, name: 'c', drain: true }, { port: 10, name: 'moved' }]), algorithm: 'random' };
    expect(planSync(pool.servers, 'round_robin', target)).toEqual([
      { type: 'removeServer', server: 'b' },
      { type: 'removeServer', server: 'moved' },
      { type: 'updateServer', server: 'a', weight: 4, drain: true },
      { type: 'addServer', server: { host: '127.0.0.1', port: 3, name: 'c', weight: 1, maxConns: 0 } },
      { type: 'updateServer', server: 'c', drain: true },
      { type: 'addServer', server: { host: '127.0.0.1', port: 10, name: 'moved', weight: 1, maxConns: 0 } },
      { type: 'setAlgorithm', algorithm: 'random' },
    ]);
  });

  it('nothing to do when the pool already is the document', () => {
    const pool = new ServerPool([{ host: '127.0.0.1', port: 1, name: 'a', weight: 3 }]);
    expect(planSync(pool.servers, 'weighted', sharedConfigOf(pool.servers, 'weighted'))).toEqual([]);
  });
});

describe('parseSharedConfig: reading the store back', () => {
  it('reads what serialiseSharedConfig wrote', () => {
    const config = doc([{ port: 1, name: 'a', weight: 3, drain: true }, { port: 2, tls: true }]);
    const parsed = parseSharedConfig(serialiseSharedConfig(config, 'me'), []);
    expect(parsed).toEqual({ ok: true, config, by: 'me', skipped: [] });
  });

  it.each([
    { title: 'not JSON', text: '{', reason: /not valid JSON/ },
    { title: 'a list', text: '[]', reason: /not a JSON object/ },
    { title: 'another format', text: '{"format":2,"servers":[]}', reason: /format 2 is not 1/ },
    { title: 'no format', text: '{"servers":[]}', reason: /format undefined is not 1/ },
    { title: 'servers not a list', text: '{"format":1,"servers":{}}', reason: /servers: not a list/ },
    { title: 'too many servers', text: JSON.stringify({ format: 1, servers: Array.from({ length: 10_001 }, (_, i) => ({ host: '10.0.0.1', port: (i % 60000) + 1 })) }), reason: /more than 10000/ },
    { title: 'too large', text: `{"format":1,"servers":[],"pad":"${'x'.repeat(4 * 1024 * 1024)}"}`, reason: /larger than 4194304 bytes/ },
  ])('refuses $title', ({ text, reason }) => {
    const parsed = parseSharedConfig(text, []);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(reason);
  });

  it('passes over a refused destination unless --allow-hosts names it', () => {
    const text = JSON.stringify({ format: 1, algorithm: 'p2c', servers: [{ host: '169.254.169.254', port: 80 }] });
    const refused = parseSharedConfig(text, []);
    expect(refused.ok && refused.config.servers).toEqual([]);
    expect(refused.ok && refused.skipped[0]).toMatch(/link-local/);
    const allowed = parseSharedConfig(text, ['169.254.169.254']);
    expect(allowed.ok && allowed.config.servers.map((s) => s.host)).toEqual(['169.254.169.254']);
  });
});

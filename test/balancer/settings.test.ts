/**
 * The settings table is the one declaration of every setting: these tests hold the derived parts to it
 * (flags, environment, file paths, the README table, the reload plan) and pin the behaviour it gives
 * every setting (durations with units, every error at once, "did you mean").
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/balancer/config.js';
import { envName, restartOnlyChanges, SETTINGS, type Setting } from '../../src/balancer/settings/table.js';
import { settingsMarkdown } from '../../src/balancer/settings/markdown.js';

const resolve = (file: unknown, env: Record<string, string> = {}, flags = {}) => resolveConfig({ file, filePath: null, env, flags });

describe('one declaration per setting', () => {
  it('gives every setting its own flag, LB_ variable and file path', () => {
    const unique = (values: string[]) => expect(new Set(values).size).toBe(values.length);
    unique(SETTINGS.map((s) => s.flag));
    unique(SETTINGS.map((s) => envName(s.flag)));
    unique((SETTINGS as readonly Setting[]).flatMap((s) => [s.file, ...(s.aliases ?? [])]));
    for (const s of SETTINGS) expect(s.file).toMatch(/^[a-z_]+\.[a-z_]+$/);
  });

  it('parses every default back to itself (the table cannot declare a default its own kind refuses)', () => {
    for (const s of SETTINGS) {
      if (s.default === null) continue;
      const kind = s.kind as { parse(raw: unknown): unknown; toFile(v: unknown): unknown };
      expect(kind.parse(kind.toFile(s.default)), s.file).toEqual(s.default);
    }
  });

  it('the README holds the table exactly as it is generated', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(settingsMarkdown());
  });

  it('a reload reports exactly the restart-only settings that changed', () => {
    const before = resolve({ load_balancer: { timeout: 5, max_queue: 10 }, sticky_sessions: { secret: 'a' } });
    const after = resolve({ load_balancer: { timeout: 9, max_queue: 20 }, sticky_sessions: { secret: 'b' } });
    expect(restartOnlyChanges(before, after)).toEqual(['load_balancer.max_queue', 'sticky_sessions.secret']);
  });
});

describe('what every setting gets from the table', () => {
  it('reads every source the same way: flag > LB_ variable > file, durations with units everywhere', () => {
    const file = { health_check: { interval: '1.5s', timeout: '250ms' }, circuit_breaker: { open_time: '1m' }, load_balancer: { queue_timeout: 2 } };
    const fromFile = resolve(file);
    expect([fromFile.healthCheck.intervalMs, fromFile.healthCheck.timeoutMs, fromFile.circuitBreaker.openTimeMs, fromFile.limits.queueTimeoutMs]).toEqual([1500, 250, 60_000, 2000]);
    const fromEnv = resolve(file, { LB_HEALTH_INTERVAL: '3s', LB_BREAKER_OPEN_TIME: '20', LB_MAX_QUEUE: '7', LB_HEALTH_CHECK: 'false' });
    expect([fromEnv.healthCheck.intervalMs, fromEnv.circuitBreaker.openTimeMs, fromEnv.limits.maxQueue, fromEnv.healthCheck.enabled]).toEqual([3000, 20_000, 7, false]);
    const fromFlags = resolve(file, { LB_HEALTH_INTERVAL: '3s' }, { healthInterval: '700ms', maxQueue: 9 });
    expect([fromFlags.healthCheck.intervalMs, fromFlags.limits.maxQueue]).toEqual([700, 9]);
  });

  it('lists every problem at once, one per line, each with where it came from', () => {
    let message = '';
    try {
      resolveConfig({
        file: { load_balancer: { timeout: 'soon', retries: 99 }, health_check: { rise: 0 }, servers: [{ host: 'a', port: 0 }, { host: 'b b', port: 1 }] },
        filePath: 'lb.json',
        env: { LB_MAX_QUEUE: 'lots' },
        flags: { port: -1 },
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.split('\n')).toEqual([
      '--port: must be an integer 0-65535, got -1',
      'lb.json: load_balancer.timeout: must be a duration 1ms-1h (like 2s, 500ms, 1m, or seconds), got "soon"',
      'lb.json: load_balancer.retries: must be an integer 0-10, got 99',
      'LB_MAX_QUEUE: must be an integer 0-1000000, got "lots"',
      'lb.json: health_check.rise: must be an integer 1-100, got 0',
      'lb.json: servers[0].port: must be an integer 1-65535, got 0',
      'lb.json: servers[1].host: must be a host name (letters, digits, -, _ and .) or an IP address, got "b b"',
    ]);
  });

  it('warns when a seed alias and its main key are both set, and the main key wins', () => {
    const config = resolve({ health_check: { retries: 5, fall: 2 } });
    expect(config.healthCheck.fall).toBe(2);
    expect(config.warnings).toEqual(['health_check.fall and health_check.retries both set the same thing: health_check.fall wins']);
  });

  it('names the entry a risky destination is in, whatever entries before it got wrong', () => {
    expect(() => resolve([{ host: '127.0.0.1', port: 99999 }, { host: '169.254.169.254', port: 80 }])).toThrow(
      'servers[0].port: must be an integer 1-65535, got 99999\nservers[1].host: 169.254.169.254 is a link-local address',
    );
  });

  it('suggests the close key for a server entry too', () => {
    expect(resolve([{ host: 'a', port: 1, wieght: 2 }]).warnings).toEqual(['servers[0].wieght: unknown key, ignored (did you mean weight?)']);
  });

  it('warns about unknown keys, suggesting the close one', () => {
    const config = resolve({ load_balancer: { timout: 3, colour: 'red' }, helth_check: {}, servers: [] });
    expect(config.warnings).toEqual([
      'helth_check: unknown key, ignored (did you mean health_check?)',
      'load_balancer.timout: unknown key, ignored (did you mean timeout?)',
      'load_balancer.colour: unknown key, ignored',
    ]);
  });
});

/** `--store` URLs: what is accepted, the one-line reason for what is not, and the password never shown back. */
import { describe, expect, it } from 'vitest';
import { configView } from '../../../src/balancer/control/config-view.js';
import { configFrom } from '../../../src/balancer/config.js';
import { parseRedisUrl, redactedUrl } from '../../../src/balancer/store/redis-url.js';

describe('redis URLs', () => {
  it.each([
    { url: 'redis://127.0.0.1', want: { host: '127.0.0.1', port: 6379, db: 0, username: null, password: null, tls: false } },
    { url: 'redis://redis.internal:6380/3', want: { host: 'redis.internal', port: 6380, db: 3, username: null, password: null, tls: false } },
    { url: 'rediss://:s%40cret@[::1]:7000/1', want: { host: '::1', port: 7000, db: 1, username: null, password: 's@cret', tls: true } },
    { url: 'redis://lb:pw@10.0.0.5', want: { host: '10.0.0.5', port: 6379, db: 0, username: 'lb', password: 'pw', tls: false } },
  ])('accepts $url', ({ url, want }) => {
    expect(parseRedisUrl(url)).toEqual({ ...want, url });
  });

  it.each([
    { url: 'http://127.0.0.1:6379', why: /scheme http is not redis or rediss/ },
    { url: '127.0.0.1:6379', why: /must be a redis:\/\// },
    { url: 'redis://127.0.0.1:6379/zero', why: /the path is a database number/ },
    { url: 'redis://127.0.0.1:6379/0?timeout=1', why: /no query or fragment/ },
    { url: 'redis://127.1:6379', why: /bad host/ },
    { url: 'redis://127.0.0.1:6379/99999', why: /the path is a database number/ },
    { url: `redis://${'a'.repeat(300)}`, why: /bad host/ },
  ])('refuses $url in one line', ({ url, why }) => {
    expect(() => parseRedisUrl(url)).toThrow(why);
    try {
      parseRedisUrl(url);
    } catch (err) {
      expect((err as Error).message).not.toContain('\n');
      expect((err as Error).message.length).toBeLessThan(300);
    }
  });

  it('never shows the password: logs, /lb/cluster and GET /lb/config', () => {
    expect(redactedUrl('redis://:hunter2@127.0.0.1:6379/0')).toBe('redis://:redacted@127.0.0.1:6379/0');
    const config = configFrom([], { store: 'redis://lb:hunter2@127.0.0.1:6379/2', cluster: 'prod' });
    const view = JSON.stringify(configView(config, [], 'round_robin'));
    expect(view).not.toContain('hunter2');
    expect(view).toContain('"store":{"url":"redis://lb:redacted@127.0.0.1:6379/2","cluster":"prod"}');
  });
});

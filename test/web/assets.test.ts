/**
 * The dashboard's files as the admin listener serves them, over real sockets and without a browser: the
 * page's compiled modules come from the web build's output only, as JavaScript under the CSP, every
 * import between them resolves on the server, and no request path reaches another file.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../src/balancer/balancer.js';
import { CONTENT_SECURITY_POLICY } from '../../src/balancer/web-assets.js';
import { startLb } from '../helpers/servers.js';

let lb: BalancerHandle;
let port: number;

beforeAll(async () => {
  // The page needs no server to load; port 1 refuses, and health checks are off.
  lb = await startLb([{ host: '127.0.0.1', port: 1 }]);
  port = Number(new URL(lb.adminUrl).port);
});

afterAll(() => lb?.close());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GET with the path sent exactly as written (fetch and URL would resolve `..` before sending). */
function rawGet(port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const JAVASCRIPT = 'text/javascript; charset=utf-8';

describe('web dashboard assets', () => {
  it.each([
    // What the page loads.
    ['/', 200, 'text/html; charset=utf-8'],
    ['/app/web/app.js', 200, JAVASCRIPT],
    ['/app/shared/format.js', 200, JAVASCRIPT],
    ['/assets/uplot.js', 200, JAVASCRIPT],
    // Paths that climb out of /app/, plain or encoded: the server resolves or refuses them, never reads them.
    ['/app/../../package.json', 404, undefined],
    ['/app/../package.json', 404, undefined],
    ['/app/web/../../../package.json', 404, undefined],
    ['/app/%2e%2e/%2e%2e/package.json', 404, undefined],
    ['/app/..%2f..%2fpackage.json', 404, undefined],
    ['/app/web%2f..%2f..%2f..%2fpackage.json', 404, undefined],
    ['/app/..%5c..%5cpackage.json', 404, undefined],
    // Only the web build's own .js files: no sources, no directories, no Node code, no old script.
    ['/app/web/app.ts', 404, undefined],
    ['/app/', 404, undefined],
    ['/app/web/', 404, undefined],
    ['/app//web/app.js', 404, undefined],
    ['/app/shared/admin-client.js', 404, undefined],
    ['/app/balancer/config.js', 404, undefined],
    ['/dist/browser/web/app.js', 404, undefined],
    ['/assets/app.js', 404, undefined],
  ])('GET %s -> %i', async (path, status, contentType) => {
    const answer = await rawGet(port, path);
    expect(answer.status).toBe(status);
    if (status !== 200) {
      expect(answer.body).not.toContain('devDependencies');
      return;
    }
    expect(answer.headers['content-type']).toBe(contentType);
    expect(answer.headers['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
  });

  it('every import of the page resolves to a module the server serves, relative and with .js', async () => {
    const page = await rawGet(port, '/');
    const entry = /<script type="module" src="([^"]+)"><\/script>/.exec(page.body)?.[1];
    expect(entry).toBe('/app/web/app.js');
    const seen = new Set<string>();
    const pending = [entry!];
    while (pending.length > 0) {
      const path = pending.pop()!;
      if (seen.has(path)) continue;
      seen.add(path);
      const module = await rawGet(port, path);
      expect([path, module.status, module.headers['content-type']]).toEqual([path, 200, JAVASCRIPT]);
      for (const [, specifier] of module.body.matchAll(/(?:\bfrom|^import)\s*['"]([^'"]+)['"]/gm)) {
        // A bare name (`uplot`) would need a bundler or an import map; the browser resolves only URLs.
        expect(specifier, `${path} imports ${specifier}`).toMatch(/^\.\.?\/.*\.js$/);
        pending.push(new URL(specifier!, `http://admin${path}`).pathname);
      }
    }
    // The helpers the page shares with lb monitor, and the limits it shares with the balancer.
    expect([...seen].sort()).toEqual(expect.arrayContaining(['/app/shared/format.js', '/app/shared/rates.js', '/app/shared/limits.js', '/app/web/api.js']));
  });
});

/**
 * The web dashboard's files, served by the admin listener, so it works offline with no CDN:
 *
 * - the page and its stylesheet, from web/ in the package;
 * - the page's ES modules, compiled by tsc from src/web/ (and the src/shared/ files they import) into
 *   dist/browser/ by tsconfig.web.json, served under /app/ at their path there: /app/web/app.js imports
 *   `../shared/format.js`, which the browser asks for as /app/shared/format.js. No bundler;
 * - uPlot, from node_modules.
 *
 * Only files that exist are served, each looked up by its exact path in a list made once from
 * dist/browser/ (regular .js files only): a request path is never joined onto the file system, so `..`,
 * an encoded slash or a symlink can only miss (404). Files are read once, on first use, and kept in
 * memory (a few hundred KB). Every answer carries a Content-Security-Policy that allows only this
 * origin's scripts and styles (admin.ts adds it, with `x-content-type-options: nosniff`).
 */
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  contentType: string;
}

const require = createRequire(import.meta.url);
// Two levels under the package root both as source (src/balancer/) and as built (dist/balancer/).
const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const BROWSER_DIR = fileURLToPath(new URL('../../dist/browser/', import.meta.url));
/** Where the page's modules live on the admin server; web/index.html loads /app/web/app.js. */
export const MODULE_PREFIX = '/app/';
const JAVASCRIPT = 'text/javascript; charset=utf-8';

const STATIC: Record<string, () => [string, string]> = {
  '/': () => [`${WEB_DIR}index.html`, 'text/html; charset=utf-8'],
  '/assets/style.css': () => [`${WEB_DIR}style.css`, 'text/css; charset=utf-8'],
  '/assets/uplot.js': () => [require.resolve('uplot/dist/uPlot.iife.min.js'), JAVASCRIPT],
  '/assets/uplot.css': () => [require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'],
};

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const cache = new Map<string, Promise<Asset>>();
let modules: ReadonlySet<string> | undefined;

/** The .js files of the web build, as `web/app.js`, `shared/format.js`... */
function browserModules(): ReadonlySet<string> {
  if (modules === undefined) {
    const found = new Set(listModules(BROWSER_DIR, ''));
    // Not built yet (only `tsc -p tsconfig.json` ran): look again at the next request.
    if (found.size === 0) return found;
    modules = found;
  }
  return modules;
}

function listModules(dir: string, prefix: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    if (entry.isDirectory()) return listModules(`${dir}${entry.name}/`, `${prefix}${entry.name}/`);
    return entry.isFile() && entry.name.endsWith('.js') ? [`${prefix}${entry.name}`] : [];
  });
}

function moduleOf(path: string): string | null {
  if (!path.startsWith(MODULE_PREFIX)) return null;
  const name = path.slice(MODULE_PREFIX.length);
  return browserModules().has(name) ? name : null;
}

export function isAssetPath(path: string): boolean {
  return path in STATIC || path === '/index.html' || moduleOf(path) !== null;
}

function sourceOf(key: string): [string, string] {
  const module = moduleOf(key);
  if (module !== null) return [`${BROWSER_DIR}${module}`, JAVASCRIPT];
  return STATIC[key]!();
}

export function loadAsset(path: string): Promise<Asset> {
  const key = path === '/index.html' ? '/' : path;
  let asset = cache.get(key);
  if (asset === undefined) {
    const [file, contentType] = sourceOf(key);
    asset = readFile(file).then((body) => ({ body, contentType }));
    // A failed read (a broken install) is not cached: the next request tries again.
    asset.catch(() => cache.delete(key));
    cache.set(key, asset);
  }
  return asset;
}

/**
 * The web dashboard's files, served by the admin listener: the page (web/ in the package) and uPlot
 * from node_modules, so it works offline with no CDN. Read once, on first use, and kept in memory (a few
 * hundred KB). Served with a Content-Security-Policy that allows only this origin's scripts and styles.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface Asset {
  body: Buffer;
  contentType: string;
}

const require = createRequire(import.meta.url);
const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

const SOURCES: Record<string, () => [string, string]> = {
  '/': () => [`${WEB_DIR}index.html`, 'text/html; charset=utf-8'],
  '/assets/app.js': () => [`${WEB_DIR}app.js`, 'text/javascript; charset=utf-8'],
  '/assets/style.css': () => [`${WEB_DIR}style.css`, 'text/css; charset=utf-8'],
  '/assets/uplot.js': () => [require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
  '/assets/uplot.css': () => [require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'],
};

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const cache = new Map<string, Promise<Asset>>();

export function isAssetPath(path: string): boolean {
  return path in SOURCES || path === '/index.html';
}

export function loadAsset(path: string): Promise<Asset> {
  const key = path === '/index.html' ? '/' : path;
  let asset = cache.get(key);
  if (asset === undefined) {
    const [file, contentType] = SOURCES[key]!();
    asset = readFile(file).then((body) => ({ body, contentType }));
    // A failed read (a broken install) is not cached: the next request tries again.
    asset.catch(() => cache.delete(key));
    cache.set(key, asset);
  }
  return asset;
}

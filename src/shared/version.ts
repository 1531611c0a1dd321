/** The package version, read once from package.json next to dist/ (no bundler rewrites it). */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const raw = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const parsed: unknown = JSON.parse(raw);
    if (parsed && typeof parsed === 'object' && 'version' in parsed && typeof parsed.version === 'string') return parsed.version;
  } catch {
    // Embedded without its package.json: the version is informational only.
  }
  return '0.0.0';
}

export const VERSION = readVersion();

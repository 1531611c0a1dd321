import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);

describe('README examples run as written', () => {
  it('examples/embed.mjs: the embedding API with its events', async () => {
    const script = fileURLToPath(new URL('../examples/embed.mjs', import.meta.url));
    const { stdout } = await exec(process.execPath, [script], { timeout: 30_000 });
    const lines = stdout.trim().split('\n');
    expect(lines.filter((l) => /^request -> [ab] 200 ok \d+\.\d ms$/.test(l))).toHaveLength(4);
    expect(lines).toContain('server a: server-draining (now drained)');
    expect(lines.at(-1)).toBe('totals: 4 requests');
  });
});

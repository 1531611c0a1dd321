import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServerHandle } from '../../src/testserver/server.js';
import { spawnLb, type LbProcess } from '../helpers/cli.js';
import { startServers } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp.js';

const MB = 1024 * 1024;
const SIZE = 100 * MB;

/** Resident set size of a process in bytes (current and peak), from /proc. */
async function rss(pid: number): Promise<{ current: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(/\s(\d+) kB/.exec(status.split('\n').find((l) => l.startsWith(field)) ?? '')?.[1] ?? NaN) * 1024;
  return { current: kb('VmRSS:'), peak: kb('VmHWM:') };
}

let backend: TestServerHandle;
let lb: LbProcess;
let url: string;

beforeAll(async () => {
  [backend] = (await startServers(1)) as [TestServerHandle];
  const dir = await tempDir();
  const file = join(dir, 'servers.json');
  await writeFile(file, JSON.stringify([{ host: '127.0.0.1', port: backend.port }]));
  lb = spawnLb(['serve', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--servers', file, '--log-level', 'warn']);
  url = (await lb.waitForOutput(/lb serve: (http:\/\/\S+)/))[1]!;
  // Warm up so the baseline includes the JIT and the pool's first connection.
  for (let i = 0; i < 20; i++) await (await fetch(`${url}/warm?bytes=${MB}`)).arrayBuffer();
});

afterAll(async () => {
  await lb?.stop();
  await backend?.close();
});

describe.skipIf(process.platform !== 'linux')('bodies are streamed, never buffered whole', () => {
  it('passes a 100 MB upload and a 100 MB download with RSS growing by less than 64 MB', async () => {
    const pid = lb.child.pid!;
    const before = await rss(pid);

    const uploaded = await new Promise<{ status: number; bodyBytes: number }>((resolve, reject) => {
      const chunk = Buffer.alloc(MB, 0x62);
      let sent = 0;
      const body = new Readable({
        read() {
          if (sent >= SIZE) this.push(null);
          else {
            sent += chunk.length;
            this.push(chunk);
          }
        },
      });
      const req = request(`${url}/upload`, { method: 'POST', headers: { 'content-length': SIZE } }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bodyBytes: (JSON.parse(text) as { body_bytes: number }).body_bytes }));
      });
      req.on('error', reject);
      body.pipe(req);
    });
    expect(uploaded).toEqual({ status: 200, bodyBytes: SIZE });

    const downloaded = await new Promise<number>((resolve, reject) => {
      request(`${url}/download?bytes=${SIZE}`, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => resolve(n));
        res.on('error', reject);
      })
        .on('error', reject)
        .end();
    });
    expect(downloaded).toBe(SIZE);

    const after = await rss(pid);
    const growthMb = (after.peak - before.current) / MB;
    console.log(`proxy RSS: ${(before.current / MB).toFixed(1)} MB before, peak ${(after.peak / MB).toFixed(1)} MB during 2 x 100 MB (growth ${growthMb.toFixed(1)} MB)`);
    expect(growthMb).toBeLessThan(64);
  });
});

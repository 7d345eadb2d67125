import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Sandbox, type TransferProgress } from '@paddock/sdk';
import { TEST_API_KEY } from '../support/env.js';
import { generated } from '../support/generated-stream.js';
import { waitFor } from '../support/server.js';
import { ServerProcess } from '../support/server-process.js';

const MiB = 1_048_576;
const GiB = 1_024 * MiB;
/**
 * The server relays bodies as streams; its peak RSS may grow by socket and stream buffers
 * only, never by the file. 1 GiB each way must leave its peak below this.
 */
const SERVER_PEAK_RSS_BOUND_MIB = 256;

const server = new ServerProcess(18_000 + (process.pid % 1000));
const conn = { apiUrl: server.url, apiKey: TEST_API_KEY };
let sbx: Sandbox;

function memoryMiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+)`, 'm'))?.[1]);
  return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
}

before(async () => {
  await server.start();
  sbx = await Sandbox.create({ ...conn, diskMiB: 3_072, metadata: { suite: 'large-files' } });
});

after(async () => {
  await sbx?.kill().catch(() => {});
  await server.stop('SIGTERM');
});

describe('large files through a server process', () => {
  it('moves 1 GiB up and down with progress, keeping the server RSS bounded', async (t) => {
    const pid = server.child?.pid as number;
    const atStart = memoryMiB(pid);
    const upload = generated(GiB);
    const upProgress: TransferProgress[] = [];
    let startedAt = performance.now();
    const info = await sbx.files.write('/home/user/big.bin', upload.stream, {
      sizeBytes: GiB,
      onProgress: (p) => upProgress.push(p),
    });
    const upSeconds = (performance.now() - startedAt) / 1000;
    assert.equal(info.sizeBytes, GiB);
    assert.ok(upProgress.length > 100, 'progress is reported as the upload goes');
    assert.deepEqual(upProgress.at(-1), { bytes: GiB, totalBytes: GiB });
    assert.ok(upProgress.every((p, i) => i === 0 || p.bytes > (upProgress[i - 1]?.bytes ?? 0)));

    startedAt = performance.now();
    const downProgress: TransferProgress[] = [];
    const stream = await sbx.files.read('/home/user/big.bin', {
      format: 'stream',
      requestTimeoutMs: 0,
      onProgress: (p) => downProgress.push(p),
    });
    const hash = createHash('sha256');
    for await (const chunk of stream) hash.update(chunk as Buffer);
    const downSeconds = (performance.now() - startedAt) / 1000;
    assert.equal(hash.digest('hex'), upload.digest());
    assert.deepEqual(downProgress.at(-1), { bytes: GiB, totalBytes: GiB });

    const atEnd = memoryMiB(pid);
    t.diagnostic(
      `upload ${(1024 / upSeconds).toFixed(0)} MiB/s, download ${(1024 / downSeconds).toFixed(0)} MiB/s; ` +
        `server RSS ${atStart.rss.toFixed(0)} MiB at start, peak ${atEnd.hwm.toFixed(0)} MiB (bound ${SERVER_PEAK_RSS_BOUND_MIB})`,
    );
    assert.ok(atEnd.hwm < SERVER_PEAK_RSS_BOUND_MIB, `server peak RSS ${atEnd.hwm} MiB`);
    await sbx.files.remove('/home/user/big.bin');
  });

  it('leaves no file (and the old one intact) when an upload dies half-way through the server', async () => {
    await sbx.files.write('/home/user/keep.txt', 'old content');
    for (const target of ['/home/user/new.bin', '/home/user/keep.txt']) {
      const controller = new AbortController();
      let sentBytes = 0;
      // Sends 16 MiB, then stops feeding and cuts the connection once the sandbox holds a temp file.
      const body = new Readable({
        read() {
          if (sentBytes >= 16 * MiB) return;
          sentBytes += MiB;
          this.push(Buffer.alloc(MiB, 1));
        },
      });
      const upload = sbx.files.write(target, body, { signal: controller.signal });
      await waitFor('a partial upload in the sandbox', async () => {
        const r = await sbx.commands.run('ls -A /home/user | grep -c paddock-tmp || true');
        return r.stdout.trim() !== '0' ? true : undefined;
      });
      controller.abort(new Error('client died'));
      await assert.rejects(upload, /client died/);
      await waitFor('the temp file to be removed', async () => {
        const r = await sbx.commands.run('ls -A /home/user | grep -c paddock-tmp || true');
        return r.stdout.trim() === '0' ? true : undefined;
      });
    }
    assert.equal(await sbx.files.exists('/home/user/new.bin'), false);
    assert.equal(await sbx.files.read('/home/user/keep.txt'), 'old content');
  });
});

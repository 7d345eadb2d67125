import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { ConnectionOptions } from '../connection.js';
import type { ProgressCallback, TransferProgress } from '../progress.js';
import { attach } from './attach.js';
import { parseCopyEndpoint } from './parse.js';

/**
 * A progress line on a TTY stderr, redrawn at most every 100 ms from the SDK's
 * `onProgress` reports; `done()` draws the final count and ends the line.
 */
function progressLine(label: string): { onProgress: ProgressCallback; done: () => void } {
  let last: TransferProgress = { bytes: 0 };
  let lastDrawMs = 0;
  const draw = (final: boolean) => {
    if (!process.stderr.isTTY) return;
    const mib = (n: number) => (n / 1_048_576).toFixed(1);
    const total = last.totalBytes;
    const pct = total ? ` ${Math.floor((last.bytes / total) * 100)}%` : '';
    process.stderr.write(
      `\r${label}: ${mib(last.bytes)}${total ? `/${mib(total)}` : ''} MiB${pct}${final ? '\n' : ''}`,
    );
  };
  return {
    onProgress: (progress) => {
      last = progress;
      const now = Date.now();
      if (now - lastDrawMs > 100) {
        lastDrawMs = now;
        draw(false);
      }
    },
    done: () => draw(true),
  };
}

/** `paddock cp SRC DST`, either side `ID:/path`; streams, shows progress, never buffers whole files. */
export function registerCpCommand(program: Command, conn: () => ConnectionOptions): void {
  program
    .command('cp')
    .description('copy a file between this machine and a sandbox (either side ID:/path)')
    .argument('<src>')
    .argument('<dst>')
    .action(async (src: string, dst: string) => {
      const from = parseCopyEndpoint(src);
      const to = parseCopyEndpoint(dst);
      if ('local' in from && 'sandboxId' in to) {
        const sizeBytes = (await stat(from.local)).size;
        const sbx = await attach(to.sandboxId, conn(), 'auto');
        const line = progressLine(`upload ${from.local}`);
        await sbx.files.write(to.path, createReadStream(from.local), { sizeBytes, onProgress: line.onProgress });
        line.done();
      } else if ('sandboxId' in from && 'local' in to) {
        const sbx = await attach(from.sandboxId, conn(), 'auto');
        const line = progressLine(`download ${from.path}`);
        const stream = await sbx.files.read(from.path, {
          format: 'stream',
          requestTimeoutMs: 0,
          onProgress: line.onProgress,
        });
        // Same rule as uploads: the target appears only when complete.
        const temp = `${to.local}.paddock-partial`;
        try {
          await pipeline(stream, createWriteStream(temp));
          line.done();
          await rename(temp, to.local);
        } catch (err) {
          await rm(temp, { force: true });
          throw err;
        }
      } else if ('sandboxId' in from && 'sandboxId' in to) {
        const a = await attach(from.sandboxId, conn(), 'auto');
        const b = await attach(to.sandboxId, conn(), 'auto');
        await b.files.write(to.path, await a.files.read(from.path, { format: 'stream', requestTimeoutMs: 0 }));
      } else {
        throw new Error('one side of cp must be a sandbox path: ID:/absolute/path');
      }
    });
}

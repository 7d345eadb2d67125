import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import type { ConnectionOptions } from '../connection.js';
import { Sandbox } from '../sandbox.js';
import { parseCopyEndpoint } from './parse.js';

/** Counts bytes going through and redraws a progress line on a TTY stderr. */
function progress(label: string, totalBytes: number | undefined): Transform {
  let done = 0;
  let lastDraw = 0;
  const draw = (final: boolean) => {
    if (!process.stderr.isTTY) return;
    const mib = (n: number) => (n / 1_048_576).toFixed(1);
    const pct = totalBytes ? ` ${Math.floor((done / totalBytes) * 100)}%` : '';
    process.stderr.write(
      `\r${label}: ${mib(done)}${totalBytes ? `/${mib(totalBytes)}` : ''} MiB${pct}${final ? '\n' : ''}`,
    );
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      const now = Date.now();
      if (now - lastDraw > 100) {
        lastDraw = now;
        draw(false);
      }
      cb(null, chunk);
    },
    flush(cb) {
      draw(true);
      cb();
    },
  });
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
        const size = (await stat(from.local)).size;
        const sbx = await Sandbox.connect(to.sandboxId, conn());
        const body = createReadStream(from.local).pipe(progress(`upload ${from.local}`, size));
        await sbx.files.write(to.path, body);
      } else if ('sandboxId' in from && 'local' in to) {
        const sbx = await Sandbox.connect(from.sandboxId, conn());
        const info = await sbx.files.stat(from.path);
        const stream = await sbx.files.read(from.path, { format: 'stream', requestTimeoutMs: 0 });
        // Same rule as uploads: the target appears only when complete.
        const temp = `${to.local}.paddock-partial`;
        try {
          await pipeline(stream, progress(`download ${from.path}`, info.sizeBytes), createWriteStream(temp));
          await rename(temp, to.local);
        } catch (err) {
          await rm(temp, { force: true });
          throw err;
        }
      } else if ('sandboxId' in from && 'sandboxId' in to) {
        const a = await Sandbox.connect(from.sandboxId, conn());
        const b = await Sandbox.connect(to.sandboxId, conn());
        await b.files.write(to.path, await a.files.read(from.path, { format: 'stream', requestTimeoutMs: 0 }));
      } else {
        throw new Error('one side of cp must be a sandbox path: ID:/absolute/path');
      }
    });
}

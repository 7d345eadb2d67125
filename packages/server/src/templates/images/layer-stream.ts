/**
 * The byte side of a layer: its compression by media type, a tap that hashes what is read
 * (the blob must match its digest), and the decompressors. Node 20 has no zstd, so zstd
 * layers go through the `zstd` CLI; the child is killed whenever the unpack stops early.
 */
import { spawn } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { Duplex, PassThrough, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { PaddockError } from '@paddock/protocol';

export type Compression = 'gzip' | 'zstd' | 'none';

const COMPRESSION: Record<string, Compression> = {
  'application/vnd.oci.image.layer.v1.tar': 'none',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd': 'zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar': 'none',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip': 'gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd': 'zstd',
  'application/vnd.docker.image.rootfs.diff.tar': 'none',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd': 'zstd',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'gzip',
};

/** How a layer of this media type says it is compressed; refuses media types that are not layers. */
export function layerCompression(mediaType: string): Compression {
  const found = COMPRESSION[mediaType];
  if (found === undefined) {
    throw new PaddockError('INVALID_ARGUMENT', `unsupported layer media type "${mediaType}"`, { mediaType });
  }
  return found;
}

/**
 * How a blob is really compressed, by its magic bytes. The media type is not to be trusted:
 * skopeo labels the uncompressed layers of a `docker save` archive `tar.gzip`.
 */
export function sniffCompression(path: string): Compression {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    const n = readSync(fd, head, 0, 4, 0);
    if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
    if (n === 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    closeSync(fd);
  }
}

/** Passes bytes through while hashing them (sha256) and counting them. */
export class DigestTap extends Transform {
  private readonly hash: Hash = createHash('sha256');

  constructor(private readonly onBytes: (n: number) => void) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.onBytes(chunk.length);
    done(null, chunk);
  }

  /** `sha256:<hex>` of everything that passed; call once, after the stream ended. */
  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

export interface Decompressor {
  stream: Duplex;
  /** Resolves when the decompressor finished cleanly (for zstd: the child exited 0). */
  done: Promise<void>;
  /** Stops it for good (kills a child); safe to call at any time, also after success. */
  close(): void;
}

/** Node's zlib runs in the libuv pool, off the main thread that writes the files. */
const GUNZIP_CHUNK_BYTES = 256 * 1024;

export function decompressor(kind: Compression): Decompressor {
  if (kind === 'gzip') {
    const stream = createGunzip({ chunkSize: GUNZIP_CHUNK_BYTES });
    return { stream, done: Promise.resolve(), close: () => stream.destroy() };
  }
  if (kind === 'none') {
    const stream = new PassThrough();
    return { stream, done: Promise.resolve(), close: () => stream.destroy() };
  }
  return zstdDecompressor();
}

function zstdDecompressor(): Decompressor {
  const child = spawn('zstd', ['-dc', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  const stream = Duplex.from({ writable: child.stdin, readable: child.stdout });
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (err) =>
      reject(new PaddockError('INTERNAL', `cannot run zstd to decompress a layer: ${err.message}`, {}, { cause: err })),
    );
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const why = Buffer.concat(stderr).toString('utf8').trim().slice(0, 500);
      reject(
        new PaddockError('INVALID_ARGUMENT', `zstd could not decompress a layer (${signal ?? `exit ${code}`}): ${why}`),
      );
    });
  });
  // Nothing awaits `done` when the pipeline failed first; keep that rejection from going unhandled.
  done.catch(() => {});
  return {
    stream,
    done,
    close: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      stream.destroy();
    },
  };
}

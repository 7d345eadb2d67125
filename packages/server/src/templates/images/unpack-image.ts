import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, chown, open } from 'node:fs/promises';
import { PassThrough, type Readable, Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { PaddockError } from '@paddock/protocol';
import type { ImageProgress, StoredImage } from './image-types.js';
import { type IdShift, LayerWriter, type WriterStats } from './layer-writer.js';
import { blobPath, LAYER_MEDIA_TYPES, type LayerCompression } from './oci-layout.js';

export interface UnpackImageOptions {
  layoutDir: string;
  image: StoredImage;
  /** An empty directory; the caller removes it when the unpack fails. */
  target: string;
  idShift: IdShift;
  signal?: AbortSignal;
  onProgress?: (progress: ImageProgress) => void;
}

/** How often unpack progress is reported at most. */
const PROGRESS_EVERY_MS = 250;

/**
 * Unpacks an image's layers, bottom first, into `target` (see {@link LayerWriter} for what
 * keeps the host safe). Each layer blob is hashed as it streams and must match its digest,
 * so a blob changed on disk after the pull is refused.
 */
export async function unpackImage(options: UnpackImageOptions): Promise<WriterStats> {
  const { image, signal } = options;
  // The rootfs's own `/` belongs to the sandbox's root, like every dir the layers make.
  await chown(options.target, options.idShift.base, options.idShift.base);
  await chmod(options.target, 0o755);
  const writer = new LayerWriter(options.target, options.idShift);
  const bytesTotal = image.layers.reduce((sum, l) => sum + l.size, 0);
  let bytesBefore = 0;
  let lastReportMs = 0;
  const report = (layersDone: number, bytesDone: number, force: boolean): void => {
    if (!force && Date.now() - lastReportMs < PROGRESS_EVERY_MS) return;
    lastReportMs = Date.now();
    options.onProgress?.({ phase: 'unpack', layersDone, layersTotal: image.layers.length, bytesDone, bytesTotal });
  };
  for (const [i, layer] of image.layers.entries()) {
    signal?.throwIfAborted();
    checkLayerMediaType(layer.mediaType, layer.digest);
    const path = blobPath(options.layoutDir, layer.digest);
    const compression = await sniffCompression(path);
    const hash = createHash('sha256');
    let read = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        read += chunk.byteLength;
        report(i, bytesBefore + read, false);
        done(null, chunk);
      },
    });
    const blob = createReadStream(path, { highWaterMark: 1 << 20 });
    const decompressed = decompress(blob.pipe(counted), compression, signal);
    await writer.write(decompressed, { whiteouts: true, ...(signal ? { signal } : {}) });
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== layer.digest) {
      throw new PaddockError('INVALID_ARGUMENT', `layer ${layer.digest} does not match its digest (read ${actual})`, {
        layer: layer.digest,
        reason: 'digest-mismatch',
      });
    }
    bytesBefore += layer.size;
    report(i + 1, bytesBefore, true);
  }
  writer.finish();
  return writer.stats;
}

function checkLayerMediaType(mediaType: string, digest: string): void {
  if (!(mediaType in LAYER_MEDIA_TYPES)) {
    throw new PaddockError('INVALID_ARGUMENT', `layer ${digest} has a media type we cannot unpack: ${mediaType}`, {
      layer: digest,
      mediaType,
    });
  }
}

/**
 * The compression a blob really has, by its magic bytes: media types are not to be trusted
 * (skopeo marks the uncompressed layers of a `docker save` archive as `tar.gzip`, and Docker
 * itself sniffs too).
 */
async function sniffCompression(path: string): Promise<LayerCompression> {
  const file = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(4), 0, 4, 0);
    if (bytesRead >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b) return 'gzip';
    if (bytesRead === 4 && buffer.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    await file.close();
  }
}

/**
 * gzip through zlib (on libuv's pool, beside the writer); zstd through the `zstd` CLI, as
 * Node 20 has no zstd of its own. The child is killed with the stream.
 */
function decompress(compressed: Readable, compression: LayerCompression, signal?: AbortSignal): Readable {
  if (compression === 'none') return compressed;
  if (compression === 'gzip') {
    const gunzip = createGunzip();
    compressed.on('error', (err) => gunzip.destroy(err));
    return compressed.pipe(gunzip);
  }
  const child = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
  const out = new PassThrough();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.on('error', (err) => out.destroy(err));
  compressed.on('error', (err) => {
    child.kill('SIGKILL');
    out.destroy(err);
  });
  // The layer's reader may stop early (a refused member): stop feeding and kill zstd.
  out.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  child.stdin.on('error', () => {});
  compressed.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new PaddockError('INVALID_ARGUMENT', `a zstd layer failed to decompress: ${stderr.trim()}`));
  });
  return out;
}

import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PaddockError, type TemplateBuildEvent } from '@paddock/protocol';
import type { DataPaths } from '../paths.js';
import { buildImageTemplate } from './image-template.js';
import type { ImageSource } from './images/image-types.js';
import type { BuiltTemplate } from './layout.js';
import { runProcess } from './process.js';

export interface ImageImportJob {
  paths: DataPaths;
  /** A `docker save` tarball or an OCI layout packed as a tar. */
  archive: Readable;
  signal: AbortSignal;
  emit: (event: TemplateBuildEvent) => void;
}

/**
 * A template from an image archive uploaded without a registry: the upload is spooled to a
 * private file (skopeo reads archives by path), its format told by its entries, and the image
 * then goes the way of a pulled one (into the shared layout, unpacked, cached by digest).
 */
export async function importImageArchive(job: ImageImportJob): Promise<{ info: BuiltTemplate; cached: boolean }> {
  const spool = join(job.paths.images, 'uploads');
  await mkdir(spool, { recursive: true, mode: 0o700 });
  const file = join(spool, `import-${randomBytes(8).toString('hex')}.tar`);
  try {
    let bytes = 0;
    let lastReportMs = 0;
    job.archive.on('data', (chunk: Buffer) => {
      bytes += chunk.byteLength;
      if (Date.now() - lastReportMs < 250) return;
      lastReportMs = Date.now();
      job.emit({ type: 'progress', step: 'upload', message: `received ${mib(bytes)}`, bytesDone: bytes });
    });
    await pipeline(job.archive, createWriteStream(file, { mode: 0o600 }), { signal: job.signal });
    job.emit({ type: 'progress', step: 'upload', message: `received ${mib(bytes)}`, bytesDone: bytes });
    const source: ImageSource = { kind: await archiveKind(file, job.signal), path: file };
    return await buildImageTemplate({ paths: job.paths, source, overrides: {}, signal: job.signal, emit: job.emit });
  } finally {
    await rm(file, { force: true });
  }
}

/** `docker save` writes `manifest.json`; an OCI layout has `oci-layout` and `index.json`. */
async function archiveKind(file: string, signal: AbortSignal): Promise<'docker-archive' | 'oci-archive'> {
  // GNU tar lists an uncompressed archive by seeking past the contents.
  const listing = await runProcess({ file: 'tar', args: ['--list', '--file', file], signal, tailLines: 100_000 });
  const names = new Set(listing.tail.map((name) => name.replace(/^\.\//, '')));
  if (listing.exitCode === 0 && names.has('oci-layout')) return 'oci-archive';
  if (listing.exitCode === 0 && names.has('manifest.json')) return 'docker-archive';
  throw new PaddockError(
    'INVALID_ARGUMENT',
    'the upload is not an image archive: send a `docker save` tarball or an OCI layout as a tar (not compressed)',
  );
}

function mib(bytes: number): string {
  return `${(bytes / 1_048_576).toFixed(1)} MiB`;
}

import { promisify } from 'node:util';
import { gunzip as gunzipCb } from 'node:zlib';
import { PaddockError } from '@paddock/protocol';
import tar from 'tar-stream';
import type { BuildContext } from '../../templates/plan.js';

/** Bounds of one upload: the archive as sent, and the files once unpacked. */
export interface UploadLimits {
  archiveBytes: number;
  unpackedBytes: number;
}

/**
 * The files of a COPY upload: the tar (gzip or not: `copy(…, {gzip: false})`) that the SDK packs
 * relative to its context directory. Only regular files become context entries; directories are
 * implied by their files. A path that leaves the context (absolute, `..`) or a link is refused:
 * the context is a map of paths, and a link in it could point the executor anywhere.
 */
export async function readUploadArchive(archive: Buffer, limits: UploadLimits): Promise<BuildContext> {
  const tarBytes = isGzip(archive) ? await gunzip(archive, limits.unpackedBytes) : archive;
  const files = new Map<string, { data: Uint8Array; mode: number }>();
  let total = 0;
  const extract = tar.extract();
  extract.end(tarBytes);
  try {
    for await (const entry of extract) {
      const { header } = entry;
      const path = contextPath(header.name);
      if (header.type === 'directory' || path === undefined) {
        entry.resume();
        continue;
      }
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        throw refusal(
          `'${header.name}' is a ${header.type}: uploads hold regular files only (copy with resolveSymlinks)`,
        );
      }
      total += header.size;
      if (total > limits.unpackedBytes) throw tooLarge(limits.unpackedBytes);
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      files.set(path, { data: Buffer.concat(chunks), mode: header.mode & 0o7777 });
    }
  } catch (err) {
    extract.destroy();
    if (err instanceof PaddockError) throw err;
    throw refusal(`not a tar archive: ${(err as Error).message}`);
  }
  return files;
}

/** A tar member name → a context path, or undefined for the context root itself; refuses escapes. */
export function contextPath(name: string): string | undefined {
  if (name.startsWith('/') || name.includes('\0') || name.includes('\\')) {
    throw refusal(`'${name}' is not a relative path inside the context`);
  }
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw refusal(`'${name}' leaves the context ('..')`);
  return parts.length === 0 ? undefined : parts.join('/');
}

function isGzip(bytes: Buffer): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

const gunzipAsync = promisify(gunzipCb);

async function gunzip(bytes: Buffer, maxBytes: number): Promise<Buffer> {
  try {
    return await gunzipAsync(bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(maxBytes);
    throw refusal(`not a gzip archive: ${(err as Error).message}`);
  }
}

function refusal(message: string): PaddockError {
  return new PaddockError('INVALID_ARGUMENT', `upload: ${message}`, { field: 'upload' });
}

function tooLarge(maxBytes: number): PaddockError {
  return new PaddockError('PAYLOAD_TOO_LARGE', `upload: the files are larger than ${maxBytes} bytes unpacked`, {
    limitBytes: maxBytes,
  });
}

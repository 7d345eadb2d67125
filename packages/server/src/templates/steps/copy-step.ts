/**
 * COPY/ADD: the selected files become tar entries (dest paths, owners, modes) applied to the
 * merged overlay by the image unpacker's `TreeWriter`, which resolves every path inside the rootfs
 * (the base image's symlinks cannot send a write out of it) and shifts owners into the sandbox
 * range. ADD of a local tar (plain or gzip) unpacks it at dest the same way.
 */

import { realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { PaddockError } from '@paddock/protocol';
import tar, { type Header } from 'tar-stream';
import { UID_BASE, UID_COUNT } from '../../runtime/uid-map.js';
import { selectContextFiles } from '../dockerfile/build-context.js';
import { entryParts } from '../images/safe-path.js';
import { TreeWriter } from '../images/tree-writer.js';
import { parseWhiteout } from '../images/whiteouts.js';
import type { BuildContext, BuildStep } from '../plan.js';
import { isDirInside, resolveUser } from './rootfs-files.js';
import { readStageFiles, type StageFile } from './stage-files.js';

type CopyStep = Extract<BuildStep, { kind: 'copy' }>;

export interface CopyJob {
  merged: string;
  step: CopyStep;
  context: BuildContext;
  /** For `--from`: the source stage's root (a read-only view). */
  fromRoot?: string;
  label: string;
  signal: AbortSignal;
}

/** Files from the context get a fixed mtime, so that a layer depends only on the content. */
const EPOCH = new Date(0);

export async function copyStep(job: CopyJob): Promise<{ files: number }> {
  const { step } = job;
  const owner = step.chown === undefined ? undefined : resolveUser(job.merged, step.chown);
  const destIsDir = step.dest.endsWith('/') || isDirInside(job.merged, step.dest);
  const dest = entryParts(step.dest).join('/');
  const writer = new TreeWriter({ root: realpathSync(job.merged), idShift: { base: UID_BASE, count: UID_COUNT } });
  writer.beginLayer(job.label);
  const ids = (uid: number, gid: number) => (owner === undefined ? { uid, gid } : { uid: owner.uid, gid: owner.gid });
  const made = new Set<string>();
  const parents = (target: string, uid: number, gid: number): void => {
    // Directories a COPY makes below dest get the --chown owner (Docker's BuildKit does the same).
    const dirs = target.split('/').slice(0, -1);
    for (let i = 1; i <= dirs.length; i++) {
      const name = posix.join(dest, ...dirs.slice(0, i));
      if (made.has(name)) continue;
      made.add(name);
      writer.entry(header({ name, type: 'directory', mode: 0o755, ...ids(uid, gid) }));
    }
  };
  let files = 0;
  const write = (target: string, h: Omit<Header, 'name'>, data?: Uint8Array): void => {
    checkName(target, job.label);
    const name = target === '' ? dest : posix.join(dest, target);
    if (target !== '') parents(target, h.uid, h.gid);
    const sink = writer.entry({ ...h, name });
    if (sink !== undefined) {
      if (data !== undefined && data.byteLength > 0)
        sink.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      sink.end();
    }
    files++;
  };

  if (step.fromStage !== undefined) {
    const from = readStageFiles({ root: job.fromRoot as string, sources: step.sources, label: job.label });
    const intoDir = destIsDir || from.length > 1 || from.some((f) => f.target.includes('/')) || step.sources.length > 1;
    for (const file of from) writeStageFile(file, intoDir, write, ids);
  } else {
    const { files: selected, intoDir } = selectContextFiles(job.context, step.sources, destIsDir);
    for (const file of selected) {
      const entry = job.context.get(file.source);
      if (entry === undefined) continue;
      const target = intoDir ? file.target : '';
      if (step.add === true && isTar(entry.data)) {
        await unpackTar({ data: entry.data, dest, writer, label: job.label, signal: job.signal });
        files++;
        continue;
      }
      const mode = step.mode ?? entry.mode & 0o7777;
      write(target, header({ type: 'file', mode, size: entry.data.byteLength, ...ids(0, 0) }), entry.data);
    }
  }
  writer.finish();
  return { files };
}

function writeStageFile(
  file: StageFile,
  intoDir: boolean,
  write: (target: string, h: Omit<Header, 'name'>, data?: Uint8Array) => void,
  ids: (uid: number, gid: number) => { uid: number; gid: number },
): void {
  const target = intoDir ? file.target : '';
  const owner = ids(file.uid, file.gid);
  if (file.type === 'symlink')
    write(target, header({ type: 'symlink', linkname: file.linkname, mode: 0o777, ...owner }));
  else if (file.type === 'directory') write(target, header({ type: 'directory', mode: file.mode, ...owner }));
  else write(target, header({ type: 'file', mode: file.mode, size: file.data.byteLength, ...owner }), file.data);
}

function header(h: Partial<Header> & Pick<Header, 'type' | 'mode' | 'uid' | 'gid'>): Header {
  return { name: '', size: 0, mtime: EPOCH, linkname: '', uname: '', gname: '', devmajor: 0, devminor: 0, ...h };
}

/** `.wh.` names mean deletions to the layer writer: a context file may not be called that. */
function checkName(target: string, label: string): void {
  const base = target.split('/').at(-1) ?? '';
  if (base !== '' && parseWhiteout(base) !== undefined) {
    throw new PaddockError('INVALID_ARGUMENT', `${label}: "${target}" has a name reserved for layer whiteouts (.wh.*)`);
  }
}

function isTar(data: Uint8Array): boolean {
  if (data[0] === 0x1f && data[1] === 0x8b) return true;
  return data.byteLength >= 262 && new TextDecoder().decode(data.subarray(257, 262)) === 'ustar';
}

async function unpackTar(job: {
  data: Uint8Array;
  dest: string;
  writer: TreeWriter;
  label: string;
  signal: AbortSignal;
}) {
  const extract = tar.extract();
  extract.on('entry', (h, stream, next) => {
    stream.on('error', () => {});
    let sink: ReturnType<TreeWriter['entry']>;
    try {
      checkName(h.name, job.label);
      // The archive's owners are kept (as ADD does), shifted and range-checked by the writer.
      const name = posix.join(job.dest, ...entryParts(h.name));
      const linkname = h.type === 'link' ? posix.join(job.dest, ...entryParts(h.linkname)) : h.linkname;
      sink = job.writer.entry({ ...h, name, linkname });
    } catch (err) {
      next(err as Error);
      return;
    }
    stream.on('data', (chunk) => sink?.write(chunk as Buffer));
    stream.on('end', () => {
      try {
        sink?.end();
        next();
      } catch (err) {
        next(err as Error);
      }
    });
  });
  const gzip = job.data[0] === 0x1f && job.data[1] === 0x8b;
  const source = Readable.from([Buffer.from(job.data)]);
  try {
    if (gzip) await pipeline(source, createGunzip(), extract, { signal: job.signal });
    else await pipeline(source, extract, { signal: job.signal });
  } catch (err) {
    if (job.signal.aborted) throw job.signal.reason;
    if (err instanceof PaddockError) throw err;
    throw new PaddockError(
      'INVALID_ARGUMENT',
      `${job.label}: ADD could not unpack the archive: ${(err as Error).message}`,
    );
  }
}

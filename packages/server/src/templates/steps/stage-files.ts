/**
 * `COPY --from=stage`: reads paths out of an earlier stage's root without leaving it. Directories
 * are resolved with `RootedResolver`, files opened with O_NOFOLLOW; symlinks inside are copied
 * as symlinks, owners are given back as ids inside the sandbox.
 */
import {
  closeSync,
  constants,
  lstatSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  type Stats,
} from 'node:fs';
import { PaddockError } from '@paddock/protocol';
import { UID_BASE } from '../../runtime/uid-map.js';
import { entryParts, RootedResolver } from '../images/safe-path.js';

export type StageFile = {
  /** Path relative to the COPY's dest dir (the base name for a single file). */
  target: string;
  uid: number;
  gid: number;
  mode: number;
} & ({ type: 'file'; data: Uint8Array } | { type: 'directory' } | { type: 'symlink'; linkname: string });

export function readStageFiles(job: { root: string; sources: readonly string[]; label: string }): StageFile[] {
  const resolver = new RootedResolver({ root: job.root, onCreateDir: () => {} });
  const out: StageFile[] = [];
  for (const source of job.sources) {
    const parts = entryParts(source);
    const missing = () =>
      new PaddockError('TEMPLATE_BUILD_FAILED', `${job.label}: "${source}" does not exist in the source stage`, {
        source,
      });
    let dir: string | undefined;
    try {
      dir = resolver.dir(parts, parts.length, false);
    } catch {
      dir = undefined;
    }
    if (dir !== undefined) {
      walk(resolver.abs(dir), '', out);
      continue;
    }
    const parent = resolver.dir(parts, parts.length - 1, false);
    if (parent === undefined || parts.length === 0) throw missing();
    const abs = `${resolver.abs(parent)}/${parts.at(-1)}`;
    const st = lstatSync(abs, { throwIfNoEntry: false });
    if (st === undefined) throw missing();
    const file = readOne(abs, parts.at(-1) as string, st);
    if (file !== undefined) out.push(file);
  }
  return out;
}

function walk(abs: string, rel: string, out: StageFile[]): void {
  for (const name of readdirSync(abs).sort()) {
    const path = `${abs}/${name}`;
    const target = rel === '' ? name : `${rel}/${name}`;
    const st = lstatSync(path);
    const file = readOne(path, target, st);
    if (file === undefined) continue;
    out.push(file);
    if (file.type === 'directory') walk(path, target, out);
  }
}

function readOne(abs: string, target: string, st: Stats): StageFile | undefined {
  const owner = { uid: inside(st.uid), gid: inside(st.gid), mode: st.mode & 0o7777, target };
  if (st.isDirectory()) return { ...owner, type: 'directory' };
  if (st.isSymbolicLink()) return { ...owner, type: 'symlink', linkname: readlinkSync(abs) };
  if (!st.isFile()) return undefined;
  const fd = openSync(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return { ...owner, type: 'file', data: readFileSync(fd) };
  } finally {
    closeSync(fd);
  }
}

function inside(hostId: number): number {
  const id = hostId - UID_BASE;
  return id >= 0 && id < 65536 ? id : 0;
}

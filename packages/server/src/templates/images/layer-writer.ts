import {
  chmodSync,
  closeSync,
  fchmodSync,
  fchownSync,
  constants as fsConstants,
  futimesSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { PaddockError } from '@paddock/protocol';
import { extract, type Header } from 'tar-stream';

/** A member's header; `pax` holds its raw PAX records (uid/gid past 8 octal digits, xattrs). */
type TarHeader = Omit<Header, 'pax'> & { pax?: Record<string, string> | null };

import { lstatOrUndefined, memberComponents, RootPaths } from './root-paths.js';

export interface IdShift {
  /** Host id of id 0 inside. */
  base: number;
  /** Ids 0..count-1 inside are mapped; anything above is refused. */
  count: number;
}

/** What an unpack skipped or met, for the log. */
export interface WriterStats {
  entries: number;
  bytes: number;
  /** Device nodes and fifos: sandboxes get their own /dev. */
  skippedSpecial: number;
  /** Extended attributes (file capabilities among them): Node cannot set them. */
  skippedXattrs: number;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const CREATE_FILE = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;

/**
 * Writes tar streams (image layers, in order, or COPY archives) into one root filesystem as
 * host root, never following a path the archives control out of it (see {@link RootPaths}):
 * members named with `..` are refused, the final component is never followed (a symlink there
 * is replaced), hard links must point inside. Ownership is shifted into the sandboxes' id
 * range as it is written; ids above the range are refused. With `whiteouts`, OCI whiteouts
 * delete what lower layers wrote. Directory times are set in {@link finish}, after their
 * children are written.
 */
export class LayerWriter {
  readonly stats: WriterStats = { entries: 0, bytes: 0, skippedSpecial: 0, skippedXattrs: 0 };
  private readonly paths: RootPaths;
  private readonly dirTimes = new Map<string, Date>();

  constructor(
    readonly root: string,
    private readonly ids: IdShift,
  ) {
    this.paths = new RootPaths(root, ids.base);
  }

  /** Writes every member of one uncompressed tar stream. */
  async write(tar: Readable, options: { whiteouts: boolean; signal?: AbortSignal }): Promise<void> {
    const members = extract();
    const fed = new Promise<void>((resolve, reject) => {
      // A broken input (a failed decompression) must also end the member loop below.
      tar.on('error', (err) => {
        members.destroy(err);
        reject(err);
      });
      members.on('error', reject);
      tar.pipe(members).on('finish', resolve);
    });
    fed.catch(() => {});
    // What this layer made: an opaque whiteout hides only what lower layers put there.
    const madeHere = new Set<string>();
    try {
      for await (const entry of members) {
        options.signal?.throwIfAborted();
        await this.member(entry.header as TarHeader, entry as AsyncIterable<Buffer>, {
          whiteouts: options.whiteouts,
          madeHere,
        });
      }
      await fed;
    } catch (err) {
      // A refused member stops the read too (its file, a zstd child).
      tar.destroy();
      throw err;
    }
  }

  /** Sets directory times, deepest first (writing a child changes its parent's mtime). */
  finish(): void {
    const dirs = [...this.dirTimes.keys()].sort((a, b) => b.length - a.length);
    for (const dir of dirs) {
      const mtime = this.dirTimes.get(dir) as Date;
      if (lstatOrUndefined(dir)?.isDirectory()) lutimesSync(dir, mtime, mtime);
    }
  }

  private async member(
    header: TarHeader,
    data: AsyncIterable<Buffer>,
    layer: { whiteouts: boolean; madeHere: Set<string> },
  ): Promise<void> {
    const parts = memberComponents(header.name);
    const name = parts.pop();
    if (name === undefined) return drain(data); // the root itself: `./`
    this.stats.entries++;
    const parent = this.paths.dir(parts);
    const path = join(parent, name);

    if (layer.whiteouts && name.startsWith(WHITEOUT)) {
      if (name === OPAQUE) this.clearLowerChildren(parent, layer.madeHere);
      else this.remove(join(parent, name.slice(WHITEOUT.length)));
      return drain(data);
    }
    const { uid, gid } = this.shiftedOwner(header);
    const mode = (header.mode ?? 0o644) & 0o7777;
    const mtime = header.mtime ?? new Date(0);
    if (header.pax) {
      this.stats.skippedXattrs += Object.keys(header.pax).filter((k) => k.startsWith('SCHILY.xattr.')).length;
    }
    switch (header.type) {
      case 'directory': {
        const existing = lstatOrUndefined(path);
        if (existing !== undefined && !existing.isDirectory()) this.remove(path);
        if (existing === undefined || !existing.isDirectory()) mkdirSync(path, { mode: 0o700 });
        lchownSync(path, uid, gid);
        chmodSync(path, mode);
        this.dirTimes.set(path, mtime);
        break;
      }
      case 'file':
      case 'contiguous-file': {
        this.clear(path);
        const fd = openSync(path, CREATE_FILE, 0o600);
        try {
          for await (const chunk of data) {
            writeSync(fd, chunk);
            this.stats.bytes += chunk.byteLength;
          }
          fchownSync(fd, uid, gid);
          // After the chown, which clears setuid/setgid bits.
          fchmodSync(fd, mode);
          futimesSync(fd, mtime, mtime);
        } finally {
          closeSync(fd);
        }
        break;
      }
      case 'symlink': {
        this.clear(path);
        symlinkSync(header.linkname ?? '', path);
        lchownSync(path, uid, gid);
        lutimesSync(path, mtime, mtime);
        break;
      }
      case 'link': {
        const target = this.linkTarget(header);
        this.clear(path);
        linkSync(target, path);
        break;
      }
      default:
        // Character and block devices, fifos: a sandbox's /dev is its own.
        this.stats.skippedSpecial++;
    }
    layer.madeHere.add(path);
    return drain(data);
  }

  private shiftedOwner(header: TarHeader): { uid: number; gid: number } {
    const uid = Number(header.pax?.uid ?? header.uid ?? 0);
    const gid = Number(header.pax?.gid ?? header.gid ?? 0);
    for (const [kind, id] of [
      ['uid', uid],
      ['gid', gid],
    ] as const) {
      if (!Number.isInteger(id) || id < 0 || id >= this.ids.count) {
        throw new PaddockError(
          'INVALID_ARGUMENT',
          `the image's file /${header.name.replace(/^\.?\//, '')} is owned by ${kind} ${id}, above the ` +
            `${this.ids.count} ids a sandbox maps (0..${this.ids.count - 1}); rebuild the image with lower ids`,
          { member: header.name, [kind]: id },
        );
      }
    }
    return { uid: this.ids.base + uid, gid: this.ids.base + gid };
  }

  /** A hard link's target, resolved inside the root; it must exist and not be a directory. */
  private linkTarget(header: TarHeader): string {
    const parts = memberComponents(header.linkname ?? '');
    const name = parts.pop();
    const target = name === undefined ? undefined : join(this.paths.dir(parts), name);
    const st = target === undefined ? undefined : lstatOrUndefined(target);
    if (target === undefined || st === undefined || st.isDirectory()) {
      throw new PaddockError(
        'INVALID_ARGUMENT',
        `the archive's hard link ${header.name} → ${header.linkname} does not point at a file in the image`,
        { member: header.name },
      );
    }
    return target;
  }

  /** Makes room for a non-directory at `path`: whatever is there goes (a link is not followed). */
  private clear(path: string): void {
    const existing = lstatOrUndefined(path);
    if (existing === undefined) return;
    if (existing.isDirectory()) this.remove(path);
    else {
      unlinkSync(path);
      if (existing.isSymbolicLink()) this.paths.forget();
    }
  }

  private remove(path: string): void {
    rmSync(path, { recursive: true, force: true });
    this.paths.forget();
  }

  private clearLowerChildren(dir: string, madeHere: ReadonlySet<string>): void {
    for (const child of readdirSync(dir)) {
      const path = join(dir, child);
      if (!madeHere.has(path)) this.remove(path);
    }
  }
}

async function drain(data: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of data) {
    // A member's data must be read before the next member arrives.
  }
}

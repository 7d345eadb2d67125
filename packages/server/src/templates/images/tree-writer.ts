/**
 * Applies layer tar entries to the unpack target, one entry at a time, with synchronous fs
 * calls: an image has tens of thousands of small files, and a promise per call costs more
 * than the call. Paths come from `RootedResolver` (never out of the target); owners are shifted
 * into the sandbox range; directory modes and mtimes are set once everything is written.
 */
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { PaddockError } from '@paddock/protocol';
import type { Header } from 'tar-stream';
import { entryParts, RootedResolver } from './safe-path.js';
import { applyOpaque, parseWhiteout, type Removed, removePath } from './whiteouts.js';

export interface IdShift {
  /** Host id of id 0 inside. */
  base: number;
  /** How many ids are mapped: ids inside must be below it. */
  count: number;
}

/** What an unpack did besides writing the tree, for the build log. */
export interface UnpackStats {
  entries: number;
  whiteouts: number;
  /** fifos and device nodes: sandboxes get their own /dev, so these are not made. */
  skippedSpecial: number;
  /** Extended attributes (capabilities, SELinux labels): Node cannot set them. */
  skippedXattrs: number;
  /** Entry types tar-stream reports that are not files (e.g. GNU sparse): not made. */
  skippedUnknown: number;
}

const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** An open regular file being written from a tar entry. */
export interface FileSink {
  write(chunk: Buffer): void;
  end(): void;
  /** Closes without finishing (on error). */
  abort(): void;
}

interface DirFixup {
  mode: number;
  mtime: Date;
}

export class TreeWriter {
  readonly stats: UnpackStats = { entries: 0, whiteouts: 0, skippedSpecial: 0, skippedXattrs: 0, skippedUnknown: 0 };
  private readonly resolver: RootedResolver;
  private readonly shift: IdShift;
  /** Real paths (relative to root) written by the current layer: an opaque dir keeps these. */
  private readonly layerPaths = new Set<string>();
  private readonly dirFixups = new Map<string, DirFixup>();
  private layer = '';

  constructor(options: { root: string; idShift: IdShift }) {
    this.shift = options.idShift;
    this.resolver = new RootedResolver({
      root: options.root,
      onCreateDir: (rel, abs) => {
        lchownSync(abs, this.shift.base, this.shift.base);
        this.markWritten(rel);
      },
    });
  }

  beginLayer(digest: string): void {
    this.layer = digest;
    this.layerPaths.clear();
  }

  /**
   * Applies one entry. Returns a sink for a regular file's data (the caller streams the data
   * into it and ends it), `undefined` for everything else.
   */
  entry(header: Header): FileSink | undefined {
    try {
      return this.apply(header);
    } catch (err) {
      throw this.withLayer(err, header.name);
    }
  }

  private apply(header: Header): FileSink | undefined {
    this.stats.entries++;
    const pax = (header.pax ?? undefined) as Record<string, string> | undefined;
    if (pax !== undefined) this.countXattrs(pax);
    const parts = entryParts(header.name);
    const base = parts.at(-1);
    const whiteout = base === undefined ? undefined : parseWhiteout(base);
    if (whiteout !== undefined) {
      this.applyWhiteout(parts, whiteout);
      return undefined;
    }
    // tar-stream reports types it does not know as null.
    const type = (header.type as string | null) ?? 'unknown';
    const uid = this.hostId(header, pax?.uid ?? header.uid, 'uid');
    const gid = this.hostId(header, pax?.gid ?? header.gid, 'gid');
    const mode = header.mode & 0o7777;
    const mtime = header.mtime;
    if (base === undefined) {
      // `./`: the root itself. Only a directory makes sense there.
      if (type === 'directory') this.dir({ rel: '', abs: this.resolver.root, uid, gid, mode, mtime });
      return undefined;
    }
    const parent = this.resolver.dir(parts, parts.length - 1, true) as string;
    const rel = parent === '' ? base : `${parent}/${base}`;
    const abs = this.resolver.abs(rel);
    switch (type) {
      case 'file':
      case 'contiguous-file':
        return this.file({ rel, abs, uid, gid, mode, mtime });
      case 'directory':
        this.dir({ rel, abs, uid, gid, mode, mtime });
        return undefined;
      case 'symlink':
        this.replace(rel, abs);
        symlinkSync(header.linkname, abs);
        lchownSync(abs, uid, gid);
        lutimesSync(abs, mtime, mtime);
        return undefined;
      case 'link':
        this.hardlink(header, rel, abs);
        return undefined;
      case 'fifo':
      case 'character-device':
      case 'block-device':
        this.stats.skippedSpecial++;
        return undefined;
      default:
        this.stats.skippedUnknown++;
        return undefined;
    }
  }

  /** Sets directory modes and mtimes, deepest first, once every layer is written. */
  finish(): void {
    const dirs = [...this.dirFixups.entries()].sort((a, b) => b[0].length - a[0].length);
    for (const [rel, fix] of dirs) {
      const abs = this.resolver.abs(rel);
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (st === undefined || !st.isDirectory()) continue;
      chmodSync(abs, fix.mode);
      utimesSync(abs, fix.mtime, fix.mtime);
    }
  }

  /** Names the layer and entry in a typed error that does not name them yet. */
  private withLayer(err: unknown, entry: string): unknown {
    if (!(err instanceof PaddockError) || err.details?.layer !== undefined) return err;
    return new PaddockError(err.code, `layer ${this.layer}: ${err.message}`, {
      ...err.details,
      layer: this.layer,
      entry,
    });
  }

  private hostId(header: Header, raw: string | number | undefined, kind: 'uid' | 'gid'): number {
    const id = Number(raw ?? 0);
    if (!Number.isInteger(id) || id < 0 || id >= this.shift.count) {
      throw new PaddockError(
        'INVALID_ARGUMENT',
        `the image needs ids above the mapped range: "${header.name}" in layer ${this.layer} has ${kind} ${raw}, sandboxes map ${kind}s 0..${this.shift.count - 1}`,
        { layer: this.layer, entry: header.name, [kind]: id },
      );
    }
    return this.shift.base + id;
  }

  private countXattrs(pax: Record<string, string>): void {
    for (const key of Object.keys(pax)) {
      if (key.startsWith('SCHILY.xattr.') || key.startsWith('LIBARCHIVE.xattr.')) this.stats.skippedXattrs++;
    }
  }

  private markWritten(rel: string): void {
    this.layerPaths.add(rel);
    // Its parents belong to this layer too, even where the tar does not list them.
    for (let cut = rel.lastIndexOf('/'); cut > 0; cut = rel.lastIndexOf('/', cut - 1)) {
      const parent = rel.slice(0, cut);
      if (this.layerPaths.has(parent)) break;
      this.layerPaths.add(parent);
    }
  }

  /**
   * Something was removed or replaced. Cached resolutions can run through a directory or a
   * symlink, and dir fix-ups live below directories; a removed file touches neither, which
   * matters for layers that replace thousands of files.
   */
  private removed(rel: string, what: Removed): void {
    this.layerPaths.delete(rel);
    if (what === 'other') return;
    this.resolver.forget();
    if (what === 'symlink' || this.dirFixups.size === 0) return;
    const prefix = `${rel}/`;
    for (const key of this.dirFixups.keys()) {
      if (key === rel || key.startsWith(prefix)) this.dirFixups.delete(key);
    }
  }

  /** Clears the final component for a new non-directory entry (never writing through it). */
  private replace(rel: string, abs: string): void {
    const what = removePath(abs);
    if (what !== undefined) this.removed(rel, what);
    this.markWritten(rel);
  }

  private applyWhiteout(parts: string[], whiteout: NonNullable<ReturnType<typeof parseWhiteout>>): void {
    this.stats.whiteouts++;
    if (whiteout.kind === 'meta') return;
    const parent = this.resolver.dir(parts, parts.length - 1, false);
    if (parent === undefined) return; // nothing below to hide
    if (whiteout.kind === 'remove') {
      const rel = parent === '' ? whiteout.name : `${parent}/${whiteout.name}`;
      const what = removePath(this.resolver.abs(rel));
      if (what !== undefined) this.removed(rel, what);
      return;
    }
    applyOpaque({
      abs: this.resolver.abs(parent),
      rel: parent,
      keep: this.layerPaths,
      onRemove: (rel, what) => this.removed(rel, what),
    });
  }

  private file(e: { rel: string; abs: string; uid: number; gid: number; mode: number; mtime: Date }): FileSink {
    this.replace(e.rel, e.abs);
    // O_EXCL|O_NOFOLLOW: the name was just cleared; if anything appeared there since, fail.
    const fd = openSync(e.abs, FILE_FLAGS, 0o600);
    return {
      write: (chunk) => {
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off);
      },
      end: () => {
        try {
          fchownSync(fd, e.uid, e.gid);
          fchmodSync(fd, e.mode); // after chown: chown clears setuid/setgid
          futimesSync(fd, e.mtime, e.mtime);
        } finally {
          closeSync(fd);
        }
      },
      abort: () => closeSync(fd),
    };
  }

  private dir(e: { rel: string; abs: string; uid: number; gid: number; mode: number; mtime: Date }): void {
    const st = lstatSync(e.abs, { throwIfNoEntry: false });
    if (st === undefined || !st.isDirectory()) {
      if (st !== undefined) this.removed(e.rel, removePath(e.abs) ?? 'other');
      // Written 0755 until the end: the mode from the tar may forbid writing its children.
      mkdirSync(e.abs, { mode: 0o755 });
    }
    lchownSync(e.abs, e.uid, e.gid);
    this.markWritten(e.rel);
    this.dirFixups.set(e.rel, { mode: e.mode, mtime: e.mtime });
  }

  private hardlink(header: Header, rel: string, abs: string): void {
    const { linkname } = header;
    const parts = entryParts(linkname);
    const base = parts.at(-1);
    const parent = base === undefined ? undefined : this.resolver.dir(parts, parts.length - 1, false);
    const srcRel = parent === undefined ? undefined : parent === '' ? base : `${parent}/${base}`;
    const src = srcRel === undefined ? undefined : this.resolver.abs(srcRel);
    const st = src === undefined ? undefined : lstatSync(src, { throwIfNoEntry: false });
    if (src === undefined || st === undefined || !st.isFile()) {
      throw new PaddockError(
        'INVALID_ARGUMENT',
        `layer ${this.layer}: hard link "${header.name}" points to "${linkname}", which is not a regular file in the image`,
        { layer: this.layer, entry: header.name, linkname },
      );
    }
    if (src === abs) return; // a link to itself: nothing to do
    this.replace(rel, abs);
    // link(2) does not follow a symlink given as the source; the source was lstat()ed a file.
    linkSync(src, abs);
  }
}

import { type FSWatcher, statSync, watch } from 'node:fs';
import { posix } from 'node:path';
import { PaddockError, type WatchEvent } from '@paddock/protocol';
import { type BatchChanges, type Found, planBatch } from './batch-plan.js';
import { dirMtimeMs, type EntryInfo, scanDir } from './dir-scan.js';

/** Notifications are gathered this long before the dirty directories are rescanned. */
const DEBOUNCE_MS = 5;
/** Every watched directory's mtime is checked this often, for changes inotify did not report. */
const POLL_INTERVAL_MS = 1_000;
/**
 * After this many notifications between two batches, the kernel's queue (16384 events by
 * default) may have overflowed; libuv drops the overflow notice, so everything is rescanned.
 */
const OVERFLOW_SUSPECT_NOTIFICATIONS = 4_096;
/**
 * Kernel pseudo-filesystems: a recursive watch from above (e.g. of `/`) does not descend
 * into them; they change all the time and never through the user's own writes.
 */
const PSEUDO_FS_DIRS = new Set(['/proc', '/sys', '/dev']);
/** File names remembered per directory as "modified" between two scans. */
const MAX_MODIFIED_NAMES = 4_096;
/**
 * File times come from a coarse kernel clock (a few ms): a directory changed within this
 * long before it was scanned may have changed again with the same mtime, so it is rescanned.
 */
const COARSE_CLOCK_MS = 50;

interface DirState {
  path: string;
  entries: Map<string, EntryInfo>;
  /** Undefined when the kernel refused a watch (out of inotify watches): the poll covers it. */
  watcher: FSWatcher | undefined;
  /** Names the kernel reported modified (content or attributes) since the last scan. */
  modified: Set<string>;
  mtimeMs: number;
  scannedAtMs: number;
}

export interface TreeWatcherOptions {
  recursive: boolean;
  /** Which paths (relative to the root) are reported. */
  include: (relPath: string) => boolean;
  /** Each batch of events, in replay order. */
  onEvents: (events: WatchEvent[]) => void;
  /** The watch is over: the root is gone, or scanning failed. */
  onEnd: (err: PaddockError | Error) => void;
}

/**
 * Watches a directory tree. inotify (fs.watch) can coalesce and overflow, so its
 * notifications are only hints: the watcher keeps a snapshot of every directory (name →
 * inode, type, size, mtime), rescans the directories that were hinted dirty (and, on any
 * doubt, all of them) and reports the differences. Whatever inotify loses, the events add
 * up to the current state.
 */
export class TreeWatcher {
  private readonly dirs = new Map<string, DirState>();
  private readonly dirty = new Set<DirState>();
  private timer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private flushing = false;
  private paused = false;
  private closed = false;
  private notifications = 0;
  private rootGone = false;

  constructor(
    readonly root: string,
    private readonly options: TreeWatcherOptions,
  ) {}

  /** Takes the first snapshot (reporting nothing); every change after it resolves is reported. */
  async start(): Promise<void> {
    // ENOENT becomes NOT_FOUND naming the path (errors-to-http.ts).
    if (!statSync(this.root).isDirectory()) {
      throw new PaddockError('NOT_A_DIRECTORY', `not a directory: ${this.root}`, { path: this.root });
    }
    const ok = await this.addDir(this.root, undefined);
    if (!ok) throw new PaddockError('NOT_A_DIRECTORY', `not a directory: ${this.root}`, { path: this.root });
    this.pollTimer = setInterval(() => this.poll(), POLL_INTERVAL_MS);
  }

  /** Stops rescanning (the reader is slow); changes keep being noted and are reported coalesced. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.pollTimer);
    for (const state of this.dirs.values()) state.watcher?.close();
    this.dirs.clear();
  }

  /** Number of directories watched (for tests and logs). */
  get dirCount(): number {
    return this.dirs.size;
  }

  /** Watches `path` and scans it (recursively), adding what it finds to `found` when given. */
  private async addDir(path: string, found: Found[] | undefined): Promise<boolean> {
    const state: DirState = {
      path,
      entries: new Map(),
      watcher: undefined,
      modified: new Set(),
      mtimeMs: 0,
      scannedAtMs: 0,
    };
    this.dirs.get(path)?.watcher?.close();
    this.dirs.set(path, state);
    // Watch first, then scan: an entry made in between is in the scan or in a notification.
    state.watcher = this.watchDir(state);
    const scan = await scanDir(path);
    if (scan === undefined || this.closed) {
      this.dropDir(state);
      return false;
    }
    state.entries = scan.entries;
    state.mtimeMs = scan.mtimeMs;
    state.scannedAtMs = scan.startedAtMs;
    for (const [name, info] of sortedEntries(scan.entries)) {
      const child = posix.join(path, name);
      found?.push({ path: child, info });
      if (this.options.recursive && info.fileType === 'dir' && !PSEUDO_FS_DIRS.has(child)) {
        await this.addDir(child, found);
      }
    }
    return true;
  }

  private watchDir(state: DirState): FSWatcher | undefined {
    try {
      const watcher = watch(state.path, { persistent: false }, (eventType, filename) => {
        this.notifications++;
        if (eventType === 'change' && filename && state.modified.size < MAX_MODIFIED_NAMES) {
          state.modified.add(filename.toString());
        }
        this.markDirty(state);
      });
      watcher.on('error', () => {
        watcher.close();
        if (state.watcher === watcher) state.watcher = undefined;
        this.markDirty(state);
      });
      return watcher;
    } catch {
      // ENOSPC (no inotify watches left) or the directory just vanished: the poll and the
      // parent's rescan cover both.
      return undefined;
    }
  }

  private markDirty(state: DirState): void {
    if (this.closed) return;
    this.dirty.add(state);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.flushing || this.paused || this.closed || this.dirty.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((err: unknown) => this.end(err as Error));
    }, DEBOUNCE_MS);
  }

  /** Checks every directory's mtime: a change inotify never reported shows up here. */
  private poll(): void {
    if (this.paused || this.closed) return;
    for (const state of this.dirs.values()) {
      const mtime = dirMtimeMs(state.path);
      const doubtful = state.scannedAtMs - state.mtimeMs < COARSE_CLOCK_MS;
      if (state.watcher === undefined || mtime !== state.mtimeMs || doubtful) this.markDirty(state);
    }
  }

  private async flush(): Promise<void> {
    if (this.closed || this.paused) return;
    this.flushing = true;
    try {
      if (this.notifications > OVERFLOW_SUSPECT_NOTIFICATIONS) for (const s of this.dirs.values()) this.dirty.add(s);
      this.notifications = 0;
      const batch = [...this.dirty];
      this.dirty.clear();
      const events = await this.rescan(batch);
      if (events.length > 0 && !this.closed) this.options.onEvents(events);
      if (this.rootGone) {
        this.end(new PaddockError('NOT_FOUND', `the watched directory was removed: ${this.root}`, { path: this.root }));
      }
    } finally {
      this.flushing = false;
    }
    this.schedule();
  }

  /** Rescans `batch`, updates the snapshot and returns the events, in replay order. */
  private async rescan(batch: DirState[]): Promise<WatchEvent[]> {
    const changes: BatchChanges = { removed: [], created: [], written: [] };
    let rootGone = false;
    for (const state of batch) {
      // Dropped, or moved to another key, earlier in this batch: its new key is rescanned.
      if (this.dirs.get(state.path) !== state) continue;
      const modified = state.modified;
      state.modified = new Set();
      const scan = await scanDir(state.path);
      if (this.closed) return [];
      if (scan === undefined) {
        if (state.path === this.root) rootGone = true;
        // Gone (or moved): its parent's listing says which, so make sure it is looked at.
        else this.markParentDirty(state.path);
        continue;
      }
      diffInto(state, scan.entries, modified, changes);
      state.entries = scan.entries;
      state.mtimeMs = scan.mtimeMs;
      state.scannedAtMs = scan.startedAtMs;
    }
    if (rootGone) return this.rootRemoved();

    const plan = planBatch(changes, (dir) => this.descendants(dir));
    const events: WatchEvent[] = [];
    for (const f of plan.overwritten) this.emitRemove(f, events);
    for (const { from, to } of plan.renames) {
      if (to.info.fileType === 'dir' && this.options.recursive) this.moveDirs(from.path, to.path);
      this.emitRename(from, to, events);
    }
    for (const f of plan.removes) this.emitRemove(f, events);
    for (const c of plan.creates) {
      this.emit('create', c, events);
      if (c.info.fileType === 'dir' && this.options.recursive && !PSEUDO_FS_DIRS.has(c.path)) {
        const inside: Found[] = [];
        await this.addDir(c.path, inside);
        for (const f of inside) this.emit('create', f, events);
      }
    }
    for (const w of plan.writes) this.emit('write', w, events);
    return events;
  }

  private markParentDirty(path: string): void {
    const parent = this.dirs.get(posix.dirname(path));
    if (parent !== undefined) this.markDirty(parent);
  }

  /** The root itself went away: everything in it is reported removed, and the watch ends. */
  private rootRemoved(): WatchEvent[] {
    const events: WatchEvent[] = [];
    for (const f of this.descendants(this.root).reverse()) this.emit('remove', f, events);
    this.rootGone = true;
    return events;
  }

  private end(err: Error): void {
    if (this.closed) return;
    this.close();
    this.options.onEnd(err);
  }

  /** What the snapshot knows under `dir`, parents before their contents. */
  private descendants(dir: string): Found[] {
    const out: Found[] = [];
    const visit = (path: string) => {
      const state = this.dirs.get(path);
      if (state === undefined) return;
      for (const [name, info] of sortedEntries(state.entries)) {
        const child = posix.join(path, name);
        out.push({ path: child, info });
        if (info.fileType === 'dir') visit(child);
      }
    };
    visit(dir);
    return out;
  }

  /** A directory was renamed: its snapshot (and inotify watches, which follow inodes) move along. */
  private moveDirs(from: string, to: string): void {
    for (const key of [...this.dirs.keys()]) {
      if (key === to || key.startsWith(`${to}/`)) this.dropDir(this.dirs.get(key) as DirState);
    }
    for (const [key, state] of [...this.dirs]) {
      if (key !== from && !key.startsWith(`${from}/`)) continue;
      this.dirs.delete(key);
      state.path = to + key.slice(from.length);
      this.dirs.set(state.path, state);
      // It may have changed while we looked for it at its old path.
      this.markDirty(state);
    }
  }

  private dropDir(state: DirState): void {
    state.watcher?.close();
    if (this.dirs.get(state.path) === state) this.dirs.delete(state.path);
    this.dirty.delete(state);
  }

  private emitRemove(f: Found, events: WatchEvent[]): void {
    if (f.info.fileType === 'dir') {
      const state = this.dirs.get(f.path);
      if (state !== undefined) this.dropDir(state);
    }
    this.emit('remove', f, events);
  }

  private emitRename(from: Found, to: Found, events: WatchEvent[]): void {
    const oldIn = this.options.include(this.relative(from.path));
    const newIn = this.options.include(this.relative(to.path));
    // Across the filter's edge a rename is, for the reader, a create or a remove.
    if (oldIn && newIn) events.push({ type: 'rename', path: to.path, oldPath: from.path, fileType: to.info.fileType });
    else if (newIn) events.push({ type: 'create', path: to.path, fileType: to.info.fileType });
    else if (oldIn) events.push({ type: 'remove', path: from.path, fileType: from.info.fileType });
  }

  private emit(type: 'create' | 'write' | 'remove', f: Found, events: WatchEvent[]): void {
    if (this.options.include(this.relative(f.path))) events.push({ type, path: f.path, fileType: f.info.fileType });
  }

  private relative(path: string): string {
    return posix.relative(this.root, path);
  }
}

/** Adds the differences between a directory's old snapshot and its new listing to `changes`. */
function diffInto(state: DirState, after: Map<string, EntryInfo>, modified: Set<string>, changes: BatchChanges): void {
  const before = state.entries;
  for (const [name, old] of before) {
    if (!after.has(name)) changes.removed.push({ path: posix.join(state.path, name), info: old });
  }
  for (const [name, now] of sortedEntries(after)) {
    const path = posix.join(state.path, name);
    const old = before.get(name);
    if (old === undefined) {
      changes.created.push({ path, info: now });
    } else if (old.ino !== now.ino || old.fileType !== now.fileType) {
      changes.removed.push({ path, info: old });
      changes.created.push({ path, info: now });
    } else if (
      now.fileType !== 'dir' &&
      (old.sizeBytes !== now.sizeBytes || old.mtimeMs !== now.mtimeMs || modified.has(name))
    ) {
      changes.written.push({ path, info: now });
    }
  }
}

function sortedEntries(entries: Map<string, EntryInfo>): [string, EntryInfo][] {
  return [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

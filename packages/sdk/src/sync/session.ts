import { type FSWatcher, watch as watchLocal } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { posix } from 'node:path';
import type { WatchEvent } from '@paddock/protocol';
import { NotADirectoryError, NotFoundError } from '../errors.js';
import type { Files } from '../files.js';
import { applyAction, describeAction, type SyncCounts, type SyncSides } from './apply.js';
import { deleteKeys, moveKeys, planSync } from './plan.js';
import { loadBase, type SyncTarget, saveBase } from './sync-state.js';
import { remoteEntry, scanLocal, scanRemote, syncIgnore } from './tree.js';

/** Changes are gathered this long after the first notification, so a burst makes one pass. */
const GATHER_MS = 50;

export interface SyncOptions {
  files: Files;
  localRoot: string;
  target: SyncTarget;
  /** Extra ignore patterns (on top of `.git`, `node_modules` and the sync's own files). */
  ignore?: readonly string[];
  /** One line per action taken. */
  log: (line: string) => void;
  /** Conflicts and notes. */
  warn: (line: string) => void;
}

export interface PassResult extends SyncCounts {
  conflicts: number;
}

/**
 * A two-way sync between a local directory and a sandbox directory, built on the public
 * SDK. `syncOnce` reconciles both sides; `watch` does that, then keeps them in step from the
 * local fs.watch and the sandbox's watch stream until its signal aborts. Each side's own
 * copies come back as notifications, but then both sides already match the base, so
 * nothing echoes.
 */
export class SyncSession {
  private readonly sides: SyncSides;
  private readonly ignored: (relPath: string) => boolean;

  private constructor(
    private readonly options: SyncOptions,
    sides: SyncSides,
  ) {
    this.sides = sides;
    this.ignored = syncIgnore(options.ignore ?? []);
  }

  /** Checks both roots (creating them when missing) and loads the last sync's base. */
  static async open(options: SyncOptions): Promise<SyncSession> {
    const { files, target, localRoot } = options;
    try {
      const info = await files.stat(target.path);
      if (info.type !== 'dir') {
        throw new NotADirectoryError(
          'NOT_A_DIRECTORY',
          `${target.sandboxId}:${target.path} is a ${info.type}, not a directory: sync needs a directory on both sides`,
        );
      }
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      await files.mkdir(target.path);
    }
    await mkdir(localRoot, { recursive: true });
    const { base, note } = await loadBase(localRoot, target);
    if (note !== undefined) options.warn(note);
    const sides: SyncSides = { files, localRoot, remoteRoot: target.path, base, local: new Map(), remote: new Map() };
    return new SyncSession(options, sides);
  }

  /** One full reconciliation: both sides scanned, planned, applied, base saved. */
  async syncOnce(signal?: AbortSignal): Promise<PassResult> {
    this.sides.remote = await scanRemote(this.sides.files, this.sides.remoteRoot, this.ignored, signal);
    return this.pass(signal);
  }

  /**
   * Syncs, then follows both sides until `signal` aborts. Rejects if the sandbox's watch
   * breaks (e.g. the sandbox is killed). `onPass` hears each pass that did something.
   */
  async watch(signal: AbortSignal, onPass?: (result: PassResult) => void): Promise<void> {
    const pending: WatchEvent[] = [];
    let dirty = false;
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const poke = () => {
      dirty = true;
      wake?.();
    };
    // Both watches start before the first scan, so nothing done meanwhile is missed.
    const handle = await this.sides.files.watch(
      this.sides.remoteRoot,
      (event) => {
        pending.push(event);
        poke();
      },
      {
        signal,
        onError: (err) => {
          failure = err;
          wake?.();
        },
      },
    );
    let local: FSWatcher | undefined;
    try {
      local = watchLocal(this.sides.localRoot, { recursive: true }, (_type, name) => {
        if (name !== null && this.ignored(name.toString())) return;
        poke();
      });
      local.on('error', (err) => {
        failure = err;
        wake?.();
      });
      onPass?.(await this.syncOnce(signal));
      while (!signal.aborted && failure === undefined) {
        if (!dirty) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            signal.addEventListener('abort', () => resolve(), { once: true });
          });
          wake = undefined;
          continue;
        }
        // Gathering a burst: one pass for a whole `git checkout` rather than one per file.
        await new Promise((resolve) => setTimeout(resolve, GATHER_MS));
        dirty = false;
        try {
          await this.takeRemoteEvents(pending.splice(0), signal);
          const result = await this.pass(signal);
          if (result.pushed + result.pulled + result.deleted + result.renamed + result.conflicts > 0) onPass?.(result);
        } catch (err) {
          // Stopped mid-pass: what was done is in the base; the rest waits for the next run.
          if (signal.aborted) break;
          throw err;
        }
      }
    } finally {
      local?.close();
      await handle.stop();
      // Whatever was applied before a stop is kept for the next run.
      await saveBase(this.sides.localRoot, this.options.target, this.sides.base);
    }
    if (failure !== undefined) throw failure;
  }

  /** Scans the local side, plans against the known remote tree, applies, saves. */
  private async pass(signal?: AbortSignal): Promise<PassResult> {
    this.sides.local = await scanLocal(this.sides.localRoot, this.ignored);
    const plan = planSync(this.sides.base, this.sides.local, this.sides.remote);
    for (const conflict of plan.conflicts) this.options.warn(`conflict: ${conflict}`);
    const counts: SyncCounts = { pushed: 0, pulled: 0, deleted: 0, renamed: 0 };
    const sides = signal ? { ...this.sides, signal } : this.sides;
    for (const action of plan.actions) {
      const line = describeAction(action);
      await applyAction(sides, action, counts);
      if (line !== undefined) this.options.log(line);
    }
    if (plan.actions.length > 0) await saveBase(this.sides.localRoot, this.options.target, this.sides.base);
    return { ...counts, conflicts: plan.conflicts.length };
  }

  /** Brings the remote tree up to date from the sandbox's watch events (stat'ing what changed). */
  private async takeRemoteEvents(events: WatchEvent[], signal: AbortSignal): Promise<void> {
    const remote = this.sides.remote;
    const toStat = new Set<string>();
    for (const event of events) {
      const rel = this.relative(event.path);
      if (rel === undefined) continue;
      const wanted = !this.ignored(rel);
      if (event.type === 'rename') {
        const old = event.oldPath === undefined ? undefined : this.relative(event.oldPath);
        if (old !== undefined && !this.ignored(old)) {
          if (wanted) moveKeys(remote, old, rel);
          else deleteKeys(remote, old);
        }
        if (wanted) toStat.add(rel);
      } else if (event.type === 'remove') {
        deleteKeys(remote, rel);
      } else if (wanted && (event.fileType === 'file' || event.fileType === 'dir')) {
        toStat.add(rel);
      }
    }
    for (const rel of toStat) await this.refreshRemote(rel, signal);
  }

  /** Re-reads one remote path (a directory with everything below it). */
  private async refreshRemote(rel: string, signal: AbortSignal): Promise<void> {
    const files = this.sides.files;
    const path = posix.join(this.sides.remoteRoot, rel);
    let info: Awaited<ReturnType<Files['stat']>>;
    try {
      info = await files.stat(path, { signal });
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      deleteKeys(this.sides.remote, rel);
      return;
    }
    if (info.type !== 'file' && info.type !== 'dir') return;
    const known = this.sides.remote.get(rel);
    this.sides.remote.set(rel, remoteEntry(info));
    if (info.type === 'dir' && known?.type !== 'dir') {
      const inside = await scanRemote(files, path, (p) => this.ignored(`${rel}/${p}`), signal);
      for (const [p, entry] of inside) this.sides.remote.set(`${rel}/${p}`, entry);
    }
  }

  private relative(path: string): string | undefined {
    const root = this.sides.remoteRoot;
    const prefix = root === '/' ? '/' : `${root}/`;
    return path.startsWith(prefix) ? path.slice(prefix.length) : undefined;
  }
}

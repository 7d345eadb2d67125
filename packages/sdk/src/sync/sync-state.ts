import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SideEntry } from './tree.js';

/** What both sides looked like at the last sync, per path: tells a delete from a new file. */
export interface BaseEntry {
  type: 'file' | 'dir';
  local: SideEntry;
  remote: SideEntry;
}

export type Base = Map<string, BaseEntry>;

/** `LOCAL_DIR/.paddock-sync/state.json` (docs/sync.md). */
interface StateFile {
  version: 1;
  remote: { sandboxId: string; path: string };
  syncedAt: string;
  entries: Record<string, BaseEntry>;
}

export const STATE_DIR = '.paddock-sync';

export interface SyncTarget {
  sandboxId: string;
  path: string;
}

function statePath(localRoot: string): string {
  return join(localRoot, STATE_DIR, 'state.json');
}

/**
 * The base of the last sync of `localRoot` with `target`. A missing file, or one written
 * for another sandbox or path, gives an empty base (a first sync) and says why.
 */
export async function loadBase(localRoot: string, target: SyncTarget): Promise<{ base: Base; note?: string }> {
  let text: string;
  try {
    text = await readFile(statePath(localRoot), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { base: new Map() };
    throw err;
  }
  let state: StateFile;
  try {
    state = JSON.parse(text) as StateFile;
  } catch {
    return { base: new Map(), note: `ignoring the unreadable sync state ${statePath(localRoot)}` };
  }
  if (state.version !== 1 || state.remote?.sandboxId !== target.sandboxId || state.remote.path !== target.path) {
    const was = state.remote ? `${state.remote.sandboxId}:${state.remote.path}` : 'another target';
    return { base: new Map(), note: `the last sync of this directory was with ${was}: starting afresh` };
  }
  return { base: new Map(Object.entries(state.entries ?? {})) };
}

/** Writes the base atomically (temp file + rename), so a crash never leaves half a state. */
export async function saveBase(localRoot: string, target: SyncTarget, base: Base): Promise<void> {
  const dir = join(localRoot, STATE_DIR);
  await mkdir(dir, { recursive: true });
  const state: StateFile = {
    version: 1,
    remote: { sandboxId: target.sandboxId, path: target.path },
    syncedAt: new Date().toISOString(),
    entries: Object.fromEntries([...base].sort(([a], [b]) => (a < b ? -1 : 1))),
  };
  const temp = join(dir, `state.json.${process.pid}.tmp`);
  await writeFile(temp, `${JSON.stringify(state, null, 1)}\n`);
  await rename(temp, statePath(localRoot));
}

import { randomBytes } from 'node:crypto';
import { PaddockError, type WatchLine } from '@paddock/protocol';
import { openWatch } from '../../agent-client/watch-stream.js';
import { ConnectError, type ConnectStream } from './connect-protocol.js';
import { toEntryInfo } from './entry-info.js';
import { type EnvdCall, field, resolvePath } from './envd-call.js';

const EVENT_TYPES: Record<string, string> = {
  create: 'EVENT_TYPE_CREATE',
  write: 'EVENT_TYPE_WRITE',
  remove: 'EVENT_TYPE_REMOVE',
  rename: 'EVENT_TYPE_RENAME',
};

/** Longest a polled watcher keeps unread events (Python's sync `watch_dir`). */
const MAX_BUFFERED_EVENTS = 10_000;

interface Watcher {
  events: unknown[];
  controller: AbortController;
  error: unknown;
}

/**
 * `filesystem.Filesystem` (docs/e2b-protocol.md §3.3) over the agent's file routes. Paths are
 * resolved like envd does: relative ones against the acting user's home.
 */
export class FilesystemService {
  private readonly watchers = new Map<string, Watcher>();

  async stat(call: EnvdCall, message: unknown): Promise<unknown> {
    const path = resolvePath(field(message, 'path'), call.user);
    return { entry: toEntryInfo(await call.agent.stat(path, { signal: call.signal })) };
  }

  /** Creates parents too; an existing path is `already_exists` (the SDK's `makeDir` → false). */
  async makeDir(call: EnvdCall, message: unknown): Promise<unknown> {
    const path = resolvePath(field(message, 'path'), call.user);
    const existing = await call.agent.stat(path, { signal: call.signal }).catch((err: unknown) => {
      if (err instanceof PaddockError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    });
    if (existing) throw new ConnectError('already_exists', `${path} already exists`);
    const info = await call.agent.mkdir(
      { path, ...(call.user !== undefined ? { user: call.user } : {}) },
      { signal: call.signal },
    );
    return { entry: toEntryInfo(info) };
  }

  async move(call: EnvdCall, message: unknown): Promise<unknown> {
    const from = resolvePath(field(message, 'source'), call.user, 'source');
    const to = resolvePath(field(message, 'destination'), call.user, 'destination');
    const info = await call.agent.rename(
      { from, to, ...(call.user !== undefined ? { user: call.user } : {}) },
      { signal: call.signal },
    );
    return { entry: toEntryInfo(info) };
  }

  async listDir(call: EnvdCall, message: unknown): Promise<unknown> {
    const path = resolvePath(field(message, 'path'), call.user);
    const depth = Number(field(message, 'depth') ?? 1) || 1;
    const list = await call.agent.list(path, { depth: Math.min(depth, 10), signal: call.signal });
    return { entries: list.entries.map(toEntryInfo) };
  }

  async remove(call: EnvdCall, message: unknown): Promise<unknown> {
    const path = resolvePath(field(message, 'path'), call.user);
    await call.agent.remove({ path, ...(call.user !== undefined ? { user: call.user } : {}) }, { signal: call.signal });
    return {};
  }

  /** Streams `start`, then one `filesystem` event per change, until the client goes away. */
  async watchDir(call: EnvdCall, message: unknown, stream: () => ConnectStream): Promise<void> {
    const { root, lines } = await this.open(call, message, call.signal);
    for await (const line of lines) {
      const events = await this.toEvents(call, root, line, message);
      if (line.type === 'ready') stream().send({ start: {} });
      for (const event of events) stream().send({ filesystem: event });
    }
  }

  /** Python's sync `watch_dir`: a watcher whose events are polled. */
  async createWatcher(call: EnvdCall, message: unknown): Promise<unknown> {
    const controller = new AbortController();
    const { root, lines } = await this.open(call, message, controller.signal);
    const watcherId = randomBytes(8).toString('hex');
    const watcher: Watcher = { events: [], controller, error: undefined };
    this.watchers.set(watcherId, watcher);
    void (async () => {
      try {
        for await (const line of lines) {
          for (const event of await this.toEvents(call, root, line, message)) {
            if (watcher.events.length < MAX_BUFFERED_EVENTS) watcher.events.push(event);
          }
        }
      } catch (err) {
        if (!controller.signal.aborted) watcher.error = err;
      }
    })();
    return { watcherId };
  }

  getWatcherEvents(_call: EnvdCall, message: unknown): unknown {
    const watcher = this.watcher(message);
    if (watcher.error !== undefined) throw watcher.error;
    return { events: watcher.events.splice(0) };
  }

  removeWatcher(_call: EnvdCall, message: unknown): unknown {
    const id = String(field(message, 'watcherId', 'watcher_id'));
    this.watcher(message).controller.abort(new Error('watcher removed'));
    this.watchers.delete(id);
    return {};
  }

  /** Stops every watcher of a sandbox's agent connection (not tracked per sandbox: ids are global). */
  close(): void {
    for (const w of this.watchers.values()) w.controller.abort(new Error('server closing'));
    this.watchers.clear();
  }

  private watcher(message: unknown): Watcher {
    const id = String(field(message, 'watcherId', 'watcher_id'));
    const watcher = this.watchers.get(id);
    if (!watcher) throw new ConnectError('not_found', `watcher '${id}' not found`);
    return watcher;
  }

  private async open(call: EnvdCall, message: unknown, signal: AbortSignal) {
    const root = resolvePath(field(message, 'path'), call.user);
    const recursive = field(message, 'recursive') === true;
    const lines = await openWatch(call.agent, { path: root, recursive }, signal);
    return { root, lines };
  }

  private async toEvents(call: EnvdCall, root: string, line: WatchLine, message: unknown): Promise<unknown[]> {
    if (line.type === 'ready' || line.type === 'keepalive') return [];
    if (line.type === 'error') throw new PaddockError(line.error.code as 'INTERNAL', line.error.message);
    const rel = (p: string) => (p.startsWith(`${root}/`) ? p.slice(root.length + 1) : p);
    const includeEntry = field(message, 'includeEntry', 'include_entry') === true;
    const entryOf = async (path: string) => {
      if (!includeEntry || line.type === 'remove') return {};
      const info = await call.agent.stat(path).catch(() => undefined);
      return info ? { entry: toEntryInfo(info) } : {};
    };
    // fsnotify reports a rename as RENAME of the old name and CREATE of the new one.
    if (line.type === 'rename') {
      return [
        ...(line.oldPath ? [{ name: rel(line.oldPath), type: EVENT_TYPES.rename }] : []),
        { name: rel(line.path), type: EVENT_TYPES.create, ...(await entryOf(line.path)) },
      ];
    }
    return [{ name: rel(line.path), type: EVENT_TYPES[line.type], ...(await entryOf(line.path)) }];
  }
}

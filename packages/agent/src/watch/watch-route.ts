import type { IncomingMessage, ServerResponse } from 'node:http';
import { posix } from 'node:path';
import {
  ndjsonLine,
  PaddockError,
  pathFilter,
  WATCH_KEEPALIVE_MS,
  type WatchEvent,
  type WatchLine,
  WatchQuery,
} from '@paddock/protocol';
import { toPaddockError } from '../errors-to-http.js';
import { normalPath } from '../file-info.js';
import { parseInput, queryOf } from '../request-input.js';
import { TreeWatcher } from './tree-watcher.js';

/**
 * `GET /watch?path=&recursive=&filter=`: answers once the first snapshot is taken (a
 * missing path is a NOT_FOUND status), then streams NDJSON: `ready`, the events, a
 * `keepalive` while quiet, and an `error` line if the watch ends on its own. The watch
 * stops when the client disconnects. A slow reader pauses the rescans; what changes
 * meanwhile is reported coalesced once it catches up, so the agent's memory stays bounded.
 */
export async function handleWatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const query = parseInput(WatchQuery, queryOf(req));
  const root = normalPath(query.path);
  const include = pathFilter(filterUnder(root, query.filter));
  let keepalive: NodeJS.Timeout | undefined;
  const finished = new Promise<void>((resolve) => res.once('close', resolve));

  const send = (lines: WatchLine[]): boolean => res.write(lines.map(ndjsonLine).join(''));
  const watcher = new TreeWatcher(root, {
    recursive: query.recursive ?? true,
    include,
    onEvents: (events: WatchEvent[]) => {
      if (res.destroyed) return;
      if (!send(events)) {
        watcher.pause();
        res.once('drain', () => watcher.resume());
      }
    },
    onEnd: (err) => {
      clearInterval(keepalive);
      if (!res.destroyed)
        res.end(ndjsonLine({ type: 'error', error: toPaddockError(err).toBody() } satisfies WatchLine));
    },
  });
  try {
    await watcher.start();
  } catch (err) {
    watcher.close();
    throw err;
  }
  if (req.destroyed || res.destroyed) {
    watcher.close();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  send([{ type: 'ready' }]);
  keepalive = setInterval(() => send([{ type: 'keepalive' }]), WATCH_KEEPALIVE_MS);
  await finished;
  clearInterval(keepalive);
  watcher.close();
}

/** The filter relative to the watched root; an absolute one must lie inside it. */
function filterUnder(root: string, filter: string | undefined): string {
  if (filter === undefined || !filter.startsWith('/')) return filter ?? '';
  const prefix = root === '/' ? '/' : `${root}/`;
  if (filter === root) return '';
  if (!filter.startsWith(prefix)) {
    throw new PaddockError('INVALID_ARGUMENT', `\`filter\`: an absolute filter must lie inside \`path\` (${root})`, {
      field: 'filter',
    });
  }
  return posix.normalize(filter.slice(prefix.length));
}

import type { ServerResponse } from 'node:http';
import { ndjsonLine, PaddockError, type ProcessEvent } from '@paddock/protocol';
import type { ManagedProcess } from './managed-process.js';

/**
 * A process's events from `fromOffset`: `start`, the retained output (a `truncated` entry
 * where the reader's bytes were dropped), live output as it comes, then `exit` carrying
 * the final offset. Ends early, with the signal's reason, on abort.
 */
export async function* processEvents(
  proc: ManagedProcess,
  fromOffset: number,
  signal: AbortSignal,
): AsyncGenerator<ProcessEvent> {
  if (!Number.isInteger(fromOffset) || fromOffset < 0 || fromOffset > proc.log.endOffset) {
    throw new PaddockError(
      'INVALID_ARGUMENT',
      `\`fromOffset\`: must be an integer from 0 to ${proc.log.endOffset} (the output so far), got ${fromOffset}`,
      { field: 'fromOffset' },
    );
  }
  yield { type: 'start', id: proc.id, pid: proc.pid };
  for await (const entry of proc.log.follow(fromOffset, signal)) {
    if (entry.type === 'truncated') yield entry;
    else yield { type: entry.stream, data: entry.data.toString('base64'), offset: entry.offset };
  }
  const exit = await proc.exited;
  yield { type: 'exit', ...exit, offset: proc.log.endOffset };
}

/** Aborts when the response closes before it finished (the client went away). */
export function closeSignal(res: ServerResponse): AbortSignal {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return controller.signal;
}

/**
 * Writes `events` as NDJSON. With `holdOutput` (the foreground owner of a process), a
 * slow reader pauses the process's pipes, so the command slows down instead of its output
 * overflowing the log; other readers never hold a process back.
 */
export async function writeEvents(
  res: ServerResponse,
  events: AsyncIterable<unknown>,
  holdOutput?: ManagedProcess,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  try {
    for await (const event of events) {
      if (res.destroyed) return;
      if (!res.write(ndjsonLine(event)) && !res.destroyed) {
        holdOutput?.pauseOutput();
        await drainedOrClosed(res);
        holdOutput?.resumeOutput();
      }
    }
    res.end();
  } catch (err) {
    // The reader went away (its abort ended the follow): nothing left to tell it.
    if (res.destroyed) return;
    throw err;
  }
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

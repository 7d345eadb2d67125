import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CreatePtyRequest,
  ndjsonLine,
  PaddockError,
  PTY_LIMITS,
  type PtyCreated,
  type PtyEvent,
  PtyOutputQuery,
  PtySize,
} from '@paddock/protocol';
import type { AgentConfig } from '../config.js';
import { parseInput, queryOf, readJson } from '../request-input.js';
import type { PtySession } from './pty-session.js';
import { ptySessions } from './pty-sessions.js';

/** `POST /pty`: starts a session → 201 `{ id, pid }`. */
export async function handleCreatePty(req: IncomingMessage, res: ServerResponse, config: AgentConfig): Promise<void> {
  const request = parseInput(CreatePtyRequest, await readJson(req));
  const session = await ptySessions.create(request, config);
  sendJson(res, 201, { id: session.id, pid: session.pid } satisfies PtyCreated);
}

/** `GET /pty` */
export async function handleListPty(_req: IncomingMessage, res: ServerResponse): Promise<void> {
  sendJson(res, 200, { sessions: ptySessions.list() });
}

type SessionHandler = (req: IncomingMessage, res: ServerResponse, session: PtySession) => Promise<void>;

const SESSION_ROUTES: Record<string, SessionHandler> = {
  'GET /output': streamOutput,
  'POST /input': async (req, res, session) => {
    const data = await readInput(req);
    session.write(data);
    res.writeHead(204).end();
  },
  'POST /resize': async (req, res, session) => {
    session.resize(parseInput(PtySize, await readJson(req)));
    res.writeHead(204).end();
  },
  'POST /kill': async (_req, res, session) => {
    session.kill();
    res.writeHead(204).end();
  },
};

/** Routes under `/pty/:id/…`; false when the path names none of them. */
export async function handlePtyRoute(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const pathname = (req.url ?? '/').split('?', 1)[0] ?? '/';
  const match = /^\/pty\/([^/]+)(\/output|\/input|\/resize|\/kill)$/.exec(pathname);
  const handler = match === null ? undefined : SESSION_ROUTES[`${req.method} ${match[2]}`];
  if (match === null || handler === undefined) return false;
  await handler(req, res, ptySessions.get(decodeURIComponent(match[1] ?? '')));
  return true;
}

/**
 * `GET /pty/:id/output?fromOffset=N`: NDJSON `data` events from `fromOffset` (default: the
 * oldest output kept, i.e. the recent screen), live output as it comes, then one `exit`.
 * A client slower than the program loses the oldest output rather than growing the agent's
 * memory; the offsets of the next chunk show the gap.
 */
async function streamOutput(req: IncomingMessage, res: ServerResponse, session: PtySession): Promise<void> {
  const { fromOffset = session.output.startOffset } = parseInput(PtyOutputQuery, queryOf(req));
  if (fromOffset > session.output.endOffset) {
    throw new PaddockError(
      'INVALID_ARGUMENT',
      `\`fromOffset\`: must be at most ${session.output.endOffset} (the bytes of output so far), got ${fromOffset}`,
      { field: 'fromOffset' },
    );
  }
  const closed = new AbortController();
  res.once('close', () => closed.abort(new Error('client disconnected')));
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  // Written at once: Node (and the server's relay) send the head only with the first bytes,
  // and a quiet program may print nothing for hours.
  res.write(ndjsonLine({ type: 'start', pid: session.pid, offset: fromOffset } satisfies PtyEvent));
  try {
    for await (const entry of session.output.follow(fromOffset, closed.signal)) {
      if (entry.type !== 'data') continue;
      const line = ndjsonLine({ type: 'data', data: entry.data.toString('base64'), offset: entry.offset });
      if (!res.write(line)) await once(res, 'drain', { signal: closed.signal });
    }
    const exit = await session.wait();
    res.end(ndjsonLine({ type: 'exit', ...exit } satisfies PtyEvent));
  } catch (err) {
    if (closed.signal.aborted) return;
    throw err;
  }
}

async function readInput(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let sizeBytes = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    sizeBytes += chunk.length;
    if (sizeBytes > PTY_LIMITS.inputBytes) {
      throw new PaddockError('PAYLOAD_TOO_LARGE', `PTY input is limited to ${PTY_LIMITS.inputBytes} bytes per call`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

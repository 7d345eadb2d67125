import type { IncomingMessage, ServerResponse } from 'node:http';
import { PaddockError, ProcessStdinRequest, SignalProcessRequest, StartProcessRequest } from '@paddock/protocol';
import { z } from 'zod';
import type { AgentConfig } from '../config.js';
import { parseInput, queryOf, readJson } from '../request-input.js';
import type { ManagedProcess } from './managed-process.js';
import { closeSignal, processEvents, writeEvents } from './process-events.js';
import { ProcessTable } from './process-table.js';

const EventsQuery = z.strictObject({ fromOffset: z.coerce.number().int().min(0).optional() });
const StdinQuery = z.strictObject({ eof: z.enum(['true', 'false']).optional() });
const MAX_STDIN_BYTES = 64 * 1_048_576;

let table: ProcessTable | undefined;

/** The agent's one process table, sized by the config on first use. */
export function processTable(config: AgentConfig): ProcessTable {
  table ??= new ProcessTable({
    outputCapacityBytes: config.processOutputBytes,
    maxFinished: config.maxFinishedProcesses,
  });
  return table;
}

/** Kills every running process tree (agent shutdown). */
export function killAllProcesses(): void {
  table?.killAll();
}

/**
 * `POST /processes`: background → 201 ProcessInfo at once (or, with `follow`, its events,
 * the process outliving the stream); foreground → NDJSON events, killed on disconnect.
 */
export async function handleStart(req: IncomingMessage, res: ServerResponse, config: AgentConfig): Promise<void> {
  const request = parseInput(StartProcessRequest, await readJson(req));
  const proc = processTable(config).start(request, config);
  if (request.background !== true) {
    await streamForeground(proc, res);
  } else if (request.follow === true) {
    await writeEvents(res, processEvents(proc, 0, closeSignal(res)));
  } else {
    sendJson(res, 201, proc.info());
  }
}

/** Streams a foreground process to its owner; closing the stream early kills its tree. */
export async function streamForeground(proc: ManagedProcess, res: ServerResponse): Promise<void> {
  const signal = closeSignal(res);
  const onClose = () => {
    if (proc.exit === undefined) proc.signal('SIGKILL', 'tree');
  };
  if (res.destroyed) onClose();
  else res.once('close', onClose);
  await writeEvents(res, processEvents(proc, 0, signal), proc);
}

/** `GET /processes` */
export async function handleList(_req: IncomingMessage, res: ServerResponse, config: AgentConfig): Promise<void> {
  sendJson(res, 200, { processes: processTable(config).list() });
}

/** Routes under `/processes/:id/…`; false when `rest` names none of them. */
export async function handleProcessRoute(
  req: IncomingMessage,
  res: ServerResponse,
  config: AgentConfig,
): Promise<boolean> {
  const pathname = (req.url ?? '/').split('?', 1)[0] ?? '/';
  const match = /^\/processes\/([^/]+)(\/events|\/stdin|\/signal)?$/.exec(pathname);
  if (match === null) return false;
  const route = `${req.method} ${match[2] ?? ''}`;
  const handler = PROCESS_ROUTES[route];
  if (handler === undefined) return false;
  const proc = processTable(config).get(decodeURIComponent(match[1] ?? ''));
  await handler(req, res, proc);
  return true;
}

type ProcessHandler = (req: IncomingMessage, res: ServerResponse, proc: ManagedProcess) => Promise<void>;

const PROCESS_ROUTES: Record<string, ProcessHandler> = {
  'GET ': async (_req, res, proc) => sendJson(res, 200, proc.info()),
  'GET /events': async (req, res, proc) => {
    const { fromOffset } = parseInput(EventsQuery, queryOf(req));
    const signal = closeSignal(res);
    const events = processEvents(proc, fromOffset ?? 0, signal);
    // Validates fromOffset before the 200 goes out.
    const first = await events.next();
    await writeEvents(res, prepend(first, events));
  },
  'POST /stdin': async (req, res, proc) => {
    const { data, eof } = await readStdinBody(req);
    await proc.writeStdin(data, eof);
    res.writeHead(204).end();
  },
  'POST /signal': async (req, res, proc) => {
    const request = parseInput(SignalProcessRequest, await readJson(req));
    proc.signal(request.signal ?? 'SIGKILL', request.scope ?? 'tree');
    sendJson(res, 200, proc.info());
  },
};

async function* prepend<T>(first: IteratorResult<T>, rest: AsyncIterator<T>): AsyncGenerator<T> {
  if (first.done === true) return;
  yield first.value;
  for (let next = await rest.next(); next.done !== true; next = await rest.next()) yield next.value;
}

/** JSON `{dataBase64?, eof?}`, or the raw bytes with `?eof=true`. */
async function readStdinBody(req: IncomingMessage): Promise<{ data: Buffer; eof: boolean }> {
  if ((req.headers['content-type'] ?? '').startsWith('application/octet-stream')) {
    const { eof } = parseInput(StdinQuery, queryOf(req));
    const chunks: Buffer[] = [];
    let sizeBytes = 0;
    for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      sizeBytes += chunk.length;
      if (sizeBytes > MAX_STDIN_BYTES) {
        throw new PaddockError('PAYLOAD_TOO_LARGE', `stdin bodies are limited to ${MAX_STDIN_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
    return { data: Buffer.concat(chunks), eof: eof === 'true' };
  }
  const request = parseInput(ProcessStdinRequest, await readJson(req));
  return { data: Buffer.from(request.dataBase64 ?? '', 'base64'), eof: request.eof ?? false };
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

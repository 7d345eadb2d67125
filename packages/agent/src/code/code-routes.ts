import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CodeContextRef,
  type CodeEvent,
  CreateCodeContextRequest,
  ndjsonLine,
  PaddockError,
  RunCodeRequest,
} from '@paddock/protocol';
import { type AgentConfig, loadConfig } from '../config.js';
import { log } from '../log.js';
import { parseInput, readJson } from '../request-input.js';
import { CodeContexts } from './code-contexts.js';

type Handler = (req: IncomingMessage, res: ServerResponse, config: AgentConfig) => Promise<void>;

let contexts: CodeContexts | undefined;
function contextsOf(config: AgentConfig): CodeContexts {
  contexts ??= new CodeContexts(config);
  return contexts;
}

/**
 * Starts the default kernels that the sandbox's env names in `PADDOCK_KERNEL_PREWARM`
 * (comma-separated languages, e.g. `python`), so the first run after a create finds them warm.
 */
export function prewarmKernels(config: AgentConfig): void {
  const wanted = config.env.PADDOCK_KERNEL_PREWARM;
  if (!wanted) return;
  for (const language of wanted.split(',')) {
    const trimmed = language.trim();
    if (trimmed === 'python' || trimmed === 'javascript' || trimmed === 'bash') contextsOf(config).prewarm(trimmed);
  }
}

/** Kills every kernel (agent shutdown). */
export function killAllKernels(): void {
  contexts?.killAll();
}

// This module loads right after the agent's first health answer (main.ts), which is when
// the sandbox is handed out: the right moment to start the kernels its template asks for.
// Kernels run in their own process groups, so they are killed when the agent exits.
process.on('exit', killAllKernels);
if (process.env.PADDOCK_CONFIG) {
  const configPath = process.env.PADDOCK_CONFIG;
  setImmediate(() => {
    try {
      prewarmKernels(loadConfig(configPath));
    } catch (err) {
      log.warn('kernel prewarm skipped', { err });
    }
  });
}

/** `POST /code/run`: NDJSON `start`, output and results as produced, then one `end` (or `error`). */
async function handleRun(req: IncomingMessage, res: ServerResponse, config: AgentConfig): Promise<void> {
  const request = parseInput(RunCodeRequest, await readJson(req));
  const registry = contextsOf(config);
  const state = registry.contextFor(request);
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  const controller = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  };
  res.on('close', onClose);
  const send = (event: CodeEvent) => {
    if (!res.destroyed) res.write(ndjsonLine(event));
  };
  send({ type: 'start', contextId: state.info.id });
  try {
    const end = await registry.run(state, request, send, controller.signal);
    res.end(ndjsonLine(end));
  } catch (err) {
    const pe =
      err instanceof PaddockError
        ? err
        : new PaddockError('INTERNAL', 'the code run failed', undefined, { cause: err });
    res.end(ndjsonLine({ type: 'error', error: pe.toBody() } satisfies CodeEvent));
  } finally {
    res.off('close', onClose);
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** The code interpreter's routes of docs/agent-protocol.md, merged into the agent's route table. */
export const codeRoutes: Record<string, Handler> = {
  'POST /code/run': handleRun,
  'POST /code/contexts/create': async (req, res, config) => {
    const request = parseInput(CreateCodeContextRequest, await readJson(req));
    sendJson(res, 200, contextsOf(config).create(request));
  },
  'GET /code/contexts/list': async (_req, res, config) => {
    sendJson(res, 200, { contexts: contextsOf(config).list() });
  },
  'POST /code/contexts/restart': async (req, res, config) => {
    const { contextId } = parseInput(CodeContextRef, await readJson(req));
    sendJson(res, 200, contextsOf(config).restart(contextId));
  },
  'POST /code/contexts/remove': async (req, res, config) => {
    const { contextId } = parseInput(CodeContextRef, await readJson(req));
    contextsOf(config).remove(contextId);
    res.writeHead(204).end();
  },
};

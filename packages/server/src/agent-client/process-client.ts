import type { IncomingMessage } from 'node:http';
import {
  PaddockError,
  ProcessEvent,
  ProcessInfo,
  ProcessList,
  type ProcessStdinRequest,
  parseNdjson,
  type SignalProcessRequest,
  type StartProcessRequest,
} from '@paddock/protocol';
import { type AgentRequest, type CallOptions, type RawAgent, readJsonBody, transportError } from './transport.js';

/** Options of a call that streams a process's events. */
export interface FollowOptions extends CallOptions {
  /**
   * The stream outlives what a pause ends (a background process's output): a pause leaves it
   * open, to go on after the resume (see `AgentClient.interrupt`).
   */
  follower?: boolean | undefined;
}

/** A process's events, opened: the agent accepted the request before this resolves. */
export type ProcessEvents = AsyncGenerator<ProcessEvent>;

/**
 * The agent's one process protocol (`/processes…`, docs/agent-protocol.md). A command run in
 * the foreground is a process too: {@link AgentProcessClient.stream} with `background` unset.
 *
 * @example
 * ```ts
 * const processes = new AgentProcessClient(agent);
 * for await (const event of await processes.stream({ argv: ['true'] })) console.log(event.type);
 * ```
 */
export class AgentProcessClient {
  constructor(private readonly agent: RawAgent) {}

  /** Starts a background process and answers its info at once. */
  async start(request: StartProcessRequest, options: FollowOptions = {}): Promise<ProcessInfo> {
    const res = await this.send({ method: 'POST', path: '/processes', json: request }, options);
    return ProcessInfo.parse(await this.json(res, options));
  }

  /**
   * Starts a process and streams its events: a foreground one (closing the stream kills its
   * tree) or a background one with `follow` (it outlives the stream). Resolves once the agent
   * accepted the request, so a bad one rejects with its typed error before any event.
   */
  async stream(request: StartProcessRequest, options: FollowOptions = {}): Promise<ProcessEvents> {
    const res = await this.send({ method: 'POST', path: '/processes', json: request }, options);
    return eventsOf(res, options.signal);
  }

  /**
   * {@link AgentProcessClient.stream}, started on the first read: a refused start rejects the
   * loop, like a broken stream does (for callers that relay errors as events).
   */
  async *run(request: StartProcessRequest, options: FollowOptions = {}): ProcessEvents {
    yield* await this.stream(request, options);
  }

  /** A process's events from `fromOffset`: replay, live output, then its `exit`. Always a follower. */
  async events(id: string, fromOffset: number | string | undefined, options: CallOptions = {}): Promise<ProcessEvents> {
    const res = await this.send(
      { method: 'GET', path: `${pathOf(id)}/events`, query: { fromOffset } },
      { ...options, follower: true },
    );
    return eventsOf(res, options.signal);
  }

  async list(options: CallOptions = {}): Promise<ProcessList> {
    return ProcessList.parse(await this.json(await this.send({ method: 'GET', path: '/processes' }, options), options));
  }

  async info(id: string, options: CallOptions = {}): Promise<ProcessInfo> {
    return ProcessInfo.parse(await this.json(await this.send({ method: 'GET', path: pathOf(id) }, options), options));
  }

  /** Writes bytes to the process's stdin, and closes it with `eof`. */
  async writeStdin(id: string, request: ProcessStdinRequest, options: CallOptions = {}): Promise<void> {
    (await this.send({ method: 'POST', path: `${pathOf(id)}/stdin`, json: request }, options)).resume();
  }

  /** Streams a raw body into the process's stdin (the API's `application/octet-stream` upload). */
  async pipeStdin(
    id: string,
    body: NodeJS.ReadableStream,
    eof: string | undefined,
    options: CallOptions = {},
  ): Promise<void> {
    (await this.send({ method: 'POST', path: `${pathOf(id)}/stdin`, query: { eof }, body }, options)).resume();
  }

  async signal(id: string, request: SignalProcessRequest, options: CallOptions = {}): Promise<ProcessInfo> {
    const res = await this.send({ method: 'POST', path: `${pathOf(id)}/signal`, json: request }, options);
    return ProcessInfo.parse(await this.json(res, options));
  }

  private send(request: Omit<AgentRequest, 'signal' | 'follower'>, options: FollowOptions): Promise<IncomingMessage> {
    return this.agent.raw({ ...request, signal: options.signal, follower: options.follower === true });
  }

  private async json(res: IncomingMessage, options: CallOptions): Promise<unknown> {
    try {
      return await readJsonBody(res);
    } catch (err) {
      throw options.signal?.aborted ? options.signal.reason : transportError(err);
    }
  }
}

function pathOf(id: string): string {
  return `/processes/${encodeURIComponent(id)}`;
}

/**
 * The events of an accepted stream, parsed at the boundary. It ends after `exit` (or an
 * `error` line); a stream cut before either rejects with UNAVAILABLE, an aborted one with the
 * signal's reason. Leaving the loop early closes the stream (a foreground process dies of it).
 */
async function* eventsOf(res: IncomingMessage, signal: AbortSignal | undefined): ProcessEvents {
  let ended = false;
  try {
    for await (const value of parseNdjson(res)) {
      const event = ProcessEvent.parse(value);
      if (event.type === 'exit' || event.type === 'error') ended = true;
      yield event;
    }
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err instanceof PaddockError ? err : streamCut(err);
  } finally {
    // Stopped before the end: closing the connection tells the agent (a foreground process is
    // killed). After the end only the stream's last bytes remain; draining them keeps the socket.
    if (!res.complete) {
      if (ended) res.resume();
      else res.destroy();
    }
  }
  if (!ended) throw streamCut(undefined);
}

function streamCut(cause: unknown): PaddockError {
  return new PaddockError(
    'UNAVAILABLE',
    'the sandbox agent closed the process stream before the process exited',
    undefined,
    {
      cause,
    },
  );
}

import { setMaxListeners } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import {
  AGENT_FEATURES,
  type AgentFeature,
  AgentHealth,
  FileInfo,
  FileList,
  type MkdirRequest,
  type PaddockError,
  type RemoveRequest,
  type RenameRequest,
} from '@paddock/protocol';
import { AgentSocketPool } from './agent-socket.js';
import { AgentProcessClient } from './process-client.js';
import { type AgentEndpoint, type AgentRequest, readJsonBody, send, transportError } from './transport.js';
import { openTunnel } from './tunnel-client.js';

export type { AgentHealth };

/** Options every call takes. */
import type { CallOptions } from './transport.js';

export type { CallOptions } from './transport.js';

/** A file being read: its bytes as they come off the socket, and its size when it has one. */
export interface AgentFileStream {
  stream: Readable;
  /** Undefined for files without a length (devices, /proc): then the stream runs to EOF. */
  sizeBytes: number | undefined;
}

export interface ReadFileOptions extends CallOptions {
  user?: string | undefined;
}

export interface WriteFileOptions extends CallOptions {
  user?: string | undefined;
  /** Permission bits, e.g. `0o644`; an overwritten file keeps its own by default. */
  mode?: number | undefined;
  /** Sent as content-length when known; the body is sent chunked otherwise. */
  sizeBytes?: number | undefined;
}

export interface ListOptions extends CallOptions {
  /** 1 (default) to 10. */
  depth?: number | undefined;
}

/**
 * Talks to one sandbox's agent over its Unix socket (docs/agent-protocol.md). Streams stay
 * streams end to end: command output, file reads and file writes are never held whole in
 * memory. Failures are `PaddockError`s: the agent's own code, or UNAVAILABLE when it cannot
 * be reached; an aborted call rejects with its signal's reason.
 *
 * @example
 * ```ts
 * using agent = new AgentClient(runtime.agentSocket(id));
 * for await (const event of await agent.processes.stream({ cmd: 'echo hi' }, { signal })) console.log(event);
 * ```
 */
export class AgentClient {
  private readonly endpoint: AgentEndpoint;
  private readonly stopped = new AbortController();
  private readonly gone = new AbortController();

  constructor(socketPath: string) {
    // Every call in flight listens on these until it ends (`joinSignals` in transport.ts removes
    // it): many concurrent calls on one sandbox are normal, not a leak, so no warning at 11.
    setMaxListeners(0, this.stopped.signal, this.gone.signal);
    const agent = new AgentSocketPool(socketPath);
    this.endpoint = { socketPath, agent, stop: this.stopped.signal, gone: this.gone.signal };
  }

  get socketPath(): string {
    return this.endpoint.socketPath;
  }

  /** The agent's one process protocol: commands, background processes, their events. */
  readonly processes = new AgentProcessClient(this);
  /** The features the agent named in its health answer, asked once per agent (see `features`). */
  private featuresAsked: Promise<ReadonlySet<AgentFeature>> | undefined;

  async health(signal?: AbortSignal): Promise<AgentHealth> {
    return AgentHealth.parse(await this.json({ method: 'GET', path: '/health', signal }));
  }

  /**
   * The features of this agent (its health handshake), asked once and kept: an agent's
   * features never change while it runs, and a new agent (after a resume) gets a new client.
   * An agent older than the handshake names none: it has the minimal set. A failed ask is
   * not kept.
   */
  features(signal?: AbortSignal): Promise<ReadonlySet<AgentFeature>> {
    this.featuresAsked ??= this.health(signal).then(
      (health) => new Set(AGENT_FEATURES.filter((feature) => health.features?.includes(feature))),
      (err: unknown) => {
        this.featuresAsked = undefined;
        throw err;
      },
    );
    return this.featuresAsked;
  }

  /** Opens a file for reading; the stream comes straight off the agent's socket. */
  async readFile(path: string, options: ReadFileOptions = {}): Promise<AgentFileStream> {
    const res = await this.raw({
      method: 'GET',
      path: '/files/read',
      query: { path, user: options.user },
      signal: options.signal,
    });
    const length = res.headers['content-length'];
    return { stream: res, sizeBytes: length === undefined ? undefined : Number(length) };
  }

  /**
   * Streams `body` into `path` (parents created). The agent writes a temp file and renames
   * it, so an aborted or failed upload leaves the old file (or none), never a part.
   */
  async writeFile(
    path: string,
    body: NodeJS.ReadableStream | AsyncIterable<Uint8Array>,
    options: WriteFileOptions = {},
  ): Promise<FileInfo> {
    const request: AgentRequest = {
      method: 'PUT',
      path: '/files/write',
      query: { path, user: options.user, mode: options.mode },
      body,
      signal: options.signal,
    };
    if (options.sizeBytes !== undefined) request.sizeBytes = options.sizeBytes;
    return FileInfo.parse(await this.json(request));
  }

  /** Describes `path` itself (a final symlink is reported, not followed). */
  async stat(path: string, options: CallOptions = {}): Promise<FileInfo> {
    return FileInfo.parse(
      await this.json({ method: 'GET', path: '/files/stat', query: { path }, signal: options.signal }),
    );
  }

  async list(path: string, options: ListOptions = {}): Promise<FileList> {
    const query = { path, depth: options.depth };
    return FileList.parse(await this.json({ method: 'GET', path: '/files/list', query, signal: options.signal }));
  }

  async mkdir(request: MkdirRequest, options: CallOptions = {}): Promise<FileInfo> {
    return FileInfo.parse(
      await this.json({ method: 'POST', path: '/files/mkdir', json: request, signal: options.signal }),
    );
  }

  async rename(request: RenameRequest, options: CallOptions = {}): Promise<FileInfo> {
    return FileInfo.parse(
      await this.json({ method: 'POST', path: '/files/rename', json: request, signal: options.signal }),
    );
  }

  async remove(request: RemoveRequest, options: CallOptions = {}): Promise<void> {
    const res = await this.raw({ method: 'POST', path: '/files/remove', json: request, signal: options.signal });
    res.resume();
  }

  /**
   * The raw passthrough: sends any agent request and resolves with the 2xx response, body
   * unread, for the API layer to pipe on (`reply.send(res)`) without re-buffering. Non-2xx
   * answers reject with the agent's `PaddockError`.
   */
  raw(request: AgentRequest): Promise<IncomingMessage> {
    return send(this.endpoint, request);
  }

  /**
   * A raw byte stream to TCP `port` on the sandbox's loopback (exposed ports); rejects with
   * PORT_NOT_OPEN when nothing listens there. See `openTunnel`.
   */
  tunnel(port: number, options: CallOptions = {}): Promise<Duplex> {
    return openTunnel(this, port, options);
  }

  /** Closes idle keep-alive sockets; calls in flight continue. */
  close(): void {
    this.endpoint.agent.destroy();
  }

  /**
   * Ends every call in flight, and fails every later one, with `reason` (a typed error the
   * API relays as is): the sandbox is about to stop serving, and a frozen agent answers
   * nothing, so its calls would otherwise hang. Closing a command's stream makes the agent
   * kill that command once it runs again; background processes live on. For a pause
   * (`followers: 'keep'`) followers of output stay open, frozen with the sandbox, and go on
   * after the resume; the agent going away (hibernate, fork) ends them too.
   */
  interrupt(reason: PaddockError, followers: 'keep' | 'end'): void {
    this.stopped.abort(reason);
    if (followers === 'keep') {
      // Idle keep-alive sockets only: a follower's socket is in use.
      for (const sockets of Object.values(this.endpoint.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
      return;
    }
    this.gone.abort(reason);
    this.endpoint.agent.destroy();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private async json(request: AgentRequest): Promise<unknown> {
    const res = await this.raw(request);
    try {
      return await readJsonBody(res);
    } catch (err) {
      throw request.signal?.aborted ? request.signal.reason : transportError(err);
    }
  }
}

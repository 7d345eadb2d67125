import type { IncomingMessage } from 'node:http';
import { type CreatePtyRequest, PtyCreated, PtyEvent, PtyList, type PtySize, parseNdjson } from '@paddock/protocol';
import type { AgentClient, CallOptions } from './agent-client.js';
import { readJsonBody, transportError } from './transport.js';

/**
 * The PTY routes of one sandbox's agent (docs/agent-protocol.md). Sessions live in the agent:
 * closing an output stream detaches, it never kills the program.
 *
 * @example
 * ```ts
 * const pty = new AgentPtyClient(agent);
 * const { id } = await pty.create({ cols: 80, rows: 24 });
 * await pty.input(id, Buffer.from('ls\n'));
 * ```
 */
export class AgentPtyClient {
  constructor(private readonly agent: AgentClient) {}

  async create(request: CreatePtyRequest, options: CallOptions = {}): Promise<PtyCreated> {
    return PtyCreated.parse(await this.json(await this.send('POST', '/pty', { json: request }, options), options));
  }

  async list(options: CallOptions = {}): Promise<PtyList> {
    return PtyList.parse(await this.json(await this.send('GET', '/pty', {}, options), options));
  }

  /** The output stream, body unread, for the API layer to pipe on. */
  outputStream(id: string, fromOffset: number | undefined, options: CallOptions = {}): Promise<IncomingMessage> {
    // A follower: a pause leaves it open (see AgentClient.interrupt).
    return this.send(
      'GET',
      `/pty/${encodeURIComponent(id)}/output`,
      { query: { fromOffset }, follower: true },
      options,
    );
  }

  /** Yields `data` events from `fromOffset` (default: the scrollback kept), then one `exit`. */
  async *output(id: string, fromOffset?: number, options: CallOptions = {}): AsyncGenerator<PtyEvent> {
    const res = await this.outputStream(id, fromOffset, options);
    try {
      for await (const value of parseNdjson(res)) yield PtyEvent.parse(value);
    } catch (err) {
      throw options.signal?.aborted ? options.signal.reason : transportError(err);
    } finally {
      if (!res.complete) res.destroy();
    }
  }

  async input(id: string, data: Uint8Array, options: CallOptions = {}): Promise<void> {
    const body = (async function* () {
      yield data;
    })();
    const res = await this.send(
      'POST',
      `/pty/${encodeURIComponent(id)}/input`,
      { body, sizeBytes: data.length },
      options,
    );
    res.resume();
  }

  async resize(id: string, size: PtySize, options: CallOptions = {}): Promise<void> {
    (await this.send('POST', `/pty/${encodeURIComponent(id)}/resize`, { json: size }, options)).resume();
  }

  async kill(id: string, options: CallOptions = {}): Promise<void> {
    (await this.send('POST', `/pty/${encodeURIComponent(id)}/kill`, {}, options)).resume();
  }

  private send(
    method: 'GET' | 'POST',
    path: string,
    extra: {
      json?: unknown;
      body?: AsyncIterable<Uint8Array>;
      sizeBytes?: number;
      query?: Record<string, number | undefined>;
      follower?: boolean;
    },
    options: CallOptions,
  ): Promise<IncomingMessage> {
    return this.agent.raw({ method, path, ...extra, signal: options.signal });
  }

  private async json(res: IncomingMessage, options: CallOptions): Promise<unknown> {
    try {
      return await readJsonBody(res);
    } catch (err) {
      throw options.signal?.aborted ? options.signal.reason : transportError(err);
    }
  }
}

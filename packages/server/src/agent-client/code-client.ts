import type { IncomingMessage } from 'node:http';
import {
  CodeContext,
  CodeContextList,
  CodeEvent,
  type CreateCodeContextRequest,
  PaddockError,
  parseNdjson,
  type RunCodeRequest,
} from '@paddock/protocol';
import type { AgentClient } from './agent-client.js';
import { readJsonBody, transportError } from './transport.js';

/**
 * Host side of the agent's code interpreter routes (docs/agent-protocol.md), on top of an
 * {@link AgentClient}'s raw passthrough.
 */
export class CodeClient {
  constructor(private readonly agent: AgentClient) {}

  /**
   * Starts a run: resolves once the agent accepted it (a bad context or language rejects
   * here, with its typed error), then {@link CodeClient.events} reads its stream.
   */
  start(request: RunCodeRequest, signal: AbortSignal): Promise<IncomingMessage> {
    return this.agent.raw({ method: 'POST', path: '/code/run', json: request, signal });
  }

  /** The run's events as they come; leaving early closes the stream, which interrupts the cell. */
  async *events(res: IncomingMessage, signal: AbortSignal): AsyncGenerator<CodeEvent> {
    let ended = false;
    try {
      for await (const value of parseNdjson(res)) {
        const event = CodeEvent.parse(value);
        if (event.type === 'end' || event.type === 'error') ended = true;
        yield event;
      }
    } catch (err) {
      throw signal.aborted ? signal.reason : transportError(err);
    } finally {
      if (!res.complete) {
        if (ended) res.resume();
        else res.destroy();
      }
    }
    if (!ended) throw new PaddockError('UNAVAILABLE', 'sandbox agent closed the code stream before the cell ended');
  }

  async createContext(request: CreateCodeContextRequest, signal?: AbortSignal): Promise<CodeContext> {
    return CodeContext.parse(await this.json('POST', '/code/contexts/create', request, signal));
  }

  async listContexts(signal?: AbortSignal): Promise<CodeContextList> {
    return CodeContextList.parse(await this.json('GET', '/code/contexts/list', undefined, signal));
  }

  async restartContext(contextId: string, signal?: AbortSignal): Promise<CodeContext> {
    return CodeContext.parse(await this.json('POST', '/code/contexts/restart', { contextId }, signal));
  }

  async removeContext(contextId: string, signal?: AbortSignal): Promise<void> {
    const res = await this.agent.raw({ method: 'POST', path: '/code/contexts/remove', json: { contextId }, signal });
    res.resume();
  }

  private async json(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const res = await this.agent.raw({ method, path, ...(body === undefined ? {} : { json: body }), signal });
    try {
      return await readJsonBody(res);
    } catch (err) {
      throw signal?.aborted ? signal.reason : transportError(err);
    }
  }
}

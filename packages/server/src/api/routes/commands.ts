import { type CommandEvent, commandEventsOf, PaddockError, RunCommandRequest } from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import type { AgentClient } from '../../agent-client/agent-client.js';
import type { CommandCall } from '../../core/commands.js';
import type { ApiContext } from '../context.js';
import { sendNdjson } from '../ndjson-reply.js';
import { parseOrThrow } from '../validate.js';

/**
 * Runs a command as a foreground process of the sandbox's agent (start + follow on the one
 * process protocol) and answers its events in the `CommandEvent` dialect. Every failure,
 * a refused start included, is the stream's last event (the answer is already 200).
 */
async function* runCommand(
  ctx: ApiContext,
  call: CommandCall<AgentClient>,
  req: RunCommandRequest,
  signal: AbortSignal,
): AsyncGenerator<CommandEvent> {
  try {
    yield* commandEventsOf(await ctx.commands.stream(call, req, { signal }));
  } catch (err) {
    if (signal.aborted) return;
    const pe = err instanceof PaddockError ? err : new PaddockError('INTERNAL', 'command stream failed');
    yield { type: 'error', error: pe.toBody() };
  }
}

export function commandRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/commands', async (request, reply) => {
    const req = parseOrThrow(RunCommandRequest, request.body ?? {}, 'command request');
    // Opened before the 200: an unknown or stopped sandbox answers with its status code.
    const call = await ctx.commands.open(request.params.id);
    return sendNdjson(reply, (signal) => runCommand(ctx, call, req, signal));
  });
}

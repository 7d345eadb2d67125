import { type CommandEvent, PaddockError, RunCommandRequest } from '@paddock/protocol';
import type { FastifyInstance } from 'fastify';
import { lostError, lostReason } from '../../core/reasons.js';
import type { ApiContext } from '../context.js';
import { sendNdjson } from '../ndjson-reply.js';
import { parseOrThrow } from '../validate.js';

/** Exit codes that mean "killed by SIGKILL", which is how the OOM killer ends a process. */
const SIGKILL_EXIT = 137;

/**
 * Runs a command through the sandbox's agent and relays its events. The sandbox's own env
 * is merged under the command's, and an exit by SIGKILL is checked against the memory
 * cgroup's OOM counter so that out-of-memory kills are reported as such.
 */
async function* runCommand(
  ctx: ApiContext,
  sandboxId: string,
  req: RunCommandRequest,
  signal: AbortSignal,
): AsyncGenerator<CommandEvent> {
  const record = ctx.service.requireRunning(sandboxId);
  const runtime = ctx.service.runtimeFor(record.isolation);
  const agent = ctx.agentOf(sandboxId);
  const oomBefore = (await runtime.usage(sandboxId)).oomKills;
  const merged: RunCommandRequest = { ...req, env: { ...record.env, ...req.env } };
  try {
    for await (const event of agent.exec(merged, signal)) {
      if (event.type === 'exit' && event.exitCode === SIGKILL_EXIT) {
        const oomAfter = (await runtime.usage(sandboxId)).oomKills;
        if (oomAfter > oomBefore) {
          yield { ...event, oomKilled: true };
          continue;
        }
      }
      yield event;
    }
  } catch (err) {
    if (signal.aborted) return;
    // Paused or hibernated on purpose (the host ended the stream): not lost, say so.
    if (err instanceof PaddockError && err.code === 'SANDBOX_PAUSED') {
      yield { type: 'error', error: err.toBody() };
      return;
    }
    // The agent vanished mid-command: under gVisor an OOM or pids-limit hit kills the whole sandbox.
    const state = await runtime.state(sandboxId);
    if (state !== 'running') {
      const kills = (await runtime.usage(sandboxId).catch(() => ({ oomKills: 0 }))).oomKills - oomBefore;
      const oom = kills > 0 ? { kills, limitMiB: ctx.service.get(sandboxId).memoryMiB } : undefined;
      const reason = lostReason(state, oom);
      ctx.service.markLost(sandboxId, reason);
      yield { type: 'error', error: lostError(sandboxId, reason) };
      return;
    }
    const pe =
      err instanceof PaddockError
        ? err
        : new PaddockError('INTERNAL', 'command stream failed', undefined, { cause: err });
    if (pe.code === 'INTERNAL') ctx.logger.error({ err, sandboxId }, 'command stream failed');
    yield { type: 'error', error: pe.toBody() };
  }
}

export function commandRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Params: { id: string } }>('/v1/sandboxes/:id/commands', async (request, reply) => {
    const req = parseOrThrow(RunCommandRequest, request.body ?? {}, 'command request');
    // Fail before the 200 when the sandbox is unknown or not running, so callers get a status code.
    ctx.service.requireRunning(request.params.id);
    return sendNdjson(reply, (signal) => runCommand(ctx, request.params.id, req, signal));
  });
}

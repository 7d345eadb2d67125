import {
  type AgentFeature,
  type CommandEnv,
  PaddockError,
  type ProcessEvent,
  type StartProcessRequest,
} from '@paddock/protocol';
import type { Logger } from './logger.js';
import { lostError, lostReason, type OomFacts, type Reason } from './reasons.js';
import type { Runtime } from './seams/runtime.js';
import type { SandboxRecord } from './seams/store.js';

/** What the command owner needs of the sandboxes (the `SandboxService`). */
export interface CommandSandboxes {
  requireRunning(id: string): SandboxRecord;
  runtimeFor(isolation: SandboxRecord['isolation']): Pick<Runtime, 'state' | 'usage'>;
  markLost(id: string, reason: Reason): void;
}

/** Options of a started stream: the caller's signal, and whether a pause leaves it open. */
export interface StreamOptions {
  signal?: AbortSignal | undefined;
  follower?: boolean | undefined;
}

/** The part of a sandbox's agent the owner speaks (the `AgentClient` of agent-client/). */
export interface CommandAgent {
  features(signal?: AbortSignal): Promise<ReadonlySet<AgentFeature>>;
  processes: {
    stream(request: StartProcessRequest, options: StreamOptions): Promise<AsyncIterable<ProcessEvent>>;
    start(request: StartProcessRequest, options: StreamOptions): Promise<{ id: string }>;
    writeStdin(id: string, request: { eof: true }, options: StreamOptions): Promise<void>;
    events(id: string, fromOffset: number, options: StreamOptions): Promise<AsyncIterable<ProcessEvent>>;
  };
}

export interface CommandsDeps<A extends CommandAgent> {
  sandboxes: CommandSandboxes;
  /** The agent of a sandbox already checked to be running (no check of its own needed). */
  agentOf: (record: SandboxRecord) => A;
  logger: Logger;
}

/** A SIGKILL exit (128 + 9): how the kernel's OOM killer ends a process. */
const SIGKILL_EXIT = 137;

/** The sandbox's env under the command's own: one rule for commands, processes, code and terminals. */
export function commandEnv(record: Pick<SandboxRecord, 'env'>, env: CommandEnv | null | undefined): CommandEnv {
  return { ...record.env, ...env };
}

/**
 * One call on a running sandbox: checked once, with what its end needs to be told apart (the
 * OOM counter of its memory cgroup before the start).
 */
export class CommandCall<A extends CommandAgent = CommandAgent> {
  constructor(
    readonly record: SandboxRecord,
    readonly agent: A,
    private readonly owner: { sandboxes: CommandSandboxes; logger: Logger },
    private readonly oomKillsBefore: number | undefined,
  ) {}

  /** The sandbox's env under `env`. */
  env(env: CommandEnv | null | undefined): CommandEnv {
    return commandEnv(this.record, env);
  }

  /**
   * `events` as they come, with the call's end made plain: a SIGKILL exit the memory cgroup
   * counted an OOM kill for says `oomKilled`, and a stream that breaks rejects with a typed
   * error: the signal's reason when aborted, SANDBOX_PAUSED as is, SANDBOX_NOT_RUNNING (the
   * sandbox marked lost) when the sandbox died under it, else the error (INTERNAL, logged,
   * for an unknown one).
   */
  async *watch<E extends { type: string }>(events: AsyncIterable<E>, signal?: AbortSignal): AsyncGenerator<E> {
    try {
      for await (const event of events) yield await this.attributeOom(event);
    } catch (err) {
      throw await this.failure(err, signal);
    }
  }

  /** The typed error a failed call ends with (see `watch`); marks the sandbox lost when it died. */
  async failure(err: unknown, signal?: AbortSignal): Promise<unknown> {
    if (signal?.aborted) return signal.reason;
    if (err instanceof PaddockError && err.code === 'SANDBOX_PAUSED') return err;
    const lost = await this.lost();
    if (lost) return lost;
    if (err instanceof PaddockError) return err;
    this.owner.logger.error({ err, sandboxId: this.record.id }, 'command stream failed');
    return new PaddockError('INTERNAL', 'command stream failed', undefined, { cause: err });
  }

  /**
   * Whether the sandbox died under the call (its runtime no longer runs it): then it is marked
   * lost, out of memory when its memory cgroup counted an OOM kill during the call, and the
   * error says so.
   */
  async lost(): Promise<PaddockError | undefined> {
    const id = this.record.id;
    const runtime = this.owner.sandboxes.runtimeFor(this.record.isolation);
    const state = await runtime.state(id);
    if (state === 'running') return undefined;
    // Under gVisor an OOM or a pids-limit hit kills the whole sandbox, agent included.
    const kills = (await this.oomKillsSince()) ?? 0;
    const oom: OomFacts | undefined = kills > 0 ? { kills, limitMiB: this.record.memoryMiB } : undefined;
    const reason = lostReason(state, oom);
    this.owner.sandboxes.markLost(id, reason);
    const body = lostError(id, reason);
    return new PaddockError('SANDBOX_NOT_RUNNING', body.message, body.details);
  }

  private async attributeOom<E extends { type: string }>(event: E): Promise<E> {
    const exit = event as { type: string; exitCode?: unknown; timedOut?: unknown };
    // A timeout's kill is the timeout's, whatever else the cgroup counted meanwhile.
    if (exit.type !== 'exit' || exit.exitCode !== SIGKILL_EXIT || exit.timedOut === true) return event;
    // Read after the exit arrived: the kernel counts the kill before the victim can be reaped.
    return ((await this.oomKillsSince()) ?? 0) > 0 ? { ...event, oomKilled: true } : event;
  }

  private async oomKillsSince(): Promise<number | undefined> {
    if (this.oomKillsBefore === undefined) return undefined;
    const runtime = this.owner.sandboxes.runtimeFor(this.record.isolation);
    const after = await runtime.usage(this.record.id).then(
      (usage) => usage.oomKills,
      () => undefined,
    );
    return after === undefined ? undefined : after - this.oomKillsBefore;
  }
}

/**
 * The one owner of what a command gets: every door (commands, processes, code, terminals, the
 * E2B facade) opens its call here, so the running check, the env merge, OOM attribution and
 * the "sandbox lost" verdict are made once, the same way.
 */
export class Commands<A extends CommandAgent = CommandAgent> {
  constructor(private readonly deps: CommandsDeps<A>) {}

  /**
   * Opens a call: the sandbox must be running (checked here, once), and its memory cgroup's
   * OOM counter is read before anything starts, so that a kill during the call is its own.
   */
  async open(sandboxId: string): Promise<CommandCall<A>> {
    const record = this.deps.sandboxes.requireRunning(sandboxId);
    const runtime = this.deps.sandboxes.runtimeFor(record.isolation);
    const before = await runtime.usage(sandboxId).then(
      (usage) => usage.oomKills,
      () => undefined,
    );
    return new CommandCall(record, this.deps.agentOf(record), this.deps, before);
  }

  /**
   * Starts a process with the sandbox's env under its own and streams its events through
   * {@link CommandCall.watch}: a foreground one (closing the stream kills it) or a background
   * one with `follow`. An agent without `processes.follow` (older than the handshake) gets the
   * same in three round trips: start, close stdin if asked, follow from offset 0.
   */
  async stream(call: CommandCall<A>, request: StartProcessRequest, options: StreamOptions = {}) {
    const merged: StartProcessRequest = { ...request, env: call.env(request.env) };
    const events = await this.startStream(call.agent, merged, options).catch(async (err: unknown) => {
      throw await call.failure(err, options.signal);
    });
    return call.watch(events, options.signal);
  }

  private async startStream(agent: A, request: StartProcessRequest, options: StreamOptions) {
    if (request.follow !== true || (await agent.features(options.signal)).has('processes.follow')) {
      return agent.processes.stream(request, options);
    }
    const { follow: _, closeStdin, ...older } = request;
    const { id } = await agent.processes.start(older, options);
    if (closeStdin === true) await agent.processes.writeStdin(id, { eof: true }, options);
    return agent.processes.events(id, 0, options);
  }
}

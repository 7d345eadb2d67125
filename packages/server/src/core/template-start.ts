import { PaddockError, type ProcessEvent, type ReadyCheck, type StartProcessRequest } from '@paddock/protocol';
import type { Clock } from './clock.js';
import { commandEnv } from './commands.js';
import type { SandboxRecord } from './seams/store.js';
import type { ResolvedTemplate } from './templates.js';

/** How long a boot waits for a template's start command to be ready, unless `ready.timeoutMs` says. */
export const DEFAULT_READY_TIMEOUT_MS = 60_000;
/** Pause between two readiness checks. */
const CHECK_INTERVAL_MS = 150;
/** The most one `ready.command` run may take (less when the deadline is nearer). */
const CHECK_COMMAND_MAX_MS = 5_000;
/** Output kept for the error of a start that failed. */
const TAIL_BYTES = 4_096;
const TAIL_LINES = 20;

/**
 * What the start of a template's process needs of a sandbox's agent (an adapter over the agent
 * client implements it): every check runs inside the sandbox, never from the host into its network.
 */
export interface StartAgent {
  /** Starts a background process and follows its events (it outlives the stream). */
  follow(request: StartProcessRequest, signal: AbortSignal): Promise<AsyncIterable<ProcessEvent>>;
  /** Runs a foreground command to its end; answers its exit code. */
  run(request: StartProcessRequest, signal: AbortSignal): Promise<number>;
  /** Whether something accepts a TCP connection on the sandbox's loopback `port`. */
  connects(port: number, signal: AbortSignal): Promise<boolean>;
  /** The HTTP status of a GET of `url`, its port reached on the sandbox's loopback; undefined when nothing answers. */
  httpStatus(url: string, signal: AbortSignal): Promise<number | undefined>;
}

export interface TemplateStartDeps {
  clock: Clock;
  /** The agent of a booted sandbox (before it is marked running). */
  agentFor: (record: SandboxRecord) => StartAgent;
}

/** Why a start failed, for the typed error. */
type Failure =
  | { reason: 'exited'; exitCode: number }
  | { reason: 'timeout'; timeoutMs: number }
  | { reason: 'refused'; error: string };

/**
 * Starts a template's `start` command in a booted sandbox and waits until its `ready` check
 * passes. The process is an ordinary background process of the agent's process protocol: it is
 * listed by `GET /v1/sandboxes/:id/processes`, and its output is read from offset 0 with
 * `GET …/processes/:pid/events`. A start process that exits before it is ready, or a check that
 * does not pass within `ready.timeoutMs`, rejects with TEMPLATE_START_FAILED carrying the
 * process's last output lines; the caller removes the sandbox.
 */
export async function startTemplateProcess(
  deps: TemplateStartDeps,
  target: { record: SandboxRecord; template: ResolvedTemplate },
  signal?: AbortSignal,
): Promise<void> {
  const { record, template } = target;
  const start = template.start;
  if (!start) return;
  const timeoutMs = start.ready?.timeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const agent = deps.agentFor(record);
  // One signal for everything this wait does: the caller's abort, the deadline, or the end.
  const scope = new AbortController();
  const onAbort = () => scope.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const base = { user: template.user, cwd: template.workdir, env: commandEnv(record, undefined) };
  const output = new OutputTail();
  try {
    const request = { ...base, cmd: start.command, background: true, follow: true };
    // The agent refusing the start (a user or workdir the rootfs lacks) is the template's fault.
    const events = await agent.follow(request, scope.signal).catch((err: unknown) => {
      if (scope.signal.aborted) throw err;
      throw startFailed(template, { reason: 'refused', error: err instanceof Error ? err.message : String(err) }, []);
    });
    const exited = watchExit(events, output, scope.signal);
    const deadline = deps.clock.now() + timeoutMs;
    const ready = waitReady({ agent, clock: deps.clock, check: start.ready, base, deadline }, scope.signal);
    const failure: Failure | undefined = await Promise.race([
      exited.then((exitCode): Failure => ({ reason: 'exited', exitCode })),
      ready.then((ok) => (ok ? undefined : ({ reason: 'timeout', timeoutMs } as const))),
    ]);
    if (failure) throw startFailed(template, failure, output.lines());
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // Ends the follower stream and any check in flight; the start process itself runs on.
    scope.abort(new Error('template start wait ended'));
  }
}

/** Keeps the last bytes of a process's combined output. */
class OutputTail {
  private text = '';

  add(dataBase64: string): void {
    this.text = (this.text + Buffer.from(dataBase64, 'base64').toString('utf8')).slice(-TAIL_BYTES);
  }

  lines(): string[] {
    return this.text
      .split('\n')
      .filter((line, i, all) => line !== '' || i < all.length - 1)
      .slice(-TAIL_LINES);
  }
}

/** Resolves with the exit code once the process exits; never settles while it runs (or after an abort). */
function watchExit(events: AsyncIterable<ProcessEvent>, output: OutputTail, signal: AbortSignal): Promise<number> {
  return new Promise<number>((resolve) => {
    void (async () => {
      try {
        for await (const event of events) {
          if (event.type === 'stdout' || event.type === 'stderr') output.add(event.data);
          else if (event.type === 'exit') return resolve(event.exitCode);
          else if (event.type === 'error') return resolve(-1);
        }
      } catch {
        // A stream cut because the wait ended is expected; one cut otherwise counts as an exit.
        if (!signal.aborted) resolve(-1);
      }
    })();
  });
}

interface ReadyWait {
  agent: StartAgent;
  clock: Clock;
  check: ReadyCheck | undefined;
  base: Pick<StartProcessRequest, 'user' | 'cwd' | 'env'>;
  deadline: number;
}

/** True once the check passes; false when the deadline passes first. Without a check, ready at once. */
async function waitReady(wait: ReadyWait, signal: AbortSignal): Promise<boolean> {
  const { check, clock, deadline } = wait;
  if (!check) return true;
  for (;;) {
    const leftMs = deadline - clock.now();
    if (leftMs <= 0) return false;
    if (await passes(wait, Math.min(leftMs, CHECK_COMMAND_MAX_MS), signal).catch(() => false)) return true;
    if (signal.aborted) return false;
    await sleep(clock, Math.min(CHECK_INTERVAL_MS, Math.max(0, deadline - clock.now())), signal);
  }
}

/** One check, bounded by `boundMs`. */
async function passes(wait: ReadyWait, boundMs: number, signal: AbortSignal): Promise<boolean> {
  const check = wait.check as ReadyCheck;
  if (check.command !== undefined) {
    const request = { ...wait.base, cmd: check.command, timeoutMs: Math.max(1, boundMs) };
    return (await wait.agent.run(request, signal)) === 0;
  }
  const bound = new AbortController();
  const cancel = wait.clock.setTimer(boundMs, () =>
    bound.abort(new PaddockError('TIMEOUT', 'ready check took too long')),
  );
  const bounded = AbortSignal.any([signal, bound.signal]);
  try {
    if (check.port !== undefined) return await wait.agent.connects(check.port, bounded);
    const status = await wait.agent.httpStatus(check.url as string, bounded);
    return status !== undefined && status >= 200 && status < 400;
  } finally {
    cancel();
  }
}

function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const cancel = clock.setTimer(ms, done);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      cancel();
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

function startFailed(template: ResolvedTemplate, failure: Failure, output: string[]): PaddockError {
  const command = template.start?.command ?? '';
  const why =
    failure.reason === 'exited'
      ? `its start command exited with code ${failure.exitCode} before it was ready`
      : failure.reason === 'timeout'
        ? `its start command was not ready within ${failure.timeoutMs} ms (raise start.ready.timeoutMs, or check the ready check)`
        : `the sandbox's agent refused to start its start command: ${failure.error}`;
  const shown = output.length > 0 ? `; last output:\n${output.join('\n')}` : '; it wrote no output';
  return new PaddockError('TEMPLATE_START_FAILED', `template '${template.name}': ${why}${shown}`, {
    template: template.name,
    command,
    ...failure,
    output,
  });
}

/** The start-and-wait logic of template start commands over a fake agent and a fake clock. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PaddockError, type ProcessEvent, type StartProcessRequest, type TemplateStart } from '@paddock/protocol';
import type { SandboxRecord } from '../../packages/server/src/core/seams/store.js';
import { type StartAgent, startTemplateProcess } from '../../packages/server/src/core/template-start.js';
import type { ResolvedTemplate } from '../../packages/server/src/core/templates.js';
import { FakeClock } from './fake-clock.js';

/** A fake agent: the start process's events are pushed by the test; `run` answers scripted exit codes. */
class FakeAgent implements StartAgent {
  readonly runs: StartProcessRequest[] = [];
  followed: { request: StartProcessRequest; signal: AbortSignal } | undefined;
  private readonly queue: ProcessEvent[] = [];
  private wake: (() => void) | undefined;

  constructor(
    private readonly exitCodes: number[],
    private readonly refusal?: Error,
  ) {}

  push(event: ProcessEvent): void {
    this.queue.push(event);
    this.wake?.();
  }

  async follow(request: StartProcessRequest, signal: AbortSignal): Promise<AsyncIterable<ProcessEvent>> {
    this.followed = { request, signal };
    if (this.refusal) throw this.refusal;
    const self = this;
    return (async function* () {
      for (;;) {
        const next = self.queue.shift();
        if (next) {
          yield next;
          if (next.type === 'exit') return;
          continue;
        }
        if (signal.aborted) throw signal.reason;
        await new Promise<void>((resolve) => {
          self.wake = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
      }
    })();
  }

  async run(request: StartProcessRequest): Promise<number> {
    this.runs.push(request);
    return this.exitCodes.shift() ?? 1;
  }

  async connects(): Promise<boolean> {
    return false;
  }

  async httpStatus(): Promise<number | undefined> {
    return undefined;
  }
}

const RECORD = { id: 'sbx1', env: { FROM_CREATE: 'yes' } } as unknown as SandboxRecord;

function templateWith(start: TemplateStart): ResolvedTemplate {
  return { name: 'web', specHash: 'h', rootfs: '/r', env: {}, workdir: '/srv', user: 'app', start };
}

/** Lets every pending promise callback run (no time passes). */
const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Settles `promise`, moving the fake clock by `stepMs` whenever the wait is idle. */
async function settle<T>(promise: Promise<T>, clock: FakeClock, stepMs: number): Promise<T> {
  let done = false;
  const watched = promise.finally(() => {
    done = true;
  });
  watched.catch(() => {});
  for (let i = 0; i < 1_000 && !done; i++) {
    await drain();
    if (!done) clock.advance(stepMs);
  }
  return watched;
}

describe('startTemplateProcess', () => {
  it('starts the command in the background as the template user with the sandbox env, and runs the ready command until it exits 0', async () => {
    const clock = new FakeClock();
    const agent = new FakeAgent([1, 1, 0]);
    const template = templateWith({ command: 'serve', ready: { command: 'probe' } });
    await settle(startTemplateProcess({ clock, agentFor: () => agent }, { record: RECORD, template }), clock, 150);
    assert.deepEqual(agent.followed?.request, {
      user: 'app',
      cwd: '/srv',
      env: { FROM_CREATE: 'yes' },
      cmd: 'serve',
      background: true,
      follow: true,
    });
    assert.equal(agent.runs.length, 3);
    assert.ok(agent.runs.every((r) => r.cmd === 'probe' && r.user === 'app' && (r.timeoutMs ?? 0) <= 5_000));
    // The follower stream ends with the wait; the process itself is never signalled.
    assert.equal(agent.followed?.signal.aborted, true);
  });

  it('fails with TEMPLATE_START_FAILED and the last output when the process exits first', async () => {
    const clock = new FakeClock();
    const agent = new FakeAgent([]);
    const template = templateWith({ command: 'serve', ready: { command: 'probe' } });
    const waiting = startTemplateProcess({ clock, agentFor: () => agent }, { record: RECORD, template });
    await drain();
    agent.push({ type: 'stderr', data: Buffer.from('no config\n').toString('base64'), offset: 0 });
    agent.push({ type: 'exit', exitCode: 2, offset: 10 });
    const err = await settle(waiting, clock, 150).catch((e: unknown) => e);
    assert.ok(err instanceof PaddockError);
    assert.equal(err.code, 'TEMPLATE_START_FAILED');
    assert.deepEqual(err.details, {
      template: 'web',
      command: 'serve',
      reason: 'exited',
      exitCode: 2,
      output: ['no config'],
    });
  });

  it("fails with TEMPLATE_START_FAILED when the agent refuses the start (the template's user or workdir)", async () => {
    const clock = new FakeClock();
    const agent = new FakeAgent([], new PaddockError('INVALID_ARGUMENT', "user: no user named 'app'"));
    const template = templateWith({ command: 'serve', ready: { port: 80 } });
    const err = await startTemplateProcess({ clock, agentFor: () => agent }, { record: RECORD, template }).catch(
      (e: unknown) => e,
    );
    assert.ok(err instanceof PaddockError);
    assert.equal(err.code, 'TEMPLATE_START_FAILED');
    assert.match(err.message, /refused to start its start command: user: no user named 'app'/);
    assert.equal(clock.pending, 0);
  });

  it('times out by the clock after ready.timeoutMs', async () => {
    const clock = new FakeClock();
    const agent = new FakeAgent([]);
    const template = templateWith({ command: 'serve', ready: { command: 'probe', timeoutMs: 1_000 } });
    const began = clock.now();
    const err = await settle(
      startTemplateProcess({ clock, agentFor: () => agent }, { record: RECORD, template }),
      clock,
      150,
    ).catch((e: unknown) => e);
    assert.ok(err instanceof PaddockError);
    assert.equal(err.details?.reason, 'timeout');
    assert.ok(clock.now() - began >= 1_000 && clock.now() - began < 1_300);
    assert.equal(clock.pending, 0, 'a timer of the wait was left armed');
  });

  it("an abort rejects with the signal's reason and ends the follower stream", async () => {
    const clock = new FakeClock();
    const agent = new FakeAgent([]);
    const template = templateWith({ command: 'serve', ready: { command: 'probe' } });
    const controller = new AbortController();
    const waiting = startTemplateProcess(
      { clock, agentFor: () => agent },
      { record: RECORD, template },
      controller.signal,
    );
    await drain();
    const reason = new Error('client went away');
    controller.abort(reason);
    await assert.rejects(settle(waiting, clock, 150), (err) => err === reason);
    assert.equal(agent.followed?.signal.aborted, true);
  });

  it('without a ready check, is ready once the process started', async () => {
    const clock = new FakeClock();
    const agent = new FakeAgent([]);
    await startTemplateProcess(
      { clock, agentFor: () => agent },
      { record: RECORD, template: templateWith({ command: 'serve' }) },
    );
    assert.equal(agent.runs.length, 0);
    assert.equal(agent.followed?.request.cmd, 'serve');
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type AgentFeature,
  type CommandEvent,
  commandEventsOf,
  PaddockError,
  type ProcessEvent,
  type StartProcessRequest,
} from '@paddock/protocol';
import { type CommandAgent, Commands, commandEnv } from '../../packages/server/src/core/commands.js';
import { silentLogger } from '../../packages/server/src/core/logger.js';
import type { Reason } from '../../packages/server/src/core/reasons.js';
import type { RuntimeState } from '../../packages/server/src/core/seams/runtime.js';
import type { SandboxRecord } from '../../packages/server/src/core/seams/store.js';

const b64 = (text: string) => Buffer.from(text).toString('base64');

async function all<T>(events: AsyncIterable<T>): Promise<T[]> {
  const seen: T[] = [];
  for await (const event of events) seen.push(event);
  return seen;
}

async function* from<T>(events: T[], failWith?: unknown): AsyncGenerator<T> {
  yield* events;
  if (failWith !== undefined) throw failWith;
}

describe('commandEventsOf: process events in the CommandEvent dialect', () => {
  it('counts offsets per stream, drops the exit offset and truncation, passes errors', async () => {
    const events: ProcessEvent[] = [
      { type: 'start', id: 'p1', pid: 7 },
      { type: 'stdout', data: b64('ab'), offset: 0 },
      { type: 'stderr', data: b64('xyz'), offset: 2 },
      { type: 'truncated', fromOffset: 5, toOffset: 6 },
      { type: 'stdout', data: b64('c'), offset: 5 },
      { type: 'stderr', data: b64('w'), offset: 6 },
      { type: 'exit', exitCode: 137, signal: 'SIGKILL', oomKilled: true, offset: 7 },
    ];
    const expected: CommandEvent[] = [
      { type: 'start', pid: 7 },
      { type: 'stdout', data: b64('ab'), offset: 0 },
      { type: 'stderr', data: b64('xyz'), offset: 0 },
      { type: 'stdout', data: b64('c'), offset: 2 },
      { type: 'stderr', data: b64('w'), offset: 3 },
      { type: 'exit', exitCode: 137, signal: 'SIGKILL', oomKilled: true },
    ];
    assert.deepEqual(await all(commandEventsOf(from(events))), expected);
    const error = { type: 'error' as const, error: { code: 'UNAVAILABLE', message: 'gone' } };
    assert.deepEqual(await all(commandEventsOf(from<ProcessEvent>([error]))), [error]);
  });

  it('counts the bytes of every base64 padding', async () => {
    const chunks = ['a', 'ab', 'abc', 'abcd'].map((text, i) => ({
      type: 'stdout' as const,
      data: b64(text),
      offset: i,
    }));
    const offsets = (await all(commandEventsOf(from<ProcessEvent>(chunks)))).map(
      (e) => (e as { offset: number }).offset,
    );
    assert.deepEqual(offsets, [0, 1, 3, 6]);
  });
});

/** A sandbox, its runtime and its agent, all fake: what the owner does is all there is to see. */
function fixture(options: { features?: AgentFeature[]; events?: ProcessEvent[]; failWith?: unknown } = {}) {
  const record = { id: 'sbx1', isolation: 'gvisor', memoryMiB: 64, env: { A: 'sandbox', B: 'sandbox' } };
  const world = {
    state: 'running' as RuntimeState,
    oomKills: 3,
    requireRunningCalls: 0,
    lost: [] as Reason[],
    sent: [] as string[],
    requests: [] as StartProcessRequest[],
  };
  const agent: CommandAgent = {
    features: async () => new Set(options.features ?? ['processes.follow']),
    processes: {
      async stream(request) {
        world.sent.push('stream');
        world.requests.push(request);
        return from(options.events ?? [], options.failWith);
      },
      async start(request) {
        world.sent.push('start');
        world.requests.push(request);
        return { id: 'p1' };
      },
      async writeStdin(id) {
        world.sent.push(`stdin ${id} eof`);
      },
      async events(id, fromOffset) {
        world.sent.push(`events ${id} ${fromOffset}`);
        return from(options.events ?? [], options.failWith);
      },
    },
  };
  const commands = new Commands({
    sandboxes: {
      requireRunning: () => {
        world.requireRunningCalls++;
        return record as unknown as SandboxRecord;
      },
      runtimeFor: () => ({
        state: async () => world.state,
        usage: async () => ({ memoryBytes: 0, oomKills: world.oomKills }),
      }),
      markLost: (_id, reason) => world.lost.push(reason),
    },
    agentOf: () => agent,
    logger: silentLogger,
  });
  return { commands, world };
}

describe('Commands: the one owner of what a command gets', () => {
  it('merges the sandbox env under the command env, one rule for every door', async () => {
    assert.deepEqual(commandEnv({ env: { A: '1', B: '1' } }, { B: '2', C: '2' }), { A: '1', B: '2', C: '2' });
    assert.deepEqual(commandEnv({ env: { A: '1' } }, null), { A: '1' });
    const { commands, world } = fixture({ events: [{ type: 'exit', exitCode: 0, offset: 0 }] });
    const call = await commands.open('sbx1');
    await all(await commands.stream(call, { argv: ['true'], env: { B: 'command' } }));
    assert.deepEqual(world.requests[0]?.env, { A: 'sandbox', B: 'command' });
    assert.equal(world.requireRunningCalls, 1, 'the running check runs once per call');
  });

  it('says oomKilled on a SIGKILL exit when the memory cgroup counted a kill during the call', async () => {
    const exit: ProcessEvent = { type: 'exit', exitCode: 137, signal: 'SIGKILL', offset: 0 };
    const { commands, world } = fixture({ events: [{ type: 'start', id: 'p1', pid: 1 }, exit] });
    const call = await commands.open('sbx1');
    // The kill lands between the start and the exit: read before the start, after the exit.
    world.oomKills = 4;
    const events = await all(await commands.stream(call, { argv: ['x'] }));
    assert.deepEqual(events.at(-1), { ...exit, oomKilled: true });
  });

  it('leaves exits alone that no OOM kill explains: none counted, a timeout, another code', async () => {
    const cases: ProcessEvent[] = [
      { type: 'exit', exitCode: 137, signal: 'SIGKILL', offset: 0 },
      { type: 'exit', exitCode: 137, signal: 'SIGKILL', timedOut: true, offset: 0 },
      { type: 'exit', exitCode: 1, offset: 0 },
    ];
    for (const [i, exit] of cases.entries()) {
      const { commands, world } = fixture({ events: [exit] });
      const call = await commands.open('sbx1');
      if (i > 0) world.oomKills = 9;
      assert.deepEqual(await all(await commands.stream(call, { argv: ['x'] })), [exit]);
    }
  });

  it('marks the sandbox lost, out of memory, when it died under the stream', async () => {
    const { commands, world } = fixture({
      events: [{ type: 'start', id: 'p1', pid: 1 }],
      failWith: new Error('EPIPE'),
    });
    const call = await commands.open('sbx1');
    world.state = 'stopped';
    world.oomKills = 5;
    const err = await all(await commands.stream(call, { argv: ['x'] })).catch((e: unknown) => e);
    assert.ok(err instanceof PaddockError);
    assert.equal(err.code, 'SANDBOX_NOT_RUNNING');
    assert.deepEqual(err.details, { sandboxId: 'sbx1', state: 'hibernated', reasonCode: 'oom' });
    assert.match(err.message, /all of its 64 MiB .*\(2 OOM kill\(s\)/);
    assert.deepEqual(
      world.lost.map((r) => r.code),
      ['oom'],
    );
  });

  it('says agent_lost without a kill, and nothing is lost while the sandbox runs or is paused', async () => {
    const gone = fixture({ failWith: new Error('EPIPE') });
    const call = await gone.commands.open('sbx1');
    gone.world.state = 'absent';
    const err = await all(await gone.commands.stream(call, { argv: ['x'] })).catch((e: unknown) => e);
    assert.equal((err as PaddockError).details?.reasonCode, 'agent_lost');

    const unavailable = new PaddockError('UNAVAILABLE', 'cut');
    const alive = fixture({ failWith: unavailable });
    const aliveCall = await alive.commands.open('sbx1');
    assert.equal(
      await all(await alive.commands.stream(aliveCall, { argv: ['x'] })).catch((e: unknown) => e),
      unavailable,
    );
    const paused = new PaddockError('SANDBOX_PAUSED', 'paused');
    const pausing = fixture({ failWith: paused });
    const pausingCall = await pausing.commands.open('sbx1');
    pausing.world.state = 'paused';
    assert.equal(
      await all(await pausing.commands.stream(pausingCall, { argv: ['x'] })).catch((e: unknown) => e),
      paused,
    );
    assert.deepEqual([alive.world.lost, pausing.world.lost], [[], []]);
  });

  it('an aborted stream rejects with the signal reason, marking nothing', async () => {
    const { commands, world } = fixture({ failWith: new Error('aborted') });
    const call = await commands.open('sbx1');
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    controller.abort(reason);
    world.state = 'stopped';
    const err = await all(await commands.stream(call, { argv: ['x'] }, { signal: controller.signal })).catch(
      (e: unknown) => e,
    );
    assert.equal(err, reason);
    assert.deepEqual(world.lost, []);
  });

  it('follows in one round trip where the handshake allows, in three for an older agent', async () => {
    const request: StartProcessRequest = { argv: ['cat'], background: true, follow: true, closeStdin: true };
    const current = fixture();
    await all(await current.commands.stream(await current.commands.open('sbx1'), request));
    assert.deepEqual(current.world.sent, ['stream']);
    const older = fixture({ features: [] });
    await all(await older.commands.stream(await older.commands.open('sbx1'), request));
    assert.deepEqual(older.world.sent, ['start', 'stdin p1 eof', 'events p1 0']);
    assert.equal('follow' in (older.world.requests[0] ?? {}), false);
    assert.equal('closeStdin' in (older.world.requests[0] ?? {}), false);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AGENT_FEATURES, commandEventsOf, type RunCommandRequest } from '@paddock/protocol';
import { type AgentFixture, collect, paddockError, processGone, startAgent, waitFor } from './fixture.js';

/**
 * A command as `POST …/commands` runs it: a foreground process of the agent's one process
 * protocol, its events in the `CommandEvent` dialect (protocol's `commandEventsOf`).
 */
describe('agent exec', () => {
  let agent: AgentFixture;
  const exec = (request: RunCommandRequest, signal?: AbortSignal) =>
    commandEventsOf(agent.client.processes.run(request, { signal }));
  before(async () => {
    agent = await startAgent();
  });
  after(async () => {
    await agent?.stop();
  });

  it('starts fast and answers health', async (t) => {
    const health = await agent.client.health();
    assert.equal(health.ok, true);
    assert.equal(health.pid, agent.pid);
    // The handshake: the bundle's version and every feature this server knows of.
    assert.match(health.version ?? '', /^\d+\.\d+\.\d+$/);
    assert.deepEqual(health.features, [...AGENT_FEATURES]);
    assert.deepEqual([...(await agent.client.features())], [...AGENT_FEATURES]);
    t.diagnostic(
      `startup to listening: ${agent.startupMs.observed} ms observed, ${agent.startupMs.reported} ms reported`,
    );
  });

  it('runs argv directly and reports start, output and exit', async () => {
    const result = await collect(exec({ argv: ['printf', '%s|%s', 'a b', 'c'] }));
    assert.equal(result.events[0]?.type, 'start');
    assert.equal(result.stdout, 'a b|c');
    assert.deepEqual(result.exit, { type: 'exit', exitCode: 0 });
    assert.equal(result.events.at(-1)?.type, 'exit');
  });

  it('runs cmd with bash, with exit codes', async () => {
    const result = await collect(exec({ cmd: 'echo "$BASH_VERSION" | cut -c1; exit 3' }));
    assert.match(result.stdout, /^\d\n$/);
    assert.equal(result.exit?.exitCode, 3);
  });

  it('merges config env, user defaults and request env; honours cwd', async () => {
    const result = await collect(
      exec({
        cmd: 'echo "$FROM_CONFIG $FROM_REQ $HOME $USER $LOGNAME"; pwd; test -n "$PATH" && echo path',
        env: { FROM_REQ: 'req' },
        cwd: '/tmp',
      }),
    );
    assert.equal(result.stdout, 'yes req /root root root\n/tmp\npath\n');
  });

  it('defaults cwd to the config workdir', async () => {
    const result = await collect(exec({ argv: ['pwd'] }));
    assert.equal(result.stdout.trim(), agent.dir);
  });

  it('streams stdout and stderr with per-stream byte offsets', async () => {
    const result = await collect(
      exec({ cmd: 'for i in 1 2 3; do echo out$i; echo err$i >&2; done; head -c 300000 /dev/zero' }),
    );
    for (const type of ['stdout', 'stderr'] as const) {
      let expected = 0;
      for (const event of result.events) {
        if (event.type !== type) continue;
        assert.equal(event.offset, expected, `${type} offsets are contiguous`);
        expected += Buffer.from(event.data, 'base64').length;
      }
    }
    assert.equal(result.stdout, `out1\nout2\nout3\n${'\0'.repeat(300_000)}`);
    assert.equal(result.stderr, 'err1\nerr2\nerr3\n');
    assert.ok(result.events.filter((e) => e.type === 'stdout').length > 1, 'large output arrives in chunks');
  });

  it('writes stdin and closes it; without stdin the command sees EOF at once', async () => {
    const withInput = await collect(
      exec({ argv: ['cat'], stdinBase64: Buffer.from('hello\0bytes').toString('base64') }),
    );
    assert.equal(withInput.stdout, 'hello\0bytes');
    const without = await collect(exec({ argv: ['cat'] }));
    assert.equal(without.stdout, '');
    assert.equal(without.exit?.exitCode, 0);
  });

  it('answers 127 with a message for a missing program, like a shell', async () => {
    const direct = await collect(exec({ argv: ['no-such-program-xyz'] }));
    assert.equal(direct.exit?.exitCode, 127);
    assert.match(direct.stderr, /no-such-program-xyz: command not found/);
    const shell = await collect(exec({ cmd: 'no-such-program-xyz' }));
    assert.equal(shell.exit?.exitCode, 127);
  });

  it('reports a signal death as 128+n with the signal name', async () => {
    const result = await collect(exec({ cmd: 'kill -TERM $$' }));
    assert.equal(result.exit?.exitCode, 143);
    assert.equal(result.exit?.signal, 'SIGTERM');
  });

  it('kills the whole process group on timeout', async () => {
    const result = await collect(exec({ cmd: 'sleep 1000 & echo $!; wait', timeoutMs: 300 }));
    assert.equal(result.exit?.timedOut, true);
    assert.equal(result.exit?.exitCode, 137);
    assert.equal(result.exit?.signal, 'SIGKILL');
    const grandchild = Number(result.stdout.trim());
    assert.ok(grandchild > 0);
    await waitFor(`grandchild ${grandchild} to die`, () => processGone(grandchild));
  });

  it('kills the process group when the client disconnects', async () => {
    let grandchild = 0;
    for await (const event of exec({ cmd: 'sleep 1000 & echo $!; wait', timeoutMs: 0 })) {
      if (event.type === 'stdout') {
        grandchild = Number(Buffer.from(event.data, 'base64').toString().trim());
        break;
      }
    }
    assert.ok(grandchild > 0);
    await waitFor(`grandchild ${grandchild} to die`, () => processGone(grandchild));
  });

  it('aborting the signal stops the stream with the signal reason', async () => {
    const controller = new AbortController();
    const reason = new Error('caller gave up');
    const seen: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const event of exec({ cmd: 'echo go; exec sleep 1000' }, controller.signal)) {
          seen.push(event.type);
          if (event.type === 'stdout') controller.abort(reason);
        }
      })(),
      (err) => err === reason,
    );
    assert.deepEqual(seen, ['start', 'stdout']);
  });

  it('rejects bad requests naming the field, before starting anything', async () => {
    const tooLong = await paddockError(() => collect(exec({ argv: ['true'], timeoutMs: 86_400_001 })));
    assert.equal(tooLong.code, 'INVALID_ARGUMENT');
    assert.match(tooLong.message, /^`timeoutMs`: Too big/);
    const both = await paddockError(() => collect(exec({ argv: ['true'], cmd: 'true' })));
    assert.equal(both.code, 'INVALID_ARGUMENT');
    assert.match(both.message, /`cmd`/);
    const user = await paddockError(() => collect(exec({ argv: ['true'], user: 'nobody-here' })));
    assert.equal(user.code, 'INVALID_ARGUMENT');
    assert.equal(user.details?.field, 'user');
    const cwd = await paddockError(() => collect(exec({ argv: ['true'], cwd: '/no/such/dir' })));
    assert.equal(cwd.code, 'NOT_FOUND');
    assert.match(cwd.message, /`cwd`/);
    const raw = await agent.client.raw({ method: 'GET', path: '/health' }).then((res) => res.resume());
    assert.ok(raw);
  });

  it('runs as another user when asked', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const result = await collect(exec({ cmd: 'id -u; id -g; echo $HOME', user: 'nobody' }));
    assert.equal(result.exit?.exitCode, 0);
    const [uid, gid] = result.stdout.split('\n');
    assert.equal(uid, '65534');
    assert.equal(gid, '65534');
  });

  it('has a quick exec round trip', async (t) => {
    const timesMs: number[] = [];
    for (let i = 0; i < 30; i++) {
      const startedAt = performance.now();
      await collect(exec({ argv: ['true'] }));
      timesMs.push(performance.now() - startedAt);
    }
    timesMs.sort((a, b) => a - b);
    t.diagnostic(
      `exec round trip (argv true): median ${timesMs[15]?.toFixed(2)} ms, p90 ${timesMs[27]?.toFixed(2)} ms`,
    );
  });

  it('maps an unreachable agent to UNAVAILABLE', async () => {
    const { AgentClient } = await import('../../packages/server/src/agent-client/index.js');
    const nowhere = new AgentClient(`${agent.dir}/missing.sock`);
    const err = await paddockError(() => nowhere.health());
    assert.equal(err.code, 'UNAVAILABLE');
    assert.match(err.message, /^sandbox agent is not reachable/);
  });
});

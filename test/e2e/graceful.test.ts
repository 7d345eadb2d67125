// Issue 21 items 5 and 6: calls in flight when a sandbox stops serving (pause at timeout, an
// explicit pause or hibernate) end with a typed error instead of hanging, and a SIGTERM stops
// the server within a bound although streams are open, ending them resumably.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import { type CommandHandle, Sandbox, SandboxPausedError, UnavailableError } from '@paddock/sdk';
import { TEST_API_KEY } from '../support/env.js';
import { useTestServer, waitFor } from '../support/server.js';
import { ServerProcess } from '../support/server-process.js';

/** Prints 1, 2, 3, … a line every 50 ms, for ever. */
const COUNTER = 'i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done';

/** Rejects with a message naming `what` when `promise` takes longer than `ms`: a bound, not a wait. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Follows a process's output from `fromOffset` until its stream ends; says how it ended and where to resume. */
async function follow(handle: CommandHandle, fromOffset: number, onOutput: (next: number) => void) {
  let next = fromOffset;
  let firstOffset: number | undefined;
  try {
    for await (const ev of handle.events(fromOffset)) {
      if (ev.type !== 'stdout') continue;
      firstOffset ??= ev.offset;
      next = ev.offset + ev.bytes.length;
      onOutput(next);
    }
    return { err: undefined as unknown, next, firstOffset };
  } catch (err) {
    return { err, next, firstOffset };
  }
}

/** Resolves once `handle` has delivered output from `fromOffset`; returns the offset of the first chunk. */
async function firstChunkOffset(handle: CommandHandle, fromOffset: number): Promise<number> {
  for await (const ev of handle.events(fromOffset)) if (ev.type === 'stdout') return ev.offset;
  throw new Error('the process stream ended without output');
}

describe('calls in flight when a sandbox stops serving', () => {
  const { sandbox } = useTestServer({ metadata: { suite: 'graceful' } });

  test('a call in flight when onTimeout pause fires returns (its result or SANDBOX_PAUSED), and the next call resumes', async () => {
    const sbx = await sandbox({ isolation: 'container', timeoutMs: 1_000, onTimeout: 'pause', autoResume: true });
    let ok = 0;
    let cut = 0;
    const deadline = Date.now() + 30_000;
    while ((cut < 2 || ok < 3) && Date.now() < deadline) {
      try {
        // Before the fix, the call in flight at the pause hung for ever.
        const r = await within(8_000, 'a command across a timeout pause', sbx.commands.run('sleep 0.2; echo x'));
        assert.equal(r.stdout, 'x\n');
        ok++;
      } catch (err) {
        assert.ok(err instanceof SandboxPausedError, `the call ends with SANDBOX_PAUSED, got ${String(err)}`);
        assert.match(err.message, /paused while this call was in flight.*autoResume/);
        cut++;
      }
    }
    assert.ok(cut >= 2, `the pause cut calls in flight (cut ${cut}, ok ${ok})`);
    assert.ok(ok >= 3, `calls after a pause resume the sandbox and succeed (cut ${cut}, ok ${ok})`);
    assert.equal((await sbx.commands.run('echo back')).stdout, 'back\n');
    assert.equal((await sbx.getInfo()).state, 'running');
  });

  test('an explicit pause ends a streaming commands.run with SANDBOX_PAUSED at once; a background process goes on and is followed again by offset after resume', async () => {
    const sbx = await sandbox({ isolation: 'container' });
    const bg = await sbx.commands.run(COUNTER, { background: true });
    let latest = 0;
    let onOutput: () => void = () => {};
    const following = follow(bg, 0, (next) => {
      latest = next;
      onOutput();
    });
    const outputBeyond = (offset: number) =>
      new Promise<void>((resolve) => {
        onOutput = () => {
          if (latest > offset) resolve();
        };
      });
    let fgStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      fgStarted = resolve;
    });
    const fg = sbx.commands.run('echo started; sleep 60', { onStdout: () => fgStarted() });
    fg.catch(() => {});
    await within(10_000, 'output of both commands', Promise.all([started, outputBeyond(0)]));

    const pausedAt = Date.now();
    assert.equal((await sbx.pause()).state, 'paused');
    await within(5_000, 'the streaming command to end', assert.rejects(fg, SandboxPausedError));
    assert.ok(Date.now() - pausedAt < 5_000);
    assert.equal((await sbx.getInfo()).state, 'paused', 'the sandbox is paused, not lost');
    const atPause = latest;

    const more = outputBeyond(atPause);
    await sbx.resume();
    await within(10_000, 'the open follower to go on after the resume', more);
    const again = await sbx.commands.connect(bg.id);
    assert.equal(
      await within(10_000, 'output from the offset reached at the pause', firstChunkOffset(again, atPause)),
      atPause,
      'the process is followed again from an offset',
    );
    await bg.kill();
    assert.equal((await within(10_000, 'the follower to end', following)).err, undefined);
  });

  test('a hibernate while commands.run streams ends the call with SANDBOX_PAUSED; the sandbox is hibernated, not lost', async () => {
    const sbx = await sandbox({ isolation: 'container' });
    let fgStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      fgStarted = resolve;
    });
    const fg = sbx.commands.run('echo started; sleep 60', { onStdout: () => fgStarted() });
    fg.catch(() => {});
    await within(10_000, 'the command to start', started);
    assert.equal((await sbx.hibernate({ keepMemory: false })).state, 'hibernated');
    await within(5_000, 'the streaming command to end', assert.rejects(fg, SandboxPausedError));
    assert.equal((await sbx.getInfo()).state, 'hibernated');
    assert.equal((await sbx.resume()).state, 'running');
    assert.equal((await sbx.commands.run('echo back')).stdout, 'back\n');
  });
});

describe('graceful stop', () => {
  const server = new ServerProcess(21_000 + (process.pid % 1000));
  const conn = { apiUrl: server.url, apiKey: TEST_API_KEY };

  after(async () => {
    if (server.child?.exitCode !== null || server.child.signalCode !== null) await server.start();
    for (const s of await Sandbox.list({ ...conn, metadata: { suite: 'graceful-stop' } }))
      await Sandbox.kill(s.id, conn);
    await server.stop('SIGTERM');
  });

  /** Exits of the server process: its code, and how long after `since` it came. */
  async function exitOf(since: number): Promise<{ code: number | null; afterMs: number }> {
    const child = server.child;
    assert.ok(child);
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    return { code: child.exitCode, afterMs: Date.now() - since };
  }

  test('SIGTERM with a follower, a watch and a command open: exits within 10 s, each ends with a resumable UNAVAILABLE, sandboxes keep running', async () => {
    await server.start();
    const sbx = await Sandbox.create({ ...conn, metadata: { suite: 'graceful-stop' } });
    const bg = await sbx.commands.run(COUNTER, { background: true });
    let sawOutput: () => void = () => {};
    const output = new Promise<void>((resolve) => {
      sawOutput = resolve;
    });
    const follower = await sbx.commands.connect(bg.id);
    const following = follow(follower, 0, () => sawOutput());
    let watchEnded: (err: Error) => void = () => {};
    const watchError = new Promise<Error>((resolve) => {
      watchEnded = resolve;
    });
    await sbx.files.watch('/home/user', () => {}, { onError: (err) => watchEnded(err) });
    let fgStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => {
      fgStarted = resolve;
    });
    const fg = sbx.commands.run('echo started; sleep 60', { onStdout: () => fgStarted() });
    fg.catch(() => {});
    await within(10_000, 'the follower and the command to see output', Promise.all([output, started]));

    const stoppedAt = Date.now();
    const logFrom = server.log.length;
    server.child?.kill('SIGTERM');
    await waitFor('the server to start stopping', async () =>
      server.log.slice(logFrom).includes('SIGTERM: stopping') ? true : undefined,
    );
    const late = await fetch(`${server.url}/v1/sandboxes`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } })
      .then((res) => res.status)
      .catch(() => 'refused');
    assert.ok(late === 503 || late === 'refused', `a stopping server takes no new calls (got ${late})`);
    const exit = await within(15_000, 'the server to exit after SIGTERM', exitOf(stoppedAt));
    assert.equal(exit.code, 0, server.log);
    assert.ok(exit.afterMs < 10_000, `exited ${exit.afterMs} ms after SIGTERM`);

    const followed = await within(5_000, 'the follower to end', following);
    assert.ok(followed.err instanceof UnavailableError, `the follower ends with UNAVAILABLE, got ${followed.err}`);
    assert.equal(
      followed.err.details?.fromOffset,
      followed.next,
      `the end names the offset to follow again from (${followed.err.message})`,
    );
    assert.equal(followed.err.details?.reason, 'server_stopping');
    assert.ok((await within(5_000, 'the watch to end', watchError)) instanceof UnavailableError);
    await within(5_000, 'the command to end', assert.rejects(fg, UnavailableError));

    await server.start();
    assert.equal((await sbx.getInfo()).state, 'running');
    const again = await sbx.commands.connect(bg.id);
    assert.equal(
      await within(10_000, 'output after the restart', firstChunkOffset(again, followed.next)),
      followed.next,
      'the process ran on and is followed again from the offset named',
    );
    await sbx.kill();
  });

  test('a second SIGTERM exits at once while open streams drain', async () => {
    if (server.child?.exitCode !== null || server.child.signalCode !== null) await server.start();
    const sbx = await Sandbox.create({ ...conn, metadata: { suite: 'graceful-stop' } });
    const bg = await sbx.commands.run(COUNTER, { background: true });
    let sawOutput: () => void = () => {};
    const output = new Promise<void>((resolve) => {
      sawOutput = resolve;
    });
    const following = follow(await sbx.commands.connect(bg.id), 0, () => sawOutput());
    await within(10_000, 'the follower to see output', output);

    const logFrom = server.log.length;
    server.child?.kill('SIGTERM');
    // Signals sent back to back can merge into one: the second goes once the first is taken.
    await waitFor('the server to start stopping', async () =>
      server.log.slice(logFrom).includes('SIGTERM: stopping') ? true : undefined,
    );
    const againAt = Date.now();
    server.child?.kill('SIGTERM');
    // The open stream alone holds a graceful stop for its 2 s drain: an exit well before is the second signal's.
    const exit = await within(15_000, 'the server to exit after a second SIGTERM', exitOf(againAt));
    assert.ok(exit.afterMs < 1_500, `exited ${exit.afterMs} ms after the second SIGTERM`);
    assert.equal(exit.code, 143);
    await within(5_000, 'the follower to end', following);

    await server.start();
    assert.equal((await sbx.getInfo()).state, 'running', 'the sandbox outlives the abrupt exit');
    await sbx.kill();
  });
});

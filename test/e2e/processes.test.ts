import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type CommandHandle,
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  type ProcessOutputEvent,
  Sandbox,
  type SignalName,
  TimeoutError,
} from '@paddock/sdk';
import { runCli } from '../support/cli.js';
import { TEST_API_KEY } from '../support/env.js';
import { waitFor } from '../support/server.js';
import { ServerProcess } from '../support/server-process.js';

// A server of its own, run as a child, so one test can restart it under live processes.
const server = new ServerProcess(18_000 + (process.pid % 1000));
const conn = { apiUrl: server.url, apiKey: TEST_API_KEY };
const made: Sandbox[] = [];

before(async () => {
  await server.start();
});

after(async () => {
  await Promise.allSettled(made.map((s) => s.kill()));
  await server.stop('SIGTERM');
});

async function sandbox(opts: Parameters<typeof Sandbox.create>[0] = {}): Promise<Sandbox> {
  const sbx = await Sandbox.create({ ...conn, ...opts });
  made.push(sbx);
  return sbx;
}

/** Reads events until `exit` (or `stop`), then disconnects; returns them and the joined bytes. */
async function read(handle: CommandHandle, fromOffset: number, stop?: (bytes: Buffer) => boolean) {
  const events: ProcessOutputEvent[] = [];
  const chunks: Buffer[] = [];
  for await (const event of handle.events(fromOffset)) {
    events.push(event);
    if (event.type === 'stdout' || event.type === 'stderr') chunks.push(Buffer.from(event.bytes));
    if (stop?.(Buffer.concat(chunks))) break;
  }
  return { events, bytes: Buffer.concat(chunks) };
}

describe('durable processes (crun)', () => {
  let sbx: Sandbox;
  before(async () => {
    sbx = await sandbox();
  });

  it('a background process survives the SDK disconnecting; reattach from 0 and a mid offset is exact', async () => {
    const seen: string[] = [];
    const p = await sbx.commands.run(
      'for i in $(seq 1 300); do echo "out $i"; echo "err $i" >&2; done; read x; echo "x=$x"',
      {
        background: true,
        onStdout: (d) => seen.push(d),
      },
    );
    assert.ok(p.pid > 0);
    await waitFor('some output through onStdout', async () => (seen.join('').includes('out 300') ? true : undefined));
    p.disconnect();
    // A different client (new connection) finds it, running, and feeds it.
    const other = await Sandbox.connect(sbx.id, conn);
    const listed = (await other.commands.list()).find((info) => info.id === p.id);
    assert.equal(listed?.running, true);
    assert.equal(listed?.background, true);
    const again = await other.commands.connect(p.id);
    await again.sendStdin('42\n');
    const full = await read(again, 0);
    const exit = full.events.at(-1);
    assert.equal(exit?.type, 'exit');
    assert.equal(exit?.type === 'exit' && exit.offset, full.bytes.length);
    assert.ok(full.bytes.toString().endsWith('x=42\n'));
    for (const from of [1, 1000, Math.floor(full.bytes.length / 2), full.bytes.length]) {
      const part = await read(again, from);
      assert.ok(part.bytes.equals(full.bytes.subarray(from)), `continuity from ${from}`);
    }
    // Mid-stream resume while it runs: a reader stops at offset k, another resumes at k.
    const live = await sbx.commands.run('for i in $(seq 1 200); do echo "tick $i"; sleep 0.005; done', {
      background: true,
    });
    const head = await read(live, 0, (bytes) => bytes.length >= 300);
    const tail = await read(live, head.bytes.length);
    const whole = await read(live, 0);
    assert.ok(Buffer.concat([head.bytes, tail.bytes]).equals(whole.bytes), 'no byte lost or repeated');
    assert.equal(await live.wait().then((r) => r.exitCode), 0);
  });

  it('a reader whose offset fell out of the buffer gets a truncated marker', async () => {
    const sizeBytes = 5 * 1024 * 1024;
    const p = await sbx.commands.run(`head -c ${sizeBytes} /dev/zero | tr '\\0' a`, { background: true });
    await waitFor('the process to finish', async () => ((await p.getInfo()).running ? undefined : true), 60_000);
    const { events, bytes } = await read(p, 0);
    assert.deepEqual(events[1], { type: 'truncated', fromOffset: 0, toOffset: sizeBytes - 4 * 1024 * 1024 });
    assert.equal(bytes.length, 4 * 1024 * 1024);
  });

  it('stdin, wait, list with exit codes; kill ends it', async () => {
    const cat = await sbx.commands.run('cat; exit 5', { background: true });
    await cat.sendStdin('hello ');
    await cat.sendStdin('world', { eof: true });
    await assert.rejects(cat.wait(), (err: Error & { exitCode?: number; stdout?: string }) => {
      return err.name === 'CommandExitError' && err.exitCode === 5 && err.stdout === 'hello world';
    });
    const info = (await sbx.commands.list()).find((p) => p.id === cat.id);
    assert.equal(info?.running, false);
    assert.equal(info?.exitCode, 5);
    const sleeper = await sbx.commands.run(['sleep', '1000'], { background: true });
    await sleeper.kill('SIGTERM');
    await assert.rejects(sleeper.wait(), (err: Error & { signal?: string }) => err.signal === 'SIGTERM');
  });

  it('kill ends the whole tree, a double-forked setsid daemon included (seen from inside with ps)', async () => {
    const p = await sbx.commands.run(
      "( setsid bash -c 'exec sleep 4242' & ); bash -c 'sleep 4343 & wait' & echo started; wait",
      { background: true },
    );
    await read(p, 0, (bytes) => bytes.toString().includes('started'));
    const ps = async () => (await sbx.commands.run(['ps', '-eo', 'pid,sid,pgid,args'])).stdout;
    await waitFor('the daemon to run', async () => (/ sleep 4242\n/.test(await ps()) ? true : undefined));
    const before = await ps();
    // The daemon's own line (the command's bash line also mentions it).
    const daemon = before.split('\n').find((line) => line.trimEnd().endsWith(' sleep 4242')) ?? '';
    const [, daemonSid] = daemon.trim().split(/\s+/);
    assert.notEqual(Number(daemonSid), p.pid, `the daemon left the command's session:\n${before}`);
    await p.kill();
    await assert.rejects(p.wait(), (err: Error & { signal?: string }) => err.signal === 'SIGKILL');
    const afterKill = await ps();
    assert.doesNotMatch(afterKill, /sleep 4242|sleep 4343/, `nothing survives the kill:\n${afterKill}`);
  });

  it('a background timeoutMs kills it with a TimeoutError; the sandbox stays usable', async () => {
    const p = await sbx.commands.run('sleep 1000', { background: true, timeoutMs: 300 });
    await assert.rejects(p.wait(), TimeoutError);
    assert.equal((await sbx.commands.run('echo ok')).stdout, 'ok\n');
  });

  it('bad input: unknown id, stdin after exit, invalid signal', async () => {
    await assert.rejects(sbx.commands.connect('nosuchprocess'), NotFoundError);
    const done = await sbx.commands.run('true', { background: true });
    await done.wait();
    await assert.rejects(
      done.sendStdin('x'),
      (err: Error) => err instanceof ConflictError && /exited/.test(err.message),
    );
    await assert.rejects(done.kill('SIGNOPE' as SignalName), (err: Error) => {
      return err instanceof InvalidArgumentError && /`signal`/.test(err.message);
    });
    await assert.rejects(
      sbx.commands.run('true', { background: true, cwd: 'relative' }),
      (err: Error) => err instanceof InvalidArgumentError && /cwd/.test(err.message),
    );
    const bad = await fetch(`${server.url}/v1/sandboxes/${sbx.id}/processes/${done.id}/events?fromOffset=999999`, {
      headers: { authorization: `Bearer ${TEST_API_KEY}` },
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { message: string }).message, /fromOffset/);
  });

  it('follow: one POST starts a background process and streams it; it outlives the stream', async () => {
    const post = (body: Record<string, unknown>) =>
      fetch(`${server.url}/v1/sandboxes/${sbx.id}/processes`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const res = await post({ cmd: 'echo ready; read line; echo "got $line"', background: true, follow: true });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /ndjson/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    while (!text.includes('"stdout"')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    await reader.cancel();
    const start = JSON.parse(text.split('\n')[0] ?? '') as { type: string; id: string };
    assert.equal(start.type, 'start');
    const handle = await sbx.commands.connect(start.id);
    await handle.sendStdin('late\n');
    const { bytes } = await read(handle, 0);
    assert.equal(bytes.toString(), 'ready\ngot late\n');

    const bad = await post({ cmd: 'true', follow: true });
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { code: string; message: string };
    assert.equal(body.code, 'INVALID_ARGUMENT');
    assert.match(body.message, /follow/);
  });

  it('reattaches after a server restart with exact continuity', async () => {
    const p = await sbx.commands.run('for i in $(seq 1 400); do echo "line $i"; done; read x; echo "end $x"', {
      background: true,
    });
    const head = await read(p, 0, (bytes) => bytes.toString().includes('line 400\n'));
    await server.stop('SIGKILL');
    await server.start();
    const again = await (await Sandbox.connect(sbx.id, conn)).commands.connect(p.id);
    await again.sendStdin('now\n');
    const tail = await read(again, head.bytes.length);
    const whole = await read(again, 0);
    assert.ok(Buffer.concat([head.bytes, tail.bytes]).equals(whole.bytes), 'no byte lost or repeated');
    assert.ok(whole.bytes.toString().endsWith('line 400\nend now\n'));
  });
});

describe('durable processes (CLI)', () => {
  it('exec --background, ps, logs --from-offset, kill-process', async () => {
    const sbx = await sandbox();
    const env = { PADDOCK_URL: server.url, PADDOCK_API_KEY: TEST_API_KEY };
    const started = await runCli(
      ['exec', sbx.id, '--background', '--shell', '--', 'echo hello; echo world; sleep 1000'],
      {
        env,
      },
    );
    assert.equal(started.code, 0, started.stderr);
    const pid = started.stdout.trim();
    assert.match(pid, /^[a-z0-9]{16}$/);
    const handle = await sbx.commands.connect(pid);
    await read(handle, 0, (bytes) => bytes.toString() === 'hello\nworld\n');
    const ps = await runCli(['ps', sbx.id, '--json'], { env });
    const listed = (JSON.parse(ps.stdout) as { id: string; running: boolean }[]).find((p) => p.id === pid);
    assert.equal(listed?.running, true);
    const logs = await runCli(['logs', sbx.id, pid, '--from-offset', '6'], { env });
    assert.equal(logs.stdout, 'world\n');
    const killed = await runCli(['kill-process', sbx.id, pid, '--signal', 'SIGTERM'], { env });
    assert.equal(killed.code, 0, killed.stderr);
    await assert.rejects(handle.wait(), (err: Error & { signal?: string }) => err.signal === 'SIGTERM');
    const bad = await runCli(['kill-process', sbx.id, pid, '--signal', 'SIGNOPE'], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /`signal`.*INVALID_ARGUMENT/);
  });
});

describe('durable processes (gVisor smoke)', () => {
  it('runs in the background and reattaches from an offset', async () => {
    const sbx = await sandbox({ isolation: 'gvisor' });
    const p = await sbx.commands.run('for i in $(seq 1 100); do echo "g $i"; done; read x; echo "got $x"', {
      background: true,
    });
    const head = await read(p, 0, (bytes) => bytes.toString().includes('g 100\n'));
    const again = await sbx.commands.connect(p.id);
    await again.sendStdin('y\n');
    const tail = await read(again, head.bytes.length);
    assert.equal(
      Buffer.concat([head.bytes, tail.bytes]).toString(),
      `${Array.from({ length: 100 }, (_, i) => `g ${i + 1}\n`).join('')}got y\n`,
    );
    await sbx.kill();
  });
});

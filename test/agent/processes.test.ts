import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ProcessEvent, ProcessInfo, ProcessList, parseNdjson, type StartProcessRequest } from '@paddock/protocol';
import { type AgentFixture, paddockError, processGone, startAgent, waitFor } from './fixture.js';

describe('agent processes', () => {
  let agent: AgentFixture;
  const started: string[] = [];
  before(async () => {
    agent = await startAgent();
  });
  after(async () => {
    // Kill every tree a test left running, then stop the agent (which kills the rest).
    for (const id of started) await signal(id, {}).catch(() => {});
    await agent?.stop();
  });

  async function startBackground(request: Omit<StartProcessRequest, 'background'>): Promise<ProcessInfo> {
    const res = await agent.client.raw({ method: 'POST', path: '/processes', json: { ...request, background: true } });
    const info = ProcessInfo.parse(await readJson(res));
    started.push(info.id);
    return info;
  }
  async function events(id: string, fromOffset?: number, stopWhen?: (e: ProcessEvent[]) => boolean) {
    const res = await agent.client.raw({ method: 'GET', path: `/processes/${id}/events`, query: { fromOffset } });
    const seen: ProcessEvent[] = [];
    for await (const value of parseNdjson(res)) {
      seen.push(ProcessEvent.parse(value));
      if (stopWhen?.(seen)) {
        res.destroy();
        break;
      }
    }
    return seen;
  }
  async function signal(id: string, body: Record<string, unknown>) {
    const res = await agent.client.raw({ method: 'POST', path: `/processes/${id}/signal`, json: body });
    return ProcessInfo.parse(await readJson(res));
  }
  async function stdin(id: string, body: Record<string, unknown>) {
    const res = await agent.client.raw({ method: 'POST', path: `/processes/${id}/stdin`, json: body });
    res.resume();
  }

  it('starts a background process at once, lists it, and replays its output with combined offsets', async () => {
    const info = await startBackground({ cmd: 'printf ab; printf CD >&2; printf ef; read line; echo "got $line"' });
    assert.equal(info.running, true);
    assert.ok(info.pid > 0);
    assert.match(info.id, /^[a-z0-9]{16}$/);
    const list = ProcessList.parse(await readJson(await agent.client.raw({ method: 'GET', path: '/processes' })));
    assert.ok(list.processes.some((p) => p.id === info.id && p.running));
    await waitFor('six bytes of output', async () => (await info_(info.id)).endOffset === 6);
    await stdin(info.id, { dataBase64: Buffer.from('hi\n').toString('base64') });
    const all = await events(info.id, 0);
    assert.deepEqual(all[0], { type: 'start', id: info.id, pid: info.pid });
    const exit = all.at(-1);
    assert.equal(exit?.type, 'exit');
    let expected = 0;
    const perStream = { stdout: '', stderr: '' };
    for (const e of all) {
      if (e.type !== 'stdout' && e.type !== 'stderr') continue;
      assert.equal(e.offset, expected, 'offsets are contiguous across streams');
      const data = Buffer.from(e.data, 'base64');
      expected += data.length;
      perStream[e.type] += data.toString();
    }
    // The two pipes are read independently: only each stream's own order is given.
    assert.deepEqual(perStream, { stdout: 'abefgot hi\n', stderr: 'CD' });
    assert.deepEqual(exit, { type: 'exit', exitCode: 0, offset: expected });
    const after = await info_(info.id);
    assert.equal(after.running, false);
    assert.equal(after.exitCode, 0);
  });

  it('resumes from any offset with exact continuity', async () => {
    const info = await startBackground({ cmd: 'for i in $(seq 1 2000); do echo "line $i"; echo "err $i" >&2; done' });
    const full = concat(await events(info.id, 0));
    for (const from of [1, 7, 12_345, full.length - 1, full.length]) {
      assert.ok(concat(await events(info.id, from)).equals(full.subarray(from)), `from ${from}`);
    }
    const bad = await paddockError(() => events(info.id, full.length + 1));
    assert.equal(bad.code, 'INVALID_ARGUMENT');
    assert.match(bad.message, /fromOffset/);
  });

  it('a reader that fell out of the buffer gets a truncated marker, then the newest bytes', async () => {
    const sizeBytes = 5 * 1024 * 1024;
    const info = await startBackground({
      cmd: `head -c ${sizeBytes} /dev/urandom | od -An -v -tx1 | head -c ${sizeBytes}`,
    });
    await waitFor('the output to be written', async () => (await info_(info.id)).running === false, 30_000);
    const all = await events(info.id, 0);
    const gap = all[1];
    assert.equal(gap?.type, 'truncated');
    if (gap?.type !== 'truncated') return;
    assert.equal(gap.fromOffset, 0);
    assert.equal(gap.toOffset, sizeBytes - 4 * 1024 * 1024);
    assert.equal(concat(all).length, 4 * 1024 * 1024);
    assert.deepEqual(all.at(-1), { type: 'exit', exitCode: 0, offset: sizeBytes });
  });

  it('stdin: writes, closes with eof; refuses stdin after exit with CONFLICT', async () => {
    const info = await startBackground({ argv: ['cat'] });
    await stdin(info.id, { dataBase64: Buffer.from('one ').toString('base64') });
    const raw = await agent.client.raw({
      method: 'POST',
      path: `/processes/${info.id}/stdin`,
      query: { eof: 'true' },
      body: (async function* () {
        yield Buffer.from('two');
      })(),
    });
    raw.resume();
    const all = await events(info.id, 0);
    assert.equal(concat(all).toString(), 'one two');
    assert.equal(all.at(-1)?.type, 'exit');
    const err = await paddockError(() => stdin(info.id, { dataBase64: 'eA==' }));
    assert.equal(err.code, 'CONFLICT');
    assert.match(err.message, /exited/);
  });

  it('bad input: unknown id, bad signal, bad scope, unknown fields', async () => {
    assert.equal((await paddockError(() => events('nosuchprocess'))).code, 'NOT_FOUND');
    assert.equal((await paddockError(() => signal('nosuchprocess', {}))).code, 'NOT_FOUND');
    const info = await startBackground({ argv: ['sleep', '1000'] });
    const badSignal = await paddockError(() => signal(info.id, { signal: 'SIGNOPE' }));
    assert.equal(badSignal.code, 'INVALID_ARGUMENT');
    assert.equal(badSignal.details?.field, 'signal');
    const badScope = await paddockError(() => signal(info.id, { scope: 'world' }));
    assert.equal(badScope.details?.field, 'scope');
    const badStdin = await paddockError(() => stdin(info.id, { data: 'x' }));
    assert.equal(badStdin.code, 'INVALID_ARGUMENT');
    const badStart = await paddockError(() => startBackground({ cmd: 'true', argv: ['true'] }));
    assert.equal(badStart.code, 'INVALID_ARGUMENT');
    await signal(info.id, {});
  });

  it('signals the process alone, or its group', async () => {
    const info = await startBackground({
      cmd: 'trap "echo term; exit 3" TERM; echo ready; while :; do sleep 0.05; done',
    });
    await waitFor('the trap to be set', async () => (await info_(info.id)).endOffset > 0);
    await signal(info.id, { signal: 'SIGTERM', scope: 'process' });
    const all = await events(info.id, 0);
    assert.equal(concat(all).toString(), 'ready\nterm\n');
    assert.deepEqual(all.at(-1), { type: 'exit', exitCode: 3, offset: 11 });
    const group = await startBackground({ argv: ['sleep', '1000'] });
    await signal(group.id, { signal: 'SIGTERM', scope: 'group' });
    const ended = (await events(group.id, 0)).at(-1);
    assert.equal(ended?.type === 'exit' && ended.signal, 'SIGTERM');
  });

  it('a tree kill reaches a double-forked, setsid daemon and the whole tree', async () => {
    const pidFile = join(agent.dir, 'daemon.pid');
    const info = await startBackground({
      // The daemon leaves the session and the group, and its parent exits at once.
      cmd: `( setsid bash -c 'echo $$ > ${pidFile}; exec sleep 1000' & ); sleep 1000 & wait`,
    });
    await waitFor('the daemon pid file', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    const daemonPid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(daemonPid > 0 && !processGone(daemonPid));
    const stat = readFileSync(`/proc/${daemonPid}/stat`, 'utf8');
    const sid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
    assert.notEqual(sid, info.pid, 'the daemon is in a session of its own');
    await signal(info.id, {});
    await waitFor('the daemon to die', () => processGone(daemonPid));
    const exit = (await events(info.id, 0)).at(-1);
    assert.equal(exit?.type === 'exit' && exit.signal, 'SIGKILL');
  });

  it('a background timeoutMs kills the tree and says timedOut', async () => {
    const info = await startBackground({ cmd: 'sleep 1000 & sleep 1000', timeoutMs: 200 });
    const exit = (await events(info.id, 0)).at(-1);
    assert.equal(exit?.type === 'exit' && exit.timedOut, true);
  });

  it('a foreground process streams, and closing its stream kills it', async () => {
    const pidFile = join(agent.dir, 'fg.pid');
    const res = await agent.client.raw({
      method: 'POST',
      path: '/processes',
      json: { cmd: `echo $$ > ${pidFile}; echo ready; sleep 1000` },
    });
    let id = '';
    for await (const value of parseNdjson(res)) {
      const event = ProcessEvent.parse(value);
      if (event.type === 'start') id = event.id;
      if (event.type === 'stdout') break;
    }
    res.destroy();
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await waitFor('the foreground process to be killed', () => processGone(pid));
    await waitFor('its exit to be recorded', async () => (await info_(id)).running === false);
  });

  it('follow: a background start answers with its events, and the process outlives that stream', async () => {
    const pidFile = join(agent.dir, 'followed.pid');
    const res = await agent.client.raw({
      method: 'POST',
      path: '/processes',
      json: { cmd: `echo $$ > ${pidFile}; echo ready; read line; echo "got $line"`, background: true, follow: true },
    });
    let start: ProcessEvent | undefined;
    for await (const value of parseNdjson(res)) {
      const event = ProcessEvent.parse(value);
      start ??= event;
      if (event.type === 'stdout') break;
    }
    res.destroy();
    assert.equal(start?.type, 'start');
    const id = start?.type === 'start' ? start.id : '';
    started.push(id);
    // Still running after its stream closed, and its stdin still open.
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.equal(processGone(pid), false);
    assert.equal((await info_(id)).running, true);
    await stdin(id, { dataBase64: Buffer.from('late\n').toString('base64') });
    const all = await events(id, 0);
    assert.equal(concat(all).toString(), 'ready\ngot late\n');
    assert.deepEqual(all.at(-1), { type: 'exit', exitCode: 0, offset: 'ready\ngot late\n'.length });
  });

  it('closeStdin: a background process sees EOF after its input; follow needs background', async () => {
    const res = await agent.client.raw({
      method: 'POST',
      path: '/processes',
      json: {
        argv: ['cat'],
        stdinBase64: Buffer.from('only this').toString('base64'),
        background: true,
        follow: true,
        closeStdin: true,
      },
    });
    const all: ProcessEvent[] = [];
    for await (const value of parseNdjson(res)) all.push(ProcessEvent.parse(value));
    assert.equal(concat(all).toString(), 'only this');
    assert.deepEqual(all.at(-1), { type: 'exit', exitCode: 0, offset: 9 });
    const closed = all[0]?.type === 'start' ? all[0].id : '';
    const err = await paddockError(() => stdin(closed, { dataBase64: 'eA==' }));
    assert.equal(err.code, 'CONFLICT');

    const notBackground = await paddockError(async () =>
      (await agent.client.raw({ method: 'POST', path: '/processes', json: { cmd: 'true', follow: true } })).resume(),
    );
    assert.equal(notBackground.code, 'INVALID_ARGUMENT');
    assert.equal(notBackground.details?.field, 'follow');
    assert.match(notBackground.message, /background: true/);
  });

  async function info_(id: string): Promise<ProcessInfo> {
    return ProcessInfo.parse(await readJson(await agent.client.raw({ method: 'GET', path: `/processes/${id}` })));
  }
});

function concat(events: ProcessEvent[]): Buffer {
  return Buffer.concat(
    events.flatMap((e) => (e.type === 'stdout' || e.type === 'stderr' ? [Buffer.from(e.data, 'base64')] : [])),
  );
}

async function readJson(stream: AsyncIterable<Buffer>): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

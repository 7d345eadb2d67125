// API tests of pure logic over the fake runtime (test/support/fake-server.ts): the whole
// server in this process, each sandbox the real agent as a host process. Needs no root.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArgumentError, NotFoundError, Sandbox, SandboxNotRunningError, SandboxPausedError } from '@paddock/sdk';
import { startFakeServer } from '../support/fake-server.js';

describe('sandbox basics through the API (fake runtime, no root)', () => {
  test('create, run a command, write and read a file, kill', async () => {
    await using env = await startFakeServer();
    const sbx = await env.sandbox();
    assert.equal((await sbx.getInfo()).state, 'running');
    const dir = env.filesDir(sbx);
    const r = await sbx.commands.run('echo out; echo err >&2; pwd');
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout, `out\n${dir}\n`);
    assert.equal(r.stderr, 'err\n');
    await sbx.files.write(`${dir}/notes/a.txt`, 'written through the API');
    assert.equal(await sbx.files.read(`${dir}/notes/a.txt`), 'written through the API');
    assert.equal((await sbx.commands.run('cat notes/a.txt')).stdout, 'written through the API');
    await sbx.kill();
    assert.equal(await sbx.isRunning(), false);
    await assert.rejects(sbx.commands.run('true'), SandboxNotRunningError);
  });

  test('a command that fails reports its exit code', async () => {
    await using env = await startFakeServer();
    await using sbx = await env.sandbox();
    const r = await sbx.commands.run('exit 7', { throwOnError: false });
    assert.equal(r.exitCode, 7);
  });

  test('bad input is refused with typed errors, and nothing is left running', async () => {
    await using env = await startFakeServer();
    await assert.rejects(Sandbox.create({ ...env.conn, memoryMiB: 1 }), InvalidArgumentError);
    await assert.rejects(Sandbox.create({ ...env.conn, template: 'no-such-template' }), NotFoundError);
    // This server offers `container` only.
    await assert.rejects(Sandbox.create({ ...env.conn, isolation: 'gvisor' }), InvalidArgumentError);
    await assert.rejects(Sandbox.connect('aaaaaaaaaaaaaaaaaaaa', env.conn), NotFoundError);
    await using sbx = await env.sandbox();
    await assert.rejects(sbx.files.read(`${env.filesDir(sbx)}/missing.txt`), NotFoundError);
    await assert.rejects(sbx.commands.run('true', { cwd: 'relative' }), InvalidArgumentError);
    assert.deepEqual(await env.runtime.list(), [sbx.id], 'refused creates made no sandbox');
  });

  test('pause freezes the sandbox until resume', async () => {
    await using env = await startFakeServer();
    await using sbx = await env.sandbox();
    assert.equal((await sbx.pause()).state, 'paused');
    assert.equal(await env.runtime.state(sbx.id), 'paused');
    await assert.rejects(sbx.commands.run('true'), SandboxPausedError);
    assert.equal((await sbx.resume()).state, 'running');
    assert.equal((await sbx.commands.run('echo back')).stdout, 'back\n');
  });
});

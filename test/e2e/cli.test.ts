import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SandboxInfo } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import { runCli } from '../support/cli.js';
import { startTestServer, type TestConnection } from '../support/server.js';

let server: RunningServer;
let conn: TestConnection;
let env: Record<string, string>;
let work: string;
const ids: string[] = [];

before(async () => {
  ({ server, conn } = await startTestServer());
  env = { PADDOCK_URL: conn.apiUrl, PADDOCK_API_KEY: conn.apiKey };
  work = await mkdtemp(join(tmpdir(), 'paddock-cli-'));
});

after(async () => {
  for (const id of ids) await runCli(['sandbox', 'kill', id], { env });
  await server.close();
  await rm(work, { recursive: true, force: true });
});

describe('the paddock CLI', () => {
  it('creates, lists, gets, execs, copies, extends and kills', async () => {
    const created = await runCli(
      ['sandbox', 'create', '--json', '-e', 'FOO=bar', '-m', 'owner=cli-test', '--memory', '256'],
      { env },
    );
    assert.equal(created.code, 0, created.stderr);
    const info = JSON.parse(created.stdout) as SandboxInfo;
    ids.push(info.id);
    assert.equal(info.memoryMiB, 256);

    const ls = await runCli(['sandbox', 'ls', '--json', '-m', 'owner=cli-test'], { env });
    assert.deepEqual(
      (JSON.parse(ls.stdout) as SandboxInfo[]).map((s) => s.id),
      [info.id],
    );
    const table = await runCli(['sandbox', 'ls'], { env });
    assert.match(table.stdout, new RegExp(`${info.id}\\s+running`));
    const got = await runCli(['sandbox', 'get', info.id, '--json'], { env });
    assert.equal((JSON.parse(got.stdout) as SandboxInfo).state, 'running');

    const exec = await runCli(['exec', info.id, '--', 'python3', '-c', 'import os; print(6*7, os.environ["FOO"])'], {
      env,
    });
    assert.equal(exec.code, 0, exec.stderr);
    assert.equal(exec.stdout, '42 bar\n');
    const failing = await runCli(['exec', info.id, '--', 'sh', '-c', 'echo to-stderr >&2; exit 7'], { env });
    assert.equal(failing.code, 7, 'exec exits with the command exit code');
    assert.equal(failing.stderr, 'to-stderr\n');
    const piped = await runCli(['exec', '-i', info.id, '--', 'wc', '-c'], { env, stdin: 'abcde' });
    assert.equal(piped.stdout.trim(), '5');

    const local = join(work, 'up.txt');
    await writeFile(local, 'uploaded by cp');
    assert.equal((await runCli(['cp', local, `${info.id}:/home/user/up.txt`], { env })).code, 0);
    const cat = await runCli(['exec', info.id, '--', 'cat', '/home/user/up.txt'], { env });
    assert.equal(cat.stdout, 'uploaded by cp');
    const down = join(work, 'down.txt');
    const cpDown = await runCli(['cp', `${info.id}:/home/user/up.txt`, down], { env });
    assert.equal(cpDown.code, 0, cpDown.stderr);
    assert.equal(await readFile(down, 'utf8'), 'uploaded by cp');

    const extended = await runCli(['sandbox', 'set-timeout', info.id, '20m', '--json'], { env });
    assert.ok(Date.parse((JSON.parse(extended.stdout) as SandboxInfo).expiresAt) > Date.now() + 19 * 60_000);

    assert.equal((await runCli(['sandbox', 'kill', info.id], { env })).code, 0);
    const afterKill = await runCli(['sandbox', 'get', info.id, '--json'], { env });
    assert.equal((JSON.parse(afterKill.stdout) as SandboxInfo).state, 'killed');
  });

  it('reports errors with their code and a non-zero exit', async () => {
    const missing = await runCli(['sandbox', 'get', 'zzzzzzzzzzzzzzzzzzzz'], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /NOT_FOUND/);
    const badKey = await runCli(['--api-key', 'wrong', 'sandbox', 'ls'], { env });
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /UNAUTHENTICATED/);
    const badMem = await runCli(['sandbox', 'create', '--memory', '1'], { env });
    assert.equal(badMem.code, 1);
    assert.match(badMem.stderr, /memoryMiB/);
    const noUrl = await runCli(['sandbox', 'ls'], { env: { ...env, PADDOCK_URL: 'http://127.0.0.1:1' } });
    assert.equal(noUrl.code, 1);
    assert.match(noUrl.stderr, /cannot reach/);
  });

  it('lists, builds and removes templates', async () => {
    const ls = await runCli(['template', 'ls', '--json'], { env });
    assert.ok((JSON.parse(ls.stdout) as { name: string }[]).some((t) => t.name === 'base'));
    const spec = join(work, 'spec.yaml');
    await writeFile(join(work, 'hello.txt'), 'from a context file\n');
    await writeFile(
      spec,
      [
        'packages: [jq]',
        'files:',
        '  - { dest: /etc/hello.txt, src: hello.txt }',
        'env: { GREETING: hi }',
        'run: ["echo built > /etc/built-marker"]',
        '',
      ].join('\n'),
    );
    const built = await runCli(['template', 'build', spec, '--name', 'cli-test-tpl'], { env, timeoutMs: 300_000 });
    assert.equal(built.code, 0, built.stderr);
    assert.match(built.stderr, /packages|cached/i, 'progress is shown');
    const created = await runCli(['sandbox', 'create', '-t', 'cli-test-tpl'], { env });
    const id = created.stdout.trim();
    ids.push(id);
    const out = await runCli(
      ['exec', id, '--', 'sh', '-c', 'cat /etc/hello.txt /etc/built-marker; echo $GREETING; jq -n 1'],
      { env },
    );
    assert.equal(out.stdout, 'from a context file\nbuilt\nhi\n1\n');
    const inUse = await runCli(['template', 'rm', 'cli-test-tpl'], { env });
    assert.equal(inUse.code, 1);
    assert.match(inUse.stderr, /CONFLICT/);
    await runCli(['sandbox', 'kill', id], { env });
    assert.equal((await runCli(['template', 'rm', 'cli-test-tpl'], { env })).code, 0);
    const badPkg = join(work, 'bad.yaml');
    await writeFile(badPkg, 'packages: [no-such-package-xyz]\n');
    const failed = await runCli(['template', 'build', badPkg, '--name', 'bad-tpl'], { env, timeoutMs: 300_000 });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /no-such-package-xyz/);
  });
});

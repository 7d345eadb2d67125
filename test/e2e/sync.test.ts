import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import { CLI, runCli } from '../support/cli.js';
import { startTestServer, type TestConnection, waitFor } from '../support/server.js';

let server: RunningServer;
let conn: TestConnection;
let env: Record<string, string>;
let work: string;
let sbx: Sandbox;
let n = 0;

before(async () => {
  ({ server, conn } = await startTestServer());
  env = { PADDOCK_URL: conn.apiUrl, PADDOCK_API_KEY: conn.apiKey };
  work = await mkdtemp(join(tmpdir(), 'paddock-sync-'));
  sbx = await Sandbox.create({ ...conn, metadata: { suite: 'sync' } });
});

after(async () => {
  await sbx?.kill();
  await server.close();
  await rm(work, { recursive: true, force: true });
});

/** A fresh local dir and remote path for one test. */
async function pair(): Promise<{ local: string; remote: string; spec: string }> {
  const i = n++;
  const local = join(work, `l${i}`);
  await mkdir(local);
  const remote = `/home/user/s${i}`;
  return { local, remote, spec: `${sbx.id}:${remote}` };
}

async function remoteTree(dir: string): Promise<string[]> {
  const out = (await sbx.commands.run(`cd ${dir} && find . -mindepth 1 | sort`)).stdout.trim();
  return out === '' ? [] : out.split('\n').map((p) => p.slice(2));
}

async function sync(...args: string[]) {
  const r = await runCli(['sync', ...args], { env });
  assert.equal(r.code, 0, r.stderr);
  return r;
}

describe('paddock sync', () => {
  it('syncs both ways, creating the remote dir, then propagates deletes and renames each way', async () => {
    const { local, remote, spec } = await pair();
    await mkdir(join(local, 'sub'));
    await writeFile(join(local, 'a.txt'), 'local a');
    await writeFile(join(local, 'sub', 'b.txt'), 'local b');
    await writeFile(join(local, 'big.bin'), Buffer.alloc(3 * 1_048_576, 7));
    const first = await sync(local, spec);
    assert.match(first.stderr, /4 pushed/); // sub/ and three files
    assert.equal(await sbx.files.read(`${remote}/sub/b.txt`), 'local b');

    await sbx.files.write(`${remote}/r.txt`, 'remote r');
    await sbx.files.write(`${remote}/rdir/deep/r2.txt`, 'remote r2');
    await sync(local, spec);
    assert.equal(await readFile(join(local, 'rdir', 'deep', 'r2.txt'), 'utf8'), 'remote r2');
    // A pulled file carries the sandbox's mtime.
    const pulled = await stat(join(local, 'r.txt'));
    assert.equal(Math.round(pulled.mtimeMs), Date.parse((await sbx.files.stat(`${remote}/r.txt`)).modifiedAt));

    // Deletes and renames on each side.
    await rm(join(local, 'a.txt'));
    await rename(join(local, 'big.bin'), join(local, 'sub', 'moved.bin'));
    await sbx.files.remove(`${remote}/r.txt`);
    await sbx.files.rename(`${remote}/rdir`, `${remote}/rdir2`);
    const third = await sync(local, spec);
    assert.match(third.stdout, /rename in sandbox big\.bin -> sub\/moved\.bin/);
    assert.match(third.stdout, /rename here rdir -> rdir2/);
    assert.match(third.stdout, /delete in sandbox a\.txt/);
    assert.match(third.stdout, /delete here r\.txt/);
    const expected = ['rdir2', 'rdir2/deep', 'rdir2/deep/r2.txt', 'sub', 'sub/b.txt', 'sub/moved.bin'];
    assert.deepEqual(await remoteTree(remote), expected);
    assert.equal(existsSync(join(local, 'a.txt')), false);
    assert.equal(existsSync(join(local, 'rdir2', 'deep', 'r2.txt')), true);

    // Nothing left to do: a second run copies nothing.
    const idle = await sync(local, spec);
    assert.equal(idle.stdout, '');
    assert.match(idle.stderr, /0 pushed, 0 pulled, 0 deleted, 0 renamed, 0 conflicts/);
  });

  it('resolves a conflict by last writer (mtime) and logs it to stderr', async () => {
    const { local, remote, spec } = await pair();
    await writeFile(join(local, 'x.txt'), 'base x');
    await writeFile(join(local, 'y.txt'), 'base y');
    await sync(local, spec);
    // Both sides change both files; the local x is stamped in the future (newer), y in the past (older).
    await sbx.files.write(`${remote}/x.txt`, 'sandbox x');
    await sbx.files.write(`${remote}/y.txt`, 'sandbox y');
    await writeFile(join(local, 'x.txt'), 'local x');
    await writeFile(join(local, 'y.txt'), 'local y');
    const future = new Date(Date.now() + 60_000);
    const past = new Date(Date.now() - 60_000);
    await utimes(join(local, 'x.txt'), future, future);
    await utimes(join(local, 'y.txt'), past, past);
    const r = await sync(local, spec);
    assert.match(r.stderr, /conflict: x\.txt: changed on both sides; kept the local copy/);
    assert.match(r.stderr, /conflict: y\.txt: changed on both sides; kept the sandbox's copy/);
    assert.equal(await sbx.files.read(`${remote}/x.txt`), 'local x');
    assert.equal(await readFile(join(local, 'y.txt'), 'utf8'), 'sandbox y');
  });

  it('ignores .git and node_modules by default, and --ignore patterns; keeps its state locally', async () => {
    const { local, remote, spec } = await pair();
    await mkdir(join(local, '.git'));
    await writeFile(join(local, '.git', 'HEAD'), 'ref');
    await mkdir(join(local, 'pkg', 'node_modules', 'dep'), { recursive: true });
    await writeFile(join(local, 'pkg', 'node_modules', 'dep', 'i.js'), '');
    await writeFile(join(local, 'pkg', 'index.js'), '');
    await writeFile(join(local, 'debug.log'), '');
    await sbx.files.write(`${remote}/node_modules/remote-only.js`, '');
    await sync(local, spec, '--ignore', '*.log');
    assert.deepEqual(await remoteTree(remote), ['node_modules', 'node_modules/remote-only.js', 'pkg', 'pkg/index.js']);
    assert.equal(existsSync(join(local, 'node_modules')), false);
    const state = JSON.parse(await readFile(join(local, '.paddock-sync', 'state.json'), 'utf8')) as {
      version: number;
      remote: { sandboxId: string; path: string };
      entries: Record<string, unknown>;
    };
    assert.equal(state.version, 1);
    assert.deepEqual(state.remote, { sandboxId: sbx.id, path: remote });
    assert.deepEqual(Object.keys(state.entries).sort(), ['pkg', 'pkg/index.js']);
  });

  it('refuses a remote path that is a file, naming it', async () => {
    const { local } = await pair();
    await sbx.files.write('/home/user/just-a-file', 'x');
    const r = await runCli(['sync', local, `${sbx.id}:/home/user/just-a-file`], { env });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /just-a-file is a file, not a directory/);
    const bad = await runCli(['sync', local, '/not/a/sandbox/path'], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /ID:\/absolute\/path/);
  });

  it('--watch picks up a local change and a sandbox change within a second each', async (t) => {
    const { local, remote, spec } = await pair();
    await writeFile(join(local, 'start.txt'), 'start');
    const child: ChildProcess = spawn(process.execPath, [CLI, 'sync', '--watch', local, spec], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.stdout?.resume();
    t.after(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    });
    await waitFor(
      'the watch to start',
      async () => (stderr.includes('watching both sides') ? true : undefined),
      30_000,
    );
    assert.equal(await sbx.files.read(`${remote}/start.txt`), 'start');

    const localAt = performance.now();
    await writeFile(join(local, 'from-local.txt'), 'L');
    await waitFor('the local change in the sandbox', async () =>
      (await sbx.files.exists(`${remote}/from-local.txt`)) ? true : undefined,
    );
    const localMs = performance.now() - localAt;

    const remoteAt = performance.now();
    await sbx.commands.run(`echo R > ${remote}/from-sandbox.txt`);
    await waitFor('the sandbox change here', async () =>
      existsSync(join(local, 'from-sandbox.txt')) ? true : undefined,
    );
    const remoteMs = performance.now() - remoteAt;
    t.diagnostic(`local→sandbox ${Math.round(localMs)} ms, sandbox→local ${Math.round(remoteMs)} ms`);
    assert.ok(localMs < 1_000, `local change took ${localMs} ms`);
    assert.ok(remoteMs < 1_000, `sandbox change took ${remoteMs} ms`);

    // Deletes follow too, and nothing echoes back and forth.
    await rm(join(local, 'start.txt'));
    await waitFor('the delete in the sandbox', async () =>
      (await sbx.files.exists(`${remote}/start.txt`)) ? undefined : true,
    );
    assert.equal(await readFile(join(local, 'from-sandbox.txt'), 'utf8'), 'R\n');
    const before = stderr.match(/synced:/g)?.length ?? 0;
    await sbx.commands.run(`touch ${remote}/quiet-check && rm ${remote}/quiet-check`);
    await waitFor('the quiet pair to settle', async () => (existsSync(join(local, 'quiet-check')) ? undefined : true));
    const passes = (stderr.match(/synced:/g)?.length ?? 0) - before;
    assert.ok(passes <= 2, `expected no echo loop, saw ${passes} passes`);

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, stderr);
  });
});

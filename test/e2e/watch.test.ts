import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  InvalidArgumentError,
  NotADirectoryError,
  NotFoundError,
  Sandbox,
  type WatchEvent,
  type WatchOptions,
} from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import { startTestServer, type TestConnection, waitFor } from '../support/server.js';
import { WatchReplay } from '../support/watch-replay.js';

let server: RunningServer;
let conn: TestConnection;
const made: Sandbox[] = [];

async function sandbox(opts: Parameters<typeof Sandbox.create>[0] = {}): Promise<Sandbox> {
  const sbx = await Sandbox.create({ ...conn, metadata: { suite: 'watch' }, ...opts });
  made.push(sbx);
  return sbx;
}

/** Every path under `dir` in the sandbox, sorted. */
async function onDisk(sbx: Sandbox, dir: string): Promise<string[]> {
  const out = (await sbx.commands.run(['find', dir, '-mindepth', '1'])).stdout.trim();
  return out === '' ? [] : out.split('\n').sort();
}

async function watched(sbx: Sandbox, dir: string, opts: WatchOptions = {}) {
  const replay = new WatchReplay();
  const errors: Error[] = [];
  const handle = await sbx.files.watch(dir, (ev: WatchEvent) => replay.apply(ev), {
    onError: (err) => errors.push(err),
    ...opts,
  });
  return { replay, errors, handle };
}

before(async () => {
  ({ server, conn } = await startTestServer());
});

after(async () => {
  await Promise.allSettled(made.map((s) => s.kill()));
  await server.close();
});

for (const isolation of ['container', 'gvisor'] as const) {
  describe(`file watch through the SDK (${isolation})`, () => {
    let sbx: Sandbox;
    before(async () => {
      sbx = await sandbox({ isolation });
    });

    it('reports a burst of creations made by one command: the final set equals the disk', async (t) => {
      // 10 000 files under crun; gVisor's slower syscalls make 2 000 the affordable burst there.
      const perDir = isolation === 'container' ? 1_000 : 200;
      await sbx.files.mkdir('/home/user/burst');
      const w = await watched(sbx, '/home/user/burst');
      const startedAt = performance.now();
      await sbx.commands.run(
        `cd /home/user/burst && for d in $(seq 0 9); do mkdir d$d && (cd d$d && touch $(seq -f 'f%g' 0 ${perDir - 1})); done`,
      );
      const expected = await onDisk(sbx, '/home/user/burst');
      assert.equal(expected.length, 10 + 10 * perDir);
      await waitFor(
        'the replayed events to match the disk',
        async () => (w.replay.equals(expected) ? true : undefined),
        60_000,
      );
      t.diagnostic(
        `${expected.length} paths reported within ${Math.round(performance.now() - startedAt)} ms of the command's start (${w.replay.events.length} events)`,
      );
      await sbx.commands.run(
        'rm -rf /home/user/burst/d0 /home/user/burst/d1 && mv /home/user/burst/d2 /home/user/burst/two',
      );
      const left = await onDisk(sbx, '/home/user/burst');
      await waitFor('the replay after removals', async () => (w.replay.equals(left) ? true : undefined), 60_000);
      await w.handle.stop();
      assert.deepEqual(w.errors, []);
    });

    it('reports create, write, rename and remove, in order', async () => {
      await sbx.files.mkdir('/home/user/app');
      const w = await watched(sbx, '/home/user/app', { recursive: true });
      await sbx.files.write('/home/user/app/a.txt', 'one');
      await waitFor('create', async () => (w.replay.paths.has('/home/user/app/a.txt') ? true : undefined));
      await sbx.commands.run('echo more >> /home/user/app/a.txt');
      await waitFor('write', async () =>
        w.replay.events.some((e) => e.type === 'write' && e.path === '/home/user/app/a.txt') ? true : undefined,
      );
      await sbx.files.rename('/home/user/app/a.txt', '/home/user/app/b.txt');
      await waitFor('rename', async () =>
        w.replay.events.some((e) => e.type === 'rename' && e.oldPath === '/home/user/app/a.txt') ? true : undefined,
      );
      await sbx.files.remove('/home/user/app/b.txt');
      await waitFor('remove', async () => (w.replay.paths.size === 0 ? true : undefined));
      assert.deepEqual(
        w.replay.events.map((e) => e.type),
        ['create', 'write', 'rename', 'remove'],
      );
      assert.deepEqual(w.replay.events[2], {
        type: 'rename',
        path: '/home/user/app/b.txt',
        oldPath: '/home/user/app/a.txt',
        fileType: 'file',
      });
      await w.handle.stop();
    });

    it('filters by path prefix and glob', async () => {
      await sbx.commands.run('mkdir -p /home/user/f/src /home/user/f/docs');
      const prefix = await watched(sbx, '/home/user/f', { filter: 'src' });
      const glob = await watched(sbx, '/home/user/f', { filter: '**/*.md' });
      await sbx.commands.run(
        'touch /home/user/f/src/a.ts /home/user/f/src/b.md /home/user/f/docs/c.md /home/user/f/top.txt',
      );
      await waitFor('both filters', async () =>
        prefix.replay.paths.size === 2 && glob.replay.paths.size === 2 ? true : undefined,
      );
      assert.deepEqual(prefix.replay.sorted(), ['/home/user/f/src/a.ts', '/home/user/f/src/b.md']);
      assert.deepEqual(glob.replay.sorted(), ['/home/user/f/docs/c.md', '/home/user/f/src/b.md']);
      await Promise.all([prefix.handle.stop(), glob.handle.stop()]);
    });

    it('rejects a missing path and a file; ends with NotFoundError when the directory goes', async () => {
      await assert.rejects(
        sbx.files.watch('/home/user/nope', () => {}),
        NotFoundError,
      );
      await sbx.files.write('/home/user/plain.txt', 'x');
      await assert.rejects(
        sbx.files.watch('/home/user/plain.txt', () => {}),
        NotADirectoryError,
      );
      await sbx.files.mkdir('/home/user/doomed');
      const w = await watched(sbx, '/home/user/doomed');
      await sbx.files.remove('/home/user/doomed');
      await w.handle.done;
      assert.ok(w.errors[0] instanceof NotFoundError, `got ${w.errors[0]}`);
    });
  });
}

describe('file watch bad input over HTTP', () => {
  it('answers 400 naming the field, and 404 for an unknown sandbox', async () => {
    const sbx = made[0] ?? (await sandbox());
    const get = (query: string, id = sbx.id) =>
      fetch(`${conn.apiUrl}/v1/sandboxes/${id}/files/watch?${query}`, {
        headers: { authorization: `Bearer ${conn.apiKey}` },
      });
    for (const [query, field] of [
      ['path=/home/user&recursive=maybe', 'recursive'],
      ['path=relative', 'path'],
      ['recursive=true', 'path'],
      ['path=/home/user&depth=2', 'depth'],
      ['path=/home/user&filter=/etc', 'filter'],
    ] as const) {
      const res = await get(query);
      assert.equal(res.status, 400, query);
      const body = (await res.json()) as { code: string; message: string };
      assert.equal(body.code, 'INVALID_ARGUMENT');
      assert.match(body.message, new RegExp(field), query);
    }
    const unknown = await get('path=/home/user', 'aaaaaaaaaaaaaaaaaaaa');
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
    await assert.rejects(
      sbx.files.watch('/home/user', () => {}, { filter: '/etc' }),
      InvalidArgumentError,
    );
  });
});

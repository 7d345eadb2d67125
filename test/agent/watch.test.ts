import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { WatchLine, WatchQuery } from '@paddock/protocol';
import { openWatch } from '../../packages/server/src/agent-client/index.js';
import { WatchReplay } from '../support/watch-replay.js';
import { type AgentFixture, paddockError, startAgent, waitFor } from './fixture.js';

/** A watch opened on the agent, its lines replayed as they come. */
interface OpenWatch {
  replay: WatchReplay;
  lines: WatchLine[];
  ended: Promise<void>;
  stop(): Promise<void>;
}

async function watchOn(agent: AgentFixture, query: WatchQuery): Promise<OpenWatch> {
  const controller = new AbortController();
  const stream = await openWatch(agent.client, query, controller.signal);
  const replay = new WatchReplay();
  const lines: WatchLine[] = [];
  const ended = (async () => {
    try {
      for await (const line of stream) {
        lines.push(line);
        if (line.type === 'create' || line.type === 'write' || line.type === 'remove' || line.type === 'rename') {
          replay.apply(line);
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  })();
  await waitFor('the ready line', () => lines.some((l) => l.type === 'ready'));
  return {
    replay,
    lines,
    ended,
    async stop() {
      controller.abort(new Error('test done'));
      await ended;
    },
  };
}

/** Every path under `dir` (files and directories), as a sorted list. */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    out.push(path);
    if (entry.isDirectory()) out.push(...walk(path));
  }
  return out.sort();
}

/** inotify watches the agent process holds, from /proc/PID/fdinfo. */
function inotifyWatches(pid: number): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    try {
      count += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // The fd closed while we looked.
    }
  }
  return count;
}

describe('agent watch', () => {
  let agent: AgentFixture;
  let n = 0;
  const fresh = () => {
    const dir = join(agent.dir, `w${n++}`);
    mkdirSync(dir);
    return dir;
  };
  before(async () => {
    agent = await startAgent();
  });
  after(async () => {
    await agent?.stop();
  });

  it('reports create, write, rename and remove of files and directories, recursively', async () => {
    const dir = fresh();
    const w = await watchOn(agent, { path: dir });
    const a = join(dir, 'a.txt');
    writeFileSync(a, 'one');
    await waitFor('create a.txt', () => w.replay.paths.get(a) === 'file');
    appendFileSync(a, 'two');
    await waitFor('write a.txt', () => w.replay.events.some((e) => e.type === 'write' && e.path === a));

    const b = join(dir, 'b.txt');
    renameSync(a, b);
    await waitFor('rename a→b', () => w.replay.events.some((e) => e.type === 'rename' && e.path === b));
    assert.deepEqual(w.replay.events.at(-1), { type: 'rename', path: b, oldPath: a, fileType: 'file' });

    const sub = join(dir, 'sub', 'deep');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'x'), 'x');
    await waitFor('nested create', () => w.replay.paths.has(join(sub, 'x')));
    assert.equal(w.replay.paths.get(join(dir, 'sub')), 'dir');

    // A directory rename is one event; what is created afterwards shows at the new path.
    const moved = join(dir, 'moved');
    renameSync(join(dir, 'sub'), moved);
    await waitFor('dir rename', () => w.replay.paths.has(moved));
    assert.ok(
      w.replay.events.some((e) => e.type === 'rename' && e.oldPath === join(dir, 'sub') && e.fileType === 'dir'),
    );
    writeFileSync(join(moved, 'deep', 'y'), 'y');
    await waitFor('create in the renamed dir', () => w.replay.paths.has(join(moved, 'deep', 'y')));

    rmSync(moved, { recursive: true });
    rmSync(b);
    await waitFor('everything removed', () => w.replay.paths.size === 0);
    const removes = w.replay.events.filter((e) => e.type === 'remove').map((e) => e.path);
    assert.ok(
      removes.indexOf(join(moved, 'deep', 'x')) < removes.indexOf(moved),
      'contents are removed before their directory',
    );
    await w.stop();
  });

  it('reports an atomic replace (temp file + rename) so that the final state is right', async () => {
    const dir = fresh();
    const target = join(dir, 'config.json');
    writeFileSync(target, '{}');
    const w = await watchOn(agent, { path: dir });
    const temp = join(dir, '.config.json.tmp');
    writeFileSync(temp, '{"a":1}');
    renameSync(temp, target);
    await waitFor('the replace', () => w.replay.paths.get(target) === 'file' && !w.replay.paths.has(temp));
    assert.deepEqual(w.replay.sorted(), [target]);
    await w.stop();
  });

  it('loses nothing in a burst of 10 000 creations, then of removals', async (t) => {
    const dir = fresh();
    const w = await watchOn(agent, { path: dir });
    const startedAt = performance.now();
    for (let d = 0; d < 10; d++) {
      mkdirSync(join(dir, `d${d}`));
      for (let f = 0; f < 1_000; f++) writeFileSync(join(dir, `d${d}`, `f${f}`), '');
    }
    const onDisk = walk(dir);
    assert.equal(onDisk.length, 10_010);
    await waitFor('the replay to match the disk', () => w.replay.equals(onDisk), 30_000);
    t.diagnostic(
      `10 010 paths reported in ${Math.round(performance.now() - startedAt)} ms, ${w.replay.events.length} events`,
    );

    for (let d = 0; d < 5; d++) rmSync(join(dir, `d${d}`), { recursive: true });
    renameSync(join(dir, 'd9'), join(dir, 'nine'));
    const left = walk(dir);
    await waitFor('the replay to match after removals', () => w.replay.equals(left), 30_000);
    await w.stop();
  });

  it('watches one level only when recursive is false', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'sub'));
    const w = await watchOn(agent, { path: dir, recursive: false });
    writeFileSync(join(dir, 'sub', 'hidden'), '');
    writeFileSync(join(dir, 'top'), '');
    await waitFor('top-level create', () => w.replay.paths.has(join(dir, 'top')));
    assert.equal(w.replay.paths.has(join(dir, 'sub', 'hidden')), false);
    await w.stop();
  });

  it('filters by path prefix and by glob', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'docs'));
    const byPrefix = await watchOn(agent, { path: dir, filter: 'src' });
    const byGlob = await watchOn(agent, { path: dir, filter: '*.ts' });
    const byAbsolute = await watchOn(agent, { path: dir, filter: join(dir, 'docs') });
    writeFileSync(join(dir, 'docs', 'a.md'), '');
    writeFileSync(join(dir, 'docs', 'b.ts'), '');
    writeFileSync(join(dir, 'src', 'c.ts'), '');
    writeFileSync(join(dir, 'src', 'd.md'), '');
    await waitFor('all three watches', () => [byPrefix, byGlob, byAbsolute].every((w) => w.replay.paths.size === 2));
    assert.deepEqual(byPrefix.replay.sorted(), [join(dir, 'src', 'c.ts'), join(dir, 'src', 'd.md')]);
    assert.deepEqual(byGlob.replay.sorted(), [join(dir, 'docs', 'b.ts'), join(dir, 'src', 'c.ts')]);
    assert.deepEqual(byAbsolute.replay.sorted(), [join(dir, 'docs', 'a.md'), join(dir, 'docs', 'b.ts')]);
    // Moving out of the filter is a remove for that reader.
    renameSync(join(dir, 'src', 'c.ts'), join(dir, 'c.txt'));
    await waitFor('moved out of both', () => byPrefix.replay.paths.size === 1 && byGlob.replay.paths.size === 1);
    await Promise.all([byPrefix.stop(), byGlob.stop(), byAbsolute.stop()]);
  });

  it('ends with NOT_FOUND after reporting the contents when the watched directory is removed', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'f'), '');
    const w = await watchOn(agent, { path: dir });
    rmSync(dir, { recursive: true });
    await w.ended;
    const last = w.lines.at(-1);
    assert.equal(last?.type, 'error');
    assert.equal(last?.type === 'error' ? last.error.code : '', 'NOT_FOUND');
    assert.ok(w.lines.some((l) => l.type === 'remove' && l.path === join(dir, 'f')));
  });

  it('rejects a missing path, a file, and bad arguments before streaming', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'file'), '');
    const signal = new AbortController().signal;
    assert.equal(
      (await paddockError(() => openWatch(agent.client, { path: join(dir, 'nope') }, signal))).code,
      'NOT_FOUND',
    );
    assert.equal(
      (await paddockError(() => openWatch(agent.client, { path: join(dir, 'file') }, signal))).code,
      'NOT_A_DIRECTORY',
    );
    const raw = async (query: Record<string, string>) =>
      paddockError(async () => (await agent.client.raw({ method: 'GET', path: '/watch', query })).resume());
    const badRecursive = await raw({ path: dir, recursive: 'maybe' });
    assert.equal(badRecursive.code, 'INVALID_ARGUMENT');
    assert.match(badRecursive.message, /`recursive`/);
    assert.match((await raw({ path: 'relative/dir' })).message, /`path`/);
    assert.match((await raw({ path: dir, filter: '/elsewhere' })).message, /`filter`/);
    assert.match((await raw({ path: dir, depth: '2' })).message, /depth/);
  });

  it('drops its inotify watches when the client goes away', async () => {
    const dir = fresh();
    for (let i = 0; i < 20; i++) mkdirSync(join(dir, `d${i}`));
    const before = inotifyWatches(agent.pid);
    const w = await watchOn(agent, { path: dir });
    assert.equal(inotifyWatches(agent.pid) - before, 21);
    await w.stop();
    await waitFor('the watches to be dropped', () => inotifyWatches(agent.pid) === before);
  });
});

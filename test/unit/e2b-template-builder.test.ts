import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { PaddockError, type TemplateInfo } from '@paddock/protocol';
import tar from 'tar-stream';
import { silentLogger } from '../../packages/server/src/core/logger.js';
import { E2bBuilds } from '../../packages/server/src/e2b/template-builder/build-jobs.js';
import { BuildLog } from '../../packages/server/src/e2b/template-builder/build-log.js';
import type { PlanExecutor } from '../../packages/server/src/e2b/template-builder/plan-executor.js';
import { E2bBuildStart } from '../../packages/server/src/e2b/template-builder/requests.js';
import { parseNameTag, storeNameOfRef } from '../../packages/server/src/e2b/template-builder/template-tags.js';
import { type TranslateOptions, translateBuild } from '../../packages/server/src/e2b/template-builder/translate.js';
import { contextPath, readUploadArchive } from '../../packages/server/src/e2b/template-builder/upload-archive.js';
import { TemplateUploads } from '../../packages/server/src/e2b/template-builder/uploads.js';
import type { BuildContext } from '../../packages/server/src/templates/plan.js';

const HASH = 'a'.repeat(64);
const LIMITS = { archiveBytes: 1 << 20, unpackedBytes: 1 << 20 };

function file(text: string, mode = 0o644) {
  return { data: Buffer.from(text), mode };
}

function options(uploads: Record<string, BuildContext> = {}): TranslateOptions {
  return {
    uploadOf: (h) => uploads[h],
    templateExists: (name) => name === 'base' || name === 'mine:v1',
    userOf: (name) => (name === 'base' ? 'user' : undefined),
  };
}

function translate(body: unknown, uploads: Record<string, BuildContext> = {}) {
  return translateBuild(E2bBuildStart.parse(body), options(uploads));
}

function refusedField(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PaddockError, String(err));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    return String(err.details?.field);
  }
  assert.fail('expected a refusal');
}

async function tarOf(entries: { name: string; body?: string; type?: 'file' | 'symlink' | 'directory' }[]) {
  const pack = tar.pack();
  for (const e of entries) {
    if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: '/etc/passwd' });
    else if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory' });
    else pack.entry({ name: e.name, mode: 0o755 }, e.body ?? '');
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('E2B build → BuildPlan', () => {
  it('maps every step kind, the base template, the start and ready commands', () => {
    const upload = new Map([['hello.txt', file('hi')]]);
    const { plan, context, e2bStepOf } = translate(
      {
        fromTemplate: 'base',
        startCmd: 'python3 -m http.server 3000',
        readyCmd: '[ -n "$(ss -Htuln sport = :3000)" ]',
        steps: [
          { type: 'RUN', args: ['echo one'] },
          { type: 'COPY', args: ['./hello.txt', '/app/', 'user', '0640'], filesHash: HASH },
          { type: 'ENV', args: ['A', '1', 'B', 'two words'] },
          { type: 'WORKDIR', args: ['/app'] },
          { type: 'RUN', args: ['apt-get update', 'root'] },
          { type: 'USER', args: ['root'] },
        ],
      },
      { [HASH]: upload },
    );
    assert.deepEqual(plan.stages[0]?.base, { kind: 'template', name: 'base' });
    assert.deepEqual(plan.stages[0]?.steps, [
      { kind: 'run', command: 'echo one' },
      { kind: 'copy', sources: [`e2b-files/${HASH}/hello.txt`], dest: '/app/', chown: 'user', mode: 0o640 },
      { kind: 'env', vars: { A: '1', B: 'two words' } },
      { kind: 'workdir', path: '/app' },
      // A RUN's user is for that RUN only: back to the base template's user after it.
      { kind: 'user', user: 'root' },
      { kind: 'run', command: 'apt-get update' },
      { kind: 'user', user: 'user' },
      { kind: 'user', user: 'root' },
    ]);
    assert.deepEqual(e2bStepOf, [1, 2, 3, 4, 5, 5, 5, 6]);
    assert.deepEqual([...context.keys()], [`e2b-files/${HASH}/hello.txt`]);
    assert.deepEqual(plan.start, {
      command: 'python3 -m http.server 3000',
      ready: { command: '[ -n "$(ss -Htuln sport = :3000)" ]' },
    });
  });

  it("fromImage passes the ref (and registry credentials) through; E2B's own base image is our base", () => {
    assert.deepEqual(translate({ fromImage: 'python:3.12-slim' }).plan.stages[0]?.base, {
      kind: 'image',
      ref: 'python:3.12-slim',
    });
    assert.deepEqual(
      translate({ fromImage: 'reg.local/x:1', fromImageRegistry: { type: 'registry', username: 'u', password: 'p' } })
        .plan.stages[0]?.base,
      { kind: 'image', ref: 'reg.local/x:1', credentials: { username: 'u', password: 'p' } },
    );
    assert.deepEqual(translate({ fromImage: 'e2bdev/base' }).plan.stages[0]?.base, { kind: 'template', name: 'base' });
    assert.deepEqual(translate({ fromTemplate: 'mine:v1' }).plan.stages[0]?.base, {
      kind: 'template',
      name: 'mine:v1',
    });
  });

  it('refuses bad input with the E2B field named', () => {
    const cases: [unknown, string][] = [
      [{ fromTemplate: 'base', steps: [{ type: 'HEALTHCHECK', args: [] }] }, 'steps[0].type'],
      [{ fromTemplate: 'nope' }, 'fromTemplate'],
      [{ fromTemplate: 'Bad Name' }, 'fromTemplate'],
      [{}, 'fromImage'],
      [{ fromImage: 'x', fromTemplate: 'base' }, 'fromTemplate'],
      [{ fromImage: 'x', fromImageRegistry: { type: 'aws' } }, 'fromImageRegistry.type'],
      [{ fromImage: 'x', fromImageRegistry: { type: 'registry', username: 'u' } }, 'fromImageRegistry'],
      [{ fromTemplate: 'base', readyCmd: 'true' }, 'readyCmd'],
      [{ fromTemplate: 'base', steps: [{ type: 'RUN', args: [] }] }, 'steps[0].args[0]'],
      [{ fromTemplate: 'base', steps: [{ type: 'ENV', args: ['A'] }] }, 'steps[0].args'],
      [{ fromTemplate: 'base', steps: [{ type: 'ENV', args: ['1A', 'x'] }] }, 'steps[0].args'],
      [{ fromTemplate: 'base', steps: [{ type: 'COPY', args: ['a', '/a'] }] }, 'steps[0].filesHash'],
      [
        { fromTemplate: 'base', steps: [{ type: 'COPY', args: ['a', '/a'], filesHash: 'b'.repeat(64) }] },
        'steps[0].filesHash',
      ],
      [{ fromTemplate: 'base', steps: [{ type: 'COPY', args: ['../a', '/a'], filesHash: HASH }] }, 'steps[0].args[0]'],
      [
        { fromTemplate: 'base', steps: [{ type: 'COPY', args: ['a', '/a', '', '999'], filesHash: HASH }] },
        'steps[0].args[3]',
      ],
    ];
    for (const [body, field] of cases) {
      assert.equal(
        refusedField(() => translate(body, { [HASH]: new Map() })),
        field,
        JSON.stringify(body),
      );
    }
  });

  it('names and tags: name:tag, the default tag, E2B ids of the built-in templates', () => {
    assert.deepEqual(parseNameTag('my-env:v1', 'name'), { name: 'my-env', tag: 'v1' });
    assert.equal(storeNameOfRef('my-env:default', 'x'), 'my-env');
    assert.equal(storeNameOfRef('code-interpreter-v1', 'x'), 'code-interpreter');
    assert.equal(
      refusedField(() => parseNameTag('My Env', 'name')),
      'name',
    );
    assert.equal(
      refusedField(() => parseNameTag('ok:bad tag', 'name')),
      'name',
    );
  });
});

describe('E2B uploads', () => {
  it('reads gzip and plain tars into context files; directories are implied', async () => {
    const raw = await tarOf([
      { name: 'dir/', type: 'directory' },
      { name: 'dir/a.sh', body: 'echo a' },
      { name: './b', body: 'b' },
    ]);
    for (const archive of [raw, gzipSync(raw)]) {
      const files = await readUploadArchive(archive, LIMITS);
      assert.deepEqual([...files.keys()], ['dir/a.sh', 'b']);
      assert.equal(Buffer.from(files.get('dir/a.sh')?.data ?? []).toString(), 'echo a');
      assert.equal(files.get('dir/a.sh')?.mode, 0o755);
    }
  });

  it('refuses paths that escape, links, oversized and non-tar bodies', async () => {
    const refused = async (archive: Buffer, code = 'INVALID_ARGUMENT') =>
      assert.rejects(readUploadArchive(archive, LIMITS), (err: PaddockError) => err.code === code);
    await refused(await tarOf([{ name: '../escape', body: 'x' }]));
    await refused(await tarOf([{ name: 'a/../../escape', body: 'x' }]));
    await refused(await tarOf([{ name: '/etc/cron.d/x', body: 'x' }]));
    await refused(await tarOf([{ name: 'link', type: 'symlink' }]));
    await refused(Buffer.from('definitely not a tar archive, just some text that is long enough'.repeat(10)));
    await refused(gzipSync(Buffer.from('not a tar either'.repeat(40))));
    await refused(gzipSync(Buffer.alloc(2 << 20)), 'PAYLOAD_TOO_LARGE');
    assert.equal(contextPath('./'), undefined);
  });

  it('upload tokens are per hash and expire; the store evicts the least recently used', () => {
    let now = 1_000;
    const uploads = new TemplateUploads({ secret: Buffer.alloc(32, 7), maxTotalBytes: 10, now: () => now });
    const token = uploads.tokenFor(HASH);
    assert.equal(uploads.verify(HASH, token), true);
    assert.equal(uploads.verify('b'.repeat(64), token), false);
    assert.equal(uploads.verify(HASH, null), false);
    assert.equal(uploads.verify(HASH, `${Number(token.split('.')[0]) + 1}.${token.split('.')[1]}`), false);
    now += 2 * 60 * 60 * 1000;
    assert.equal(uploads.verify(HASH, token), false);
    uploads.put('1', new Map([['a', file('123456')]]));
    uploads.put('2', new Map([['a', file('1234')]]));
    uploads.get('1');
    uploads.put('3', new Map([['a', file('12')]]));
    assert.equal(uploads.get('2'), undefined);
    assert.ok(uploads.get('1') && uploads.get('3'));
  });
});

describe('E2B builds (fake executor)', () => {
  const info = { name: 'mine', specHash: 'spec1' } as TemplateInfo;

  function harness(executor: PlanExecutor) {
    const names: [string, string][] = [];
    const builds = new E2bBuilds({ executor, putName: (n, h) => names.push([n, h]), logger: silentLogger });
    return { builds, names };
  }

  it('runs in the background; logs page by absolute offset; tags point at the result', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const { builds, names } = harness({
      buildPlan: async (o) => {
        assert.equal(o.name, 'mine');
        o.onEvent({ type: 'progress', message: 'step 1/1: RUN', step: 'run' });
        await gate;
        o.onEvent({ type: 'log', line: 'hello' });
        return { info, cached: false };
      },
    });
    const build = builds.request('mine', ['mine', 'mine:v2'], ['default', 'v2']);
    assert.equal(builds.status(build, 0).status, 'waiting');
    const t = translateBuild(E2bBuildStart.parse({ fromTemplate: 'base' }), options());
    builds.start(build, t);
    assert.throws(
      () => builds.start(build, t),
      (err: PaddockError) => err.code === 'CONFLICT',
    );
    const first = builds.status(build, 0);
    assert.equal(first.status, 'building');
    release();
    await builds.close();
    const done = builds.status(build, first.logEntries.length);
    assert.equal(done.status, 'ready');
    assert.deepEqual(
      done.logEntries.map((e) => e.message),
      ['hello', 'Template mine is ready'],
    );
    assert.deepEqual(names, [['mine:v2', 'spec1']]);
    assert.equal(builds.buildIdOf('spec1'), build.buildID);
    assert.throws(
      () => builds.get('other', build.buildID),
      (err: PaddockError) => err.code === 'NOT_FOUND',
    );
  });

  it('a failure is status error with the reason, its step in E2B numbering, and the log tail', async () => {
    const { builds } = harness({
      buildPlan: async (o) => {
        o.onEvent({ type: 'log', line: 'no such file' });
        throw new PaddockError('TEMPLATE_BUILD_FAILED', 'step 2 (run) exited with 3', { stepIndex: 1 });
      },
    });
    const build = builds.request('mine', ['mine'], ['default']);
    builds.start(
      build,
      translateBuild(
        E2bBuildStart.parse({
          fromTemplate: 'base',
          steps: [
            { type: 'RUN', args: ['a'] },
            { type: 'RUN', args: ['b'] },
          ],
        }),
        options(),
      ),
    );
    await builds.close();
    const status = builds.status(build, 0);
    assert.equal(status.status, 'error');
    assert.equal(status.reason?.message, 'step 2 (run) exited with 3');
    assert.equal(status.reason?.step, '2');
    assert.ok(status.reason?.logEntries.some((e) => e.message === 'no such file'));
  });

  it("without details, the executor's `step N/M` label names the step", async () => {
    const { builds } = harness({
      buildPlan: async () => {
        throw new PaddockError('TEMPLATE_BUILD_FAILED', 'step 3/3 RUN failed with exit code 1: b');
      },
    });
    const build = builds.request('mine', ['mine'], ['default']);
    // E2B steps: 1 RUN a (as root: three plan steps), 2 RUN b → plan step 3 is E2B step 1.
    const body = {
      fromTemplate: 'base',
      steps: [
        { type: 'RUN', args: ['a', 'root'] },
        { type: 'RUN', args: ['b'] },
      ],
    };
    builds.start(build, translateBuild(E2bBuildStart.parse(body), options()));
    await builds.close();
    assert.equal(builds.status(build, 0).reason?.step, '1');
  });

  it('close() aborts running builds', async () => {
    const { builds } = harness({
      buildPlan: (o) =>
        new Promise((_, reject) => o.signal.addEventListener('abort', () => reject(o.signal.reason), { once: true })),
    });
    const build = builds.request('mine', ['mine'], ['default']);
    builds.start(build, translateBuild(E2bBuildStart.parse({ fromTemplate: 'base' }), options()));
    await builds.close();
    assert.equal(builds.status(build, 0).status, 'error');
    assert.match(builds.status(build, 0).reason?.message ?? '', /stopping/);
  });

  it('the log keeps the newest entries and absolute offsets', () => {
    const log = new BuildLog(3);
    for (const m of ['a', 'b', 'c', 'd', 'e']) log.add('info', m);
    assert.deepEqual(
      log.from(0).map((e) => e.message),
      ['c', 'd', 'e'],
    );
    assert.deepEqual(
      log.from(4).map((e) => e.message),
      ['e'],
    );
    assert.deepEqual(log.from(5), []);
  });
});

/**
 * Real template builds (root, mmdebstrap, bubblewrap, Debian mirror). Each build takes
 * 20–60 s, so one tiny spec is built once and every assertion shares it.
 */
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PaddockError, type TemplateBuildEvent } from '@paddock/protocol';
import { type DataPaths, dataPaths } from '../../packages/server/src/paths.js';
import { UID_BASE } from '../../packages/server/src/runtime/uid-map.js';
import {
  type BuildTemplateResult,
  buildTemplate,
  listBuiltTemplates,
  removeTemplateFiles,
  templateRootfs,
} from '../../packages/server/src/templates/index.js';
import { removeTree } from '../../packages/server/src/templates/layout.js';
import { asDebianSpec, parseTemplateSpec, specHash } from '../../packages/server/src/templates/spec.js';

const debianSpec = (text: string) => asDebianSpec(parseTemplateSpec(text));
const SPEC = debianSpec(`
packages: [hello]
env:
  GREETING: hi there
files:
  - dest: /etc/paddock/secret.txt
    content: "top secret\\n"
    mode: 0o600
  - dest: /opt/app/data.bin
    src: data.bin
run:
  - hello > /opt/hello.txt && echo "$GREETING" > /opt/env.txt && id -u > /opt/uid.txt
  - touch /proof
  - cat /proc/1/cmdline | tr '\\0' ' ' > /opt/pid1.txt; ls /proc | grep -c '^[0-9]' > /opt/nprocs.txt
  - grep -c ':' /proc/net/dev > /opt/netdevs.txt
`);
const CONTEXT = { 'data.bin': new Uint8Array([0, 1, 2, 255]) };
const BROKEN_RUN = debianSpec('packages: [hello]\nrun: ["true", "echo some output; exit 3"]\n');

let root: string;
let paths: DataPaths;
let built: BuildTemplateResult;
let joined: BuildTemplateResult;
let events: TemplateBuildEvent[];
let joinedEvents: TemplateBuildEvent[];
let brokenRunError: unknown;

before(async () => {
  root = await mkdtemp('/var/tmp/paddock-template-test-');
  paths = dataPaths(root);
  events = [];
  joinedEvents = [];
  // Two callers of the same spec share one build; a spec with a failing step builds beside them.
  const [first, second, broken] = await Promise.allSettled([
    buildTemplate({ paths, spec: SPEC, contextFiles: CONTEXT, onEvent: (e) => events.push(e) }),
    buildTemplate({ paths, spec: SPEC, contextFiles: CONTEXT, onEvent: (e) => joinedEvents.push(e) }),
    buildTemplate({ paths, spec: BROKEN_RUN }),
  ]);
  if (first.status === 'rejected') throw first.reason;
  if (second.status === 'rejected') throw second.reason;
  built = first.value;
  joined = second.value;
  brokenRunError = broken.status === 'rejected' ? broken.reason : new Error('the broken spec built');
});

after(async () => {
  if (root !== undefined) await removeTree(root);
});

describe('buildTemplate (real build)', () => {
  it('builds into <hash>/rootfs with meta.json and reports progress', async () => {
    assert.equal(built.cached, false);
    assert.equal(built.info.specHash, specHash(SPEC, CONTEXT));
    assert.deepEqual(built.info.env, {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      GREETING: 'hi there',
    });
    assert.equal(built.info.user, 'user');
    assert.equal(built.info.workdir, '/home/user');
    assert.ok(built.info.sizeBytes > 50 * 2 ** 20, `size ${built.info.sizeBytes}`);
    const meta = JSON.parse(await readFile(join(paths.templates, built.info.specHash, 'meta.json'), 'utf8'));
    assert.deepEqual(meta, built.info);
    const steps = events.flatMap((e) => (e.type === 'progress' ? [e.step] : []));
    for (const step of ['resolve', 'download', 'install', 'user', 'shift', 'files', 'run', 'finalize']) {
      assert.ok(steps.includes(step), `no ${step} step in ${steps.join(',')}`);
    }
    assert.ok(events.some((e) => e.type === 'log' && e.line.startsWith('I: ')));
  });

  it('shares one build between concurrent callers', () => {
    assert.deepEqual(joined.info, built.info);
    assert.ok(joinedEvents.some((e) => e.type === 'progress' && e.message.includes('joining')));
  });

  it('installs the package and writes files owned by root inside', async () => {
    const rootfs = templateRootfs(paths, built.info.specHash);
    assert.equal(await readFile(join(rootfs, 'opt/hello.txt'), 'utf8'), 'Hello, world!\n');
    const secret = await stat(join(rootfs, 'etc/paddock/secret.txt'));
    assert.equal(secret.mode & 0o7777, 0o600);
    assert.equal(secret.uid, UID_BASE);
    assert.equal(await readFile(join(rootfs, 'etc/paddock/secret.txt'), 'utf8'), 'top secret\n');
    assert.deepEqual(new Uint8Array(await readFile(join(rootfs, 'opt/app/data.bin'))), CONTEXT['data.bin']);
  });

  it('stores the rootfs shifted by UID_BASE, setuid bits kept', async () => {
    const rootfs = templateRootfs(paths, built.info.specHash);
    assert.equal((await lstat(join(rootfs, 'etc/passwd'))).uid, UID_BASE);
    const home = await lstat(join(rootfs, 'home/user'));
    assert.equal(home.uid, UID_BASE + 1000);
    assert.equal(home.gid, UID_BASE + 1000);
    const su = await stat(join(rootfs, 'usr/bin/su'));
    assert.equal(su.uid, UID_BASE);
    assert.equal(su.mode & 0o4000, 0o4000, 'su lost its setuid bit');
    assert.match(await readFile(join(rootfs, 'etc/passwd'), 'utf8'), /^user:x:1000:1000::\/home\/user:\/bin\/bash$/m);
  });

  it('runs steps as root of a user namespace, with env, no network and its own pid namespace', async () => {
    const rootfs = templateRootfs(paths, built.info.specHash);
    const read = (f: string) => readFile(join(rootfs, 'opt', f), 'utf8');
    assert.equal(await read('env.txt'), 'hi there\n');
    assert.equal(await read('uid.txt'), '0\n');
    // Only the sandbox's own processes are visible: bubblewrap's init and the step's shell.
    assert.ok(Number(await read('nprocs.txt')) <= 6, `saw ${await read('nprocs.txt')} processes`);
    assert.doesNotMatch(await read('pid1.txt'), /systemd|init|process_api/);
    // Only loopback in the network namespace.
    assert.equal(await read('netdevs.txt'), '1\n');
  });

  it('keeps run steps off the host filesystem', async () => {
    const rootfs = templateRootfs(paths, built.info.specHash);
    const proof = await lstat(join(rootfs, 'proof'));
    assert.equal(proof.uid, UID_BASE, 'root inside must be UID_BASE on the host');
    await assert.rejects(lstat('/proof'), { code: 'ENOENT' });
  });

  it('returns the cached template at once the second time', async () => {
    const cachedEvents: TemplateBuildEvent[] = [];
    const started = performance.now();
    const again = await buildTemplate({
      paths,
      spec: SPEC,
      contextFiles: CONTEXT,
      onEvent: (e) => cachedEvents.push(e),
    });
    assert.ok(performance.now() - started < 1_000);
    assert.equal(again.cached, true);
    assert.deepEqual(again.info, built.info);
    assert.deepEqual(
      cachedEvents.map((e) => e.type === 'progress' && e.step),
      ['cached'],
    );
  });

  it('fails a failing run step with its index, command and output, leaving nothing behind', async () => {
    assert.ok(brokenRunError instanceof PaddockError, String(brokenRunError));
    assert.equal(brokenRunError.code, 'TEMPLATE_BUILD_FAILED');
    assert.match(brokenRunError.message, /^run\[1\] failed with exit code 3: echo some output; exit 3/);
    assert.match(brokenRunError.message, /some output/);
    assert.equal(brokenRunError.details?.step, 1);
    await assertNoScratchDirs();
  });

  it('fails an unknown package with its name, leaving nothing behind', async () => {
    const spec = debianSpec('packages: [hello, paddock-no-such-package]\n');
    await assert.rejects(buildTemplate({ paths, spec }), (err: unknown) => {
      assert.ok(err instanceof PaddockError);
      assert.equal(err.code, 'TEMPLATE_BUILD_FAILED');
      assert.match(err.message, /paddock-no-such-package/);
      assert.doesNotMatch(err.message, /hello/);
      return true;
    });
    await assertNoScratchDirs();
  });

  it('aborts a build, removing its scratch dir', async () => {
    const controller = new AbortController();
    const spec = debianSpec('packages: [hello]\nrun: ["echo abort-test"]\n');
    const build = buildTemplate({
      paths,
      spec,
      signal: controller.signal,
      // Abort once mmdebstrap is really running (mounts, forked apt).
      onEvent: (e) => {
        if (e.type === 'log' && e.line.includes('running apt-get update')) controller.abort(new Error('stop it'));
      },
    });
    await assert.rejects(build, /stop it/);
    await assertNoScratchDirs();
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(root), 'a mount under the data dir was left behind');
  });

  it('lists and removes built templates', async () => {
    assert.deepEqual(await listBuiltTemplates(paths), [built.info]);
    await removeTemplateFiles(paths, built.info.specHash);
    assert.deepEqual(await listBuiltTemplates(paths), []);
    assert.deepEqual(await readdir(paths.templates), []);
  });
});

async function assertNoScratchDirs(): Promise<void> {
  const left = (await readdir(paths.templates)).filter((n) => n.includes('.tmp-') || n.includes('.rm-'));
  assert.deepEqual(left, []);
}

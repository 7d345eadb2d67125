import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { RunningServer } from '@paddock/server';
// The real, unmodified SDK (e2b 2.51.0), configured only by the E2B_* variables set in before().
import { BuildError, type LogEntry, Sandbox, Template, TemplateError, waitForFile } from 'e2b';
import tar from 'tar-stream';
import { baseTemplateImage } from '../support/base-image.js';
import { e2bApi } from '../support/e2b-api.js';
import type { MadeImage } from '../support/oci-image-maker.js';
import { startTestServer } from '../support/server.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

const API_KEY = `e2b_${randomBytes(20).toString('hex')}`;
const SUFFIX = randomBytes(3).toString('hex');
/** Template names this suite builds or tags; removed in after(). */
const made = new Set<string>();
const sandboxes: Sandbox[] = [];

let server: RunningServer;
let contextDir: string;
let registry: TestRegistry;
let image: MadeImage;
const REGISTRY_PASSWORD = 'e2b-registry-pw';

/** A raw control-plane call, as the Python SDK or curl would send it. */
const api = e2bApi(() => server.url, API_KEY);

/** A build asked for through the raw API, as the SDK's first call does. */
async function requestBuild(name: string): Promise<{ templateID: string; buildID: string }> {
  const res = await api('POST', '/v3/templates', { name });
  assert.equal(res.status, 202, JSON.stringify(res.json));
  return res.json as { templateID: string; buildID: string };
}

async function tarGz(name: string, content: string): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}

function expectField(
  res: { status: number; json?: Record<string, unknown> | undefined },
  status: number,
  field: string,
) {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.equal(res.json?.code, status);
  assert.match(String(res.json?.message), new RegExp(field.replace(/[[\]]/g, '\\$&')));
}

before(async () => {
  // A private registry (basic auth) in a namespace of the test's own, plain HTTP: the server is
  // told it is insecure, as an operator would (E2B's fromImage has no way to say so).
  registry = await startTestRegistry({ auth: 'basic', users: { ann: REGISTRY_PASSWORD } });
  image = await baseTemplateImage({ config: { Env: ['PATH=/usr/bin:/bin', 'FROM_IMAGE=yes'], User: 'user' } });
  await registry.push(image.layoutDir, image.tag, 'team/agent:1');
  ({ server } = await startTestServer({ apiKey: API_KEY, insecureRegistries: [registry.host] }));
  process.env.E2B_API_URL = server.url;
  process.env.E2B_SANDBOX_URL = server.url;
  process.env.E2B_DOMAIN = `localhost:${new URL(server.url).port}`;
  process.env.E2B_API_KEY = API_KEY;
  contextDir = mkdtempSync(join(tmpdir(), 'e2b-tpl-'));
  writeFileSync(join(contextDir, 'hello.txt'), 'hello from the build context\n');
});

after(async () => {
  for (const sbx of sandboxes) await sbx.kill().catch(() => undefined);
  for (const name of made) await api('DELETE', `/v1/templates/${encodeURIComponent(name)}`);
  const left = await api('GET', '/v1/templates');
  const leaked = (left.json?.templates as { name: string }[] | undefined)?.filter((t) => t.name.includes(SUFFIX));
  await server?.close();
  await registry?.close();
  await image?.cleanup();
  rmSync(contextDir, { recursive: true, force: true });
  assert.deepEqual(leaked, [], 'templates this suite made are all removed');
});

describe('E2B template builder through the SDK (e2b 2.51.0)', () => {
  it('fromTemplate(base) + runCmd, copy, setEnvs, setWorkdir → Sandbox.create(alias) has them', {
    timeout: 300_000,
  }, async () => {
    const alias = `e2b-tpl-${SUFFIX}`;
    made.add(alias);
    const logs: LogEntry[] = [];
    const template = Template({ fileContextPath: contextDir })
      .fromTemplate('base')
      .runCmd('mkdir -p /opt/app && echo built-by-run > /opt/app/run.txt')
      .copy('hello.txt', '/opt/app/hello.txt')
      .setEnvs({ GREETING: 'hi there', STAGE: 'e2b' })
      .setWorkdir('/opt/app')
      .setUser('root')
      .runCmd('id -un > /opt/app/builder.txt')
      .runCmd('id -un > /tmp/as-user.txt', { user: 'user' });
    const built = await Template.build(template, {
      alias,
      cpuCount: 1,
      memoryMB: 512,
      onBuildLogs: (entry) => logs.push(entry),
    });
    assert.equal(built.templateId, alias);
    assert.ok(
      logs.some((l) => /Uploaded 'hello.txt'/.test(l.message)),
      logs.map((l) => l.message).join('\n'),
    );
    assert.ok(logs.some((l) => /is ready/.test(l.message)));
    assert.equal(await Template.exists(alias), true);

    const sbx = await Sandbox.create(alias, { timeoutMs: 120_000 });
    sandboxes.push(sbx);
    const out = await sbx.commands.run('cat run.txt hello.txt; echo "$GREETING/$STAGE"; pwd');
    assert.equal(out.stdout, 'built-by-run\nhello from the build context\nhi there/e2b\n/opt/app\n');
    // setUser is the user of later steps and of the sandbox; a RUN's own user is for that RUN.
    const users = await sbx.commands.run('cat builder.txt /tmp/as-user.txt; id -un');
    assert.equal(users.stdout, 'root\nuser\nroot\n');
    // The same files again: the upload is cached by its hash and not sent twice.
    const again: LogEntry[] = [];
    await Template.build(template, { alias, onBuildLogs: (entry) => again.push(entry) });
    assert.ok(again.some((l) => /Skipping upload of 'hello.txt', already cached/.test(l.message)));
  });

  it("fromBaseImage() (E2B's own base image) builds on our base template", { timeout: 300_000 }, async () => {
    const alias = `e2b-tpl-base-${SUFFIX}`;
    made.add(alias);
    await Template.build(
      Template({ fileContextPath: contextDir }).fromBaseImage().runCmd('touch /tmp/from-base'),
      alias,
    );
    const sbx = await Sandbox.create(alias, { timeoutMs: 60_000 });
    sandboxes.push(sbx);
    assert.equal((await sbx.commands.run('ls /tmp/from-base && python3 -c "print(2)"')).stdout, '/tmp/from-base\n2\n');
  });

  it('a failing runCmd: the SDK throws BuildError with our reason, the log shows the output', {
    timeout: 300_000,
  }, async () => {
    const alias = `e2b-tpl-fail-${SUFFIX}`;
    const logs: LogEntry[] = [];
    const template = Template({ fileContextPath: contextDir })
      .fromTemplate('base')
      .runCmd('echo about-to-fail; exit 3');
    await assert.rejects(Template.build(template, { alias, onBuildLogs: (e) => logs.push(e) }), (err: Error) => {
      assert.ok(err instanceof BuildError, String(err));
      assert.match(err.message, /exit code 3/);
      // reason.step names the failed step, so the SDK shows the stack of the runCmd call itself.
      assert.ok(!err.stack?.includes('node_modules/e2b'), err.stack);
      return true;
    });
    assert.ok(logs.some((l) => l.level === 'error'));
    assert.ok(
      logs.some((l) => /about-to-fail/.test(l.message)),
      logs.map((l) => l.message).join('\n'),
    );
    assert.equal(await Template.exists(alias), false);
  });

  it('name:tag and tags: each tag starts the build; setStartCmd + waitForFile land in the template', {
    timeout: 300_000,
  }, async () => {
    const name = `e2b-tpl-tags-${SUFFIX}`;
    for (const n of [`${name}:v1`, `${name}:stable`]) made.add(n);
    const template = Template({ fileContextPath: contextDir })
      .fromTemplate('base')
      .runCmd('echo tagged > /tmp/tagged.txt')
      .setStartCmd('touch /tmp/started && sleep infinity', waitForFile('/tmp/started'));
    const built = await Template.build(template, `${name}:v1`, { tags: ['stable'] });
    assert.deepEqual([...built.tags].sort(), ['stable', 'v1']);
    assert.equal(await Template.exists(name), false, 'no default tag was built');
    const tags = await Template.getTags(name);
    assert.deepEqual(tags.map((t) => t.tag).sort(), ['stable', 'v1']);
    assert.equal(tags[0]?.buildId, built.buildId);
    assert.equal(tags[1]?.buildId, built.buildId);
    const info = await api('GET', `/v1/templates/${encodeURIComponent(`${name}:stable`)}`);
    assert.deepEqual(info.json?.start, {
      command: 'touch /tmp/started && sleep infinity',
      ready: { command: '[ -f /tmp/started ]' },
    });
    assert.deepEqual(info.json?.source, { kind: 'e2b' });
    const sbx = await Sandbox.create(`${name}:stable`, { timeoutMs: 60_000 });
    sandboxes.push(sbx);
    assert.equal((await sbx.commands.run('cat /tmp/tagged.txt')).stdout, 'tagged\n');
    // A tag is a template name of its own: Paddock's API removes it like any other.
    assert.equal((await api('DELETE', `/v1/templates/${name}:v1`)).status, 204);
    assert.deepEqual(
      (await Template.getTags(name)).map((t) => t.tag),
      ['stable'],
    );
    assert.equal((await api('DELETE', `/v1/templates/${name}:bad%20tag`)).status, 400);
  });

  it('fromImage with registry credentials pulls the image; Sandbox.create(alias) runs it', {
    timeout: 300_000,
  }, async () => {
    const alias = `e2b-tpl-img-${SUFFIX}`;
    made.add(alias);
    const ref = registry.refFor('team/agent', '1');
    const t = Template({ fileContextPath: contextDir })
      .fromImage(ref, { username: 'ann', password: REGISTRY_PASSWORD })
      .setUser('root')
      .runCmd('echo pulled > /opt/from-e2b')
      .setUser('user');
    await Template.build(t, { alias });
    const sbx = await Sandbox.create(alias);
    sandboxes.push(sbx);
    const out = await sbx.commands.run('cat /opt/from-e2b; echo "$FROM_IMAGE $(id -un)"');
    assert.equal(out.stdout, 'pulled\nyes user\n');
  });

  it('fromImage with a wrong password fails the build naming the registry', { timeout: 60_000 }, async () => {
    const t = Template({ fileContextPath: contextDir })
      .fromImage(registry.refFor('team/agent', '1'), { username: 'ann', password: 'wrong' })
      .runCmd('true');
    await assert.rejects(Template.build(t, { alias: `e2b-tpl-img-bad-${SUFFIX}` }), (err: Error) => {
      assert.ok(err instanceof BuildError, String(err));
      assert.ok(err.message.includes(registry.host), err.message);
      assert.ok(!err.message.includes('wrong'), 'the password shows in the error');
      return true;
    });
  });

  it('refused before building: unknown fromTemplate, no alias, unknown step type, built-in names', async () => {
    const t = Template({ fileContextPath: contextDir }).fromTemplate(`nope-${SUFFIX}`).runCmd('true');
    await assert.rejects(Template.build(t, { alias: `e2b-tpl-x-${SUFFIX}` }), (err: Error) => {
      assert.ok(err instanceof BuildError, String(err));
      assert.match(err.message, /fromTemplate: template 'nope-\w+' does not exist/);
      return true;
    });
    // The SDK refuses a missing alias itself; the API refuses it too, naming the field.
    await assert.rejects(Template.build(t, { alias: '' }), TemplateError);
    expectField(await api('POST', '/v3/templates', {}), 400, 'name');
    expectField(await api('POST', '/v3/templates', { name: 'Not A Name' }), 400, 'name');
    expectField(await api('POST', '/v3/templates', { name: 'base' }), 400, 'name');
    expectField(await api('POST', '/v3/templates', { name: 'ok', tags: ['bad tag'] }), 400, 'tags');
    expectField(await api('POST', '/v3/templates', { name: 'ok', cpuCount: 0 }), 400, 'cpuCount');

    const { templateID, buildID } = await requestBuild(`e2b-tpl-raw-${SUFFIX}`);
    const start = `/v2/templates/${templateID}/builds/${buildID}`;
    expectField(
      await api('POST', start, { fromTemplate: 'base', steps: [{ type: 'HEALTHCHECK', args: [] }] }),
      400,
      'steps[0].type',
    );
    expectField(await api('POST', start, { fromTemplate: 'base', steps: [{ args: ['x'] }] }), 400, 'steps.0.type');
    expectField(
      await api('POST', start, {
        fromTemplate: 'base',
        steps: [{ type: 'COPY', args: ['a', '/a'], filesHash: 'c'.repeat(64) }],
      }),
      400,
      'steps[0].filesHash',
    );
    expectField(
      await api('POST', start, { fromImage: 'x', fromImageRegistry: { type: 'aws' } }),
      400,
      'fromImageRegistry.type',
    );
    expectField(await api('POST', start, { fromTemplate: 'base', readyCmd: 'true' }), 400, 'readyCmd');
    expectField(
      await api('POST', `/v2/templates/${templateID}/builds/not-a-build`, { fromTemplate: 'base' }),
      404,
      'build',
    );
    expectField(await api('GET', `/templates/${templateID}/builds/${buildID}/status?logsOffset=-1`), 400, 'logsOffset');
    expectField(await api('GET', `/templates/${templateID}/builds/nope/status`), 404, 'build');
    const waiting = await api('GET', `/templates/${templateID}/builds/${buildID}/status`);
    assert.equal(waiting.json?.status, 'waiting');
    // A build starts once: the second start is a 409 (the first one goes on).
    made.add(templateID);
    assert.equal((await api('POST', start, { fromTemplate: 'base' })).status, 202);
    expectField(await api('POST', start, { fromTemplate: 'base' }), 409, 'already started');
  });

  it('uploads: the URL points back here; without its token (or with another hash’s) it is refused', async () => {
    const { templateID } = await requestBuild(`e2b-tpl-up-${SUFFIX}`);
    const hash = randomBytes(32).toString('hex');
    expectField(await api('GET', `/templates/${templateID}/files/not-a-hash`), 400, 'hash');
    expectField(await api('GET', `/templates/nobody-${SUFFIX}/files/${hash}`), 404, 'template');
    const link = await api('GET', `/templates/${templateID}/files/${hash}`);
    assert.equal(link.status, 201);
    assert.equal(link.json?.present, false);
    const url = new URL(String(link.json?.url));
    assert.equal(url.origin, new URL(server.url).origin);
    const body = await tarGz('a.txt', 'A');
    const put = (target: URL | string, data: Buffer = body) => fetch(target, { method: 'PUT', body: data });

    const noToken = new URL(url);
    noToken.search = '';
    assert.equal((await put(noToken)).status, 401);
    const other = randomBytes(32).toString('hex');
    assert.equal((await put(new URL(url.href.replace(hash, other)))).status, 401);
    const forged = new URL(url);
    forged.searchParams.set('token', `${Date.now() + 60_000}.${'0'.repeat(64)}`);
    assert.equal((await put(forged)).status, 401);
    assert.equal((await api('GET', `/templates/${templateID}/files/${hash}`)).json?.present, false);

    // An archive whose path leaves the context is refused, and nothing is kept.
    const escaping = await put(url, await tarGz('../../etc/cron.d/evil', 'x'));
    assert.equal(escaping.status, 400);
    assert.match(((await escaping.json()) as { message: string }).message, /leaves the context/);
    assert.equal((await api('GET', `/templates/${templateID}/files/${hash}`)).json?.present, false);

    assert.equal((await put(url)).status, 201);
    assert.deepEqual((await api('GET', `/templates/${templateID}/files/${hash}`)).json, { present: true });
  });

  it('aliases and tags: exists, assign, list, Sandbox.create(name:tag), remove', { timeout: 120_000 }, async () => {
    assert.equal(await Template.exists('base'), true);
    assert.equal(await Template.exists(`nope-${SUFFIX}`), false);
    const tag = `pin${SUFFIX}`;
    made.add(`base:${tag}`);
    const assigned = await Template.assignTags('base:default', tag);
    assert.deepEqual(assigned.tags, [tag]);
    const tags = await Template.getTags('base');
    assert.deepEqual(tags.map((t) => t.tag).sort(), [tag, 'default'].sort());
    assert.equal(tags[0]?.buildId, tags[1]?.buildId);
    const sbx = await Sandbox.create(`base:${tag}`, { timeoutMs: 60_000 });
    sandboxes.push(sbx);
    assert.equal((await sbx.commands.run('echo tagged')).stdout, 'tagged\n');
    await Template.removeTags('base', tag);
    assert.equal(await Template.exists(`base:${tag}`), false);

    expectField(await api('POST', '/templates/tags', { tags: ['x'] }), 400, 'target');
    expectField(await api('POST', '/templates/tags', { target: `nope-${SUFFIX}`, tags: ['x'] }), 404, 'not found');
    expectField(await api('POST', '/templates/tags', { target: 'base', tags: ['bad tag'] }), 400, 'tags');
    expectField(await api('DELETE', '/templates/tags', { name: 'base', tags: ['default'] }), 400, 'built-in');
    expectField(await api('DELETE', '/templates/tags', { name: 'base', tags: [`nope${SUFFIX}`] }), 404, 'not found');
    expectField(await api('GET', `/templates/nope-${SUFFIX}/tags`), 404, 'not found');
    expectField(await api('GET', '/templates/aliases/Bad%20Name'), 400, 'alias');
    // No API key: E2B's error shape, on the v3 path too.
    expectField(await api('POST', '/v3/templates', { name: 'x' }, null), 401, 'API key');
  });
});

/**
 * Templates from OCI images end to end: a real registry (docker-registry in a namespace of the
 * test's own, basic auth) holds the base template's files as an image; the server pulls and
 * unpacks it, and sandboxes run from it with the image's config as their defaults.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TemplateBuildEvent } from '@paddock/protocol';
import { Sandbox, Template } from '@paddock/sdk';
import { baseTemplateImage } from '../support/base-image.js';
import { runCli } from '../support/cli.js';
import { TEST_DATA_DIR } from '../support/env.js';
import { loopbackRequest } from '../support/http-request.js';
import { type MadeImage, makeImage, toDockerArchive } from '../support/oci-image-maker.js';
import { useTestServer } from '../support/server.js';
import { startTestRegistry, type TestRegistry } from '../support/test-registry.js';

const PASSWORD = 'registry-pw-51d0';
const AUTH = { username: 'ann', password: PASSWORD };

const names: string[] = [];
// Templates go while the server still answers (after() hooks run after the server closed).
const server = useTestServer(
  {},
  {
    beforeClose: async (conn) => {
      for (const name of names) await Template.remove(name, conn).catch(() => {});
    },
  },
);
let registry: TestRegistry;
let image: MadeImage;
let scratch: string;

before(async () => {
  registry = await startTestRegistry({ auth: 'basic', users: { ann: PASSWORD } });
  image = await baseTemplateImage({
    config: {
      // A value of this run's own: the image (and its template) is new on every run.
      Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'FROM_IMAGE=yes', `RUN_ID=${randomBytes(4).toString('hex')}`],
      WorkingDir: '/home/user',
      User: 'user',
      Entrypoint: ['/bin/bash'],
      Cmd: ['-l'],
    },
  });
  await registry.push(image.layoutDir, image.tag, 'team/agent:1.4');
  scratch = await mkdtemp(join(tmpdir(), 'paddock-image-templates-'));
});

after(async () => {
  await registry?.close();
  await image?.cleanup();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

function cliEnv(): Record<string, string> {
  return { PADDOCK_URL: server.conn.apiUrl, PADDOCK_API_KEY: server.conn.apiKey };
}

function build(name: string, ref: string, opts: { auth?: typeof AUTH; events?: TemplateBuildEvent[] } = {}) {
  names.push(name);
  return Template.build(
    name,
    { from: { image: ref, insecure: true } },
    {
      ...server.conn,
      requestTimeoutMs: 0,
      ...(opts.auth ? { registryAuth: opts.auth } : {}),
      onEvent: (e) => opts.events?.push(e),
    },
  );
}

describe('a template from a registry image', () => {
  let events: TemplateBuildEvent[];
  let built: Awaited<ReturnType<typeof build>>;

  before(async () => {
    events = [];
    built = await build('img-agent', registry.refFor('team/agent', '1.4'), { auth: AUTH, events });
  });

  it('records the image config as the template defaults, and where it came from', () => {
    const t = built.template;
    assert.equal(built.cached, false);
    assert.equal(t.env.FROM_IMAGE, 'yes');
    assert.equal(t.workdir, '/home/user');
    assert.equal(t.user, 'user');
    assert.deepEqual(t.entrypoint, ['/bin/bash']);
    assert.deepEqual(t.cmd, ['-l']);
    assert.equal(t.source?.kind, 'image');
    assert.equal(t.source?.digest, image.manifestDigest);
    assert.ok(t.sizeBytes > 100 * 1024 * 1024, `size ${t.sizeBytes}`);
  });

  it('streams pull and unpack progress with byte and layer counts', () => {
    const pulls = events.filter((e) => e.type === 'progress' && e.step === 'pull' && e.bytesTotal !== undefined);
    const unpacks = events.filter((e) => e.type === 'progress' && e.step === 'unpack' && e.layersTotal !== undefined);
    assert.ok(pulls.length > 0, 'no pull progress with bytes');
    assert.ok(unpacks.length > 0, 'no unpack progress with layers');
    const last = unpacks.at(-1);
    assert.ok(last?.type === 'progress' && last.layersDone === last.layersTotal);
    assert.ok(!JSON.stringify(events).includes(PASSWORD), 'the password showed in a build event');
  });

  it('runs sandboxes with the image user, workdir and env, ids mapped inside', async () => {
    await using sbx = await Sandbox.create({ ...server.conn, template: 'img-agent' });
    const out = await sbx.commands.run('echo "$FROM_IMAGE $(id -un) $(pwd)"; stat -c %u /home/user /root');
    assert.equal(out.exitCode, 0, out.stderr);
    assert.equal(out.stdout, 'yes user /home/user\n1000\n0\n');
  });

  it('is cached when the tag still names the same digest; pinned digests work', async () => {
    const again = await build('img-agent-2', registry.refFor('team/agent', '1.4'), { auth: AUTH });
    assert.equal(again.cached, true);
    assert.equal(again.template.specHash, built.template.specHash);
    const pinned = await build('img-agent-pinned', `${registry.host}/team/agent@${image.manifestDigest}`, {
      auth: AUTH,
    });
    assert.equal(pinned.template.source?.digest, image.manifestDigest);
  });
});

describe('steps over an image', () => {
  it('a spec from: { image } with files and run steps: they run as root, the image user stays the default', async () => {
    names.push('img-spec-steps');
    const built = await Template.build(
      'img-spec-steps',
      {
        from: { image: registry.refFor('team/agent', '1.4'), insecure: true },
        files: [{ dest: '/opt/app/note.txt', content: 'from the spec\n' }],
        run: ['id -u > /opt/app/built-by', 'cat /opt/app/note.txt >> /opt/app/built-by'],
        env: { EXTRA: 'on top' },
      },
      { ...server.conn, requestTimeoutMs: 0, registryAuth: AUTH },
    );
    assert.equal(built.template.user, 'user');
    assert.equal(built.template.source?.kind, 'image');
    await using sbx = await Sandbox.create({ ...server.conn, template: 'img-spec-steps' });
    const out = await sbx.commands.run('cat /opt/app/built-by; echo "$FROM_IMAGE $EXTRA $(id -un)"');
    assert.equal(out.stdout, '0\nfrom the spec\nyes on top user\n');
  });

  it('a Dockerfile FROM a registry image (credentials and plain HTTP as asked)', async () => {
    names.push('img-dockerfile');
    const dockerfile = `FROM ${registry.refFor('team/agent', '1.4')}\nUSER root\nRUN echo from-dockerfile > /opt/marker\nUSER user\n`;
    const built = await Template.buildDockerfile('img-dockerfile', {
      ...server.conn,
      requestTimeoutMs: 0,
      dockerfile,
      registryAuth: AUTH,
      insecureRegistry: true,
    });
    assert.equal(built.template.user, 'user');
    await using sbx = await Sandbox.create({ ...server.conn, template: 'img-dockerfile' });
    assert.equal((await sbx.commands.run('cat /opt/marker; echo $FROM_IMAGE')).stdout, 'from-dockerfile\nyes\n');
    await assert.rejects(
      Template.buildDockerfile('img-dockerfile-anon', {
        ...server.conn,
        requestTimeoutMs: 0,
        dockerfile,
        insecureRegistry: true,
      }),
      { code: 'UNAUTHENTICATED' },
    );
  });
});

describe('the CLI', () => {
  it('builds --from-image with --username and --password-stdin, showing pull progress', async () => {
    names.push('img-cli');
    const ref = registry.refFor('team/agent', '1.4');
    const args = [
      'template',
      'build',
      '--from-image',
      ref,
      '--insecure',
      '-n',
      'img-cli',
      '--username',
      'ann',
      '--password-stdin',
    ];
    const cli = await runCli(args, { env: cliEnv(), stdin: `${PASSWORD}\n` });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^img-cli (\(cached\) )?[0-9a-f]{16}\n$/);
    assert.match(cli.stderr, /fetching/);
    assert.ok(!cli.stderr.includes(PASSWORD));
  });

  it('builds --dockerfile with --context (honouring .dockerignore) and --build-arg', async () => {
    names.push('img-cli-dockerfile');
    const dir = await mkdtemp(join(scratch, 'context-'));
    await writeFile(
      join(dir, 'Dockerfile'),
      'FROM base\nARG WHO\nCOPY . /opt/ctx/\nRUN echo "hi $WHO" > /opt/ctx/greeting\n',
    );
    await writeFile(join(dir, 'kept.txt'), 'kept\n');
    await writeFile(join(dir, 'secret.env'), 'TOKEN=x\n');
    await writeFile(join(dir, '.dockerignore'), '*.env\n');
    const args = [
      'template',
      'build',
      '-f',
      join(dir, 'Dockerfile'),
      '--context',
      dir,
      '--build-arg',
      'WHO=cli',
      '-n',
      'img-cli-dockerfile',
    ];
    const cli = await runCli(args, { env: cliEnv() });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^img-cli-dockerfile [0-9a-f]{16}\n$/);
    await using sbx = await Sandbox.create({ ...server.conn, template: 'img-cli-dockerfile' });
    const out = await sbx.commands.run('cat /opt/ctx/greeting /opt/ctx/kept.txt; ls /opt/ctx');
    assert.equal(out.stdout, 'hi cli\nkept\nDockerfile\ngreeting\nkept.txt\n');
  });

  it('without credentials the registry refuses, and the CLI says so', async () => {
    const cli = await runCli(
      ['template', 'build', '--from-image', registry.refFor('team/agent', '1.4'), '--insecure', '-n', 'img-anon'],
      {
        env: { ...cliEnv(), DOCKER_CONFIG: scratch },
      },
    );
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /UNAUTHENTICATED|credentials|unauthori/i);
  });
});

describe('bad image input', () => {
  it('wrong credentials → UNAUTHENTICATED; nothing named', async () => {
    await assert.rejects(
      build('img-bad-auth', registry.refFor('team/agent', '1.4'), { auth: { ...AUTH, password: 'nope' } }),
      {
        code: 'UNAUTHENTICATED',
      },
    );
    await assert.rejects(Template.get('img-bad-auth', server.conn), { code: 'NOT_FOUND' });
  });

  it('an unknown tag → NOT_FOUND naming the ref', async () => {
    const ref = registry.refFor('team/agent', 'no-such-tag');
    await assert.rejects(build('img-missing', ref, { auth: AUTH }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'NOT_FOUND');
      assert.match(err.message, /team\/agent:no-such-tag/);
      return true;
    });
  });

  it('files owned by ids above the mapped range → INVALID_ARGUMENT, nothing left behind', async () => {
    const high = await makeImage({
      layers: [
        { compression: 'gzip', entries: [{ path: 'opt/high', type: 'file', data: Buffer.from('x'), uid: 70_000 }] },
      ],
    });
    try {
      await registry.push(high.layoutDir, high.tag, 'team/high:1');
      const before = await readdir(join(TEST_DATA_DIR, 'templates'));
      await assert.rejects(
        build('img-high', registry.refFor('team/high', '1'), { auth: AUTH }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'INVALID_ARGUMENT');
          assert.match(err.message, /70000/);
          return true;
        },
      );
      assert.deepEqual(await readdir(join(TEST_DATA_DIR, 'templates')), before);
    } finally {
      await high.cleanup();
    }
  });
});

describe('import without a registry', () => {
  it('a docker save tarball, through the CLI, becomes a template sandboxes run', async () => {
    const archive = join(scratch, 'agent.tar');
    await toDockerArchive(image, { repoTag: 'team/agent:1.4', path: archive });
    names.push('img-imported');
    const cli = await runCli(['template', 'import', archive, '-n', 'img-imported', '--json'], { env: cliEnv() });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stderr, /received/);
    const source = JSON.parse(cli.stdout).source;
    assert.deepEqual({ kind: source.kind, ref: source.ref }, { kind: 'image', ref: 'uploaded docker-archive' });
    await using sbx = await Sandbox.create({ ...server.conn, template: 'img-imported' });
    assert.equal((await sbx.commands.run('echo $FROM_IMAGE')).stdout, 'yes\n');
  });

  it('removing the last template of an image removes its layers; other images keep theirs', async () => {
    const layout = join(TEST_DATA_DIR, 'images', 'layout');
    const blobsOf = async (manifestDigest: string): Promise<string[]> => {
      const manifest = JSON.parse(await readFile(join(layout, 'blobs', 'sha256', manifestDigest.slice(7)), 'utf8'));
      return [manifestDigest, manifest.config.digest, ...manifest.layers.map((l: { digest: string }) => l.digest)];
    };
    const imported = (await Template.get('img-imported', server.conn)).source?.digest;
    const pulled = (await Template.get('img-agent', server.conn)).source?.digest;
    assert.ok(imported && pulled && imported !== pulled);
    const importedBlobs = await blobsOf(imported);
    const pulledBlobs = await blobsOf(pulled);
    await Template.remove('img-imported', server.conn);
    const present = new Set((await readdir(join(layout, 'blobs', 'sha256'))).map((n) => `sha256:${n}`));
    // The two images share their config blob (same JSON): that one stays.
    const onlyImported = importedBlobs.filter((b) => !pulledBlobs.includes(b));
    assert.ok(onlyImported.length >= 2, 'the imported image should have blobs of its own (manifest, layer)');
    for (const blob of onlyImported) assert.ok(!present.has(blob), `${blob} of the removed image is still there`);
    for (const blob of pulledBlobs) assert.ok(present.has(blob), `${blob} of a used image was removed`);
  });

  it('bad import requests: no key, no or a bad name, not a tar body → typed errors naming what to change', async () => {
    const port = Number(new URL(server.conn.apiUrl).port);
    const tar = { 'content-type': 'application/x-tar', authorization: `Bearer ${server.conn.apiKey}` };
    const post = (path: string, headers: Record<string, string>, body: string) =>
      loopbackRequest(port, path, headers, { method: 'POST', body });
    const noKey = await post('/v1/templates/import?name=x', { 'content-type': 'application/x-tar' }, 'x');
    assert.equal(noKey.status, 401);
    const noName = await post('/v1/templates/import', tar, 'x');
    assert.equal(noName.status, 400);
    assert.match(JSON.parse(noName.body).message, /name/);
    const badName = await post('/v1/templates/import?name=Not%20A%20Name', tar, 'x');
    assert.equal(badName.status, 400);
    assert.equal(JSON.parse(badName.body).code, 'INVALID_ARGUMENT');
    const json = await post(
      '/v1/templates/import?name=x',
      { ...tar, 'content-type': 'application/json' },
      JSON.stringify({ archive: 'x' }),
    );
    assert.equal(json.status, 400);
    assert.match(JSON.parse(json.body).message, /application\/x-tar/);
  });

  it('something that is not an image archive → INVALID_ARGUMENT; no upload left on disk', async () => {
    await assert.rejects(Template.import('img-junk', Buffer.from('not a tar at all'.repeat(100)), server.conn), {
      code: 'INVALID_ARGUMENT',
    });
    const uploads = join(TEST_DATA_DIR, 'images', 'uploads');
    assert.deepEqual(existsSync(uploads) ? await readdir(uploads) : [], []);
  });
});

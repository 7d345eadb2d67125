/**
 * Real Dockerfile builds through the API (bubblewrap, overlayfs, the step cache) from the prebuilt
 * `base` template, checked by running commands in sandboxes made from the results.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { TemplateBuildEvent } from '@paddock/protocol';
import { InvalidArgumentError, Sandbox, Template, TemplateBuildError } from '@paddock/sdk';
import tar from 'tar-stream';
import { TEST_DATA_DIR } from '../support/env.js';
import { useTestServer } from '../support/server.js';

const encode = (text: string) => new TextEncoder().encode(text);

async function tarOf(files: Record<string, string>): Promise<Uint8Array> {
  const pack = tar.pack();
  for (const [name, text] of Object.entries(files)) pack.entry({ name, mode: 0o644 }, text);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const DOCKERFILE = `# escape=\\
ARG BASE=base
FROM \${BASE} AS builder
ARG GREETING=hello
ARG RUN_ID
RUN echo "$RUN_ID" > /run-id && mkdir -p /out && echo "$GREETING from builder" > /out/greeting.txt

# the template itself
FROM base
ARG GREETING
ARG VERSION=1
ENV APP_HOME=/opt/app \\
    PATH=/opt/app/bin:$PATH
WORKDIR $APP_HOME
COPY --chmod=755 bin/ ./bin/
COPY . /opt/ctx/
ADD bundle.tar /opt/bundle/
COPY --from=builder /out/greeting.txt /opt/greeting.txt
RUN echo "version $VERSION, greeting \${GREETING:-none}" > /opt/args.txt && id -un > /opt/run-user.txt
COPY --chown=user:user data.txt /home/user/data.txt
USER user
RUN id -un > /home/user/step-user.txt && pwd > /home/user/step-pwd.txt
LABEL org.example=ignored
EXPOSE 8080
ENTRYPOINT ["hello"]
CMD world
`;

async function context(): Promise<Record<string, Uint8Array | { data: Uint8Array; mode: number }>> {
  return {
    'bin/hello': encode('#!/bin/sh\necho "hello $*"\n'),
    'data.txt': encode('some data\n'),
    'secret.txt': encode('not for the image\n'),
    'debug.log': encode('noise\n'),
    '.dockerignore': encode('secret.txt\n*.log\n'),
    'run.sh': { data: encode('#!/bin/sh\necho run\n'), mode: 0o755 },
    'bundle.tar': await tarOf({ 'inner/readme.txt': 'from the tar\n' }),
  };
}

describe('Dockerfile builds', () => {
  // Every run builds afresh (the data dir and its step cache outlive a run), and removes its templates.
  const runId = randomUUID();
  const server = useTestServer(
    {},
    {
      beforeClose: async (conn) => {
        for (const name of ['df-all', 'df-cache', 'df-user']) await Template.remove(name, conn).catch(() => {});
      },
    },
  );

  it('builds every instruction from the base template; a sandbox from it sees the result', async () => {
    const events: TemplateBuildEvent[] = [];
    const { template } = await Template.buildDockerfile('df-all', {
      ...server.conn,
      dockerfile: DOCKERFILE,
      context: await context(),
      buildArgs: { VERSION: '2', RUN_ID: runId },
      requestTimeoutMs: 0,
      onEvent: (e) => events.push(e),
    });
    assert.equal(template.source?.kind, 'dockerfile');
    assert.equal(template.user, 'user');
    assert.equal(template.workdir, '/opt/app');
    assert.deepEqual(template.entrypoint, ['hello']);
    assert.deepEqual(template.cmd, ['/bin/sh', '-c', 'world']);
    assert.equal(template.env.APP_HOME, '/opt/app');
    assert.match(template.env.PATH ?? '', /^\/opt\/app\/bin:\/usr\/local\/sbin/);

    const sbx = await server.sandbox({ template: 'df-all' });
    const run = async (cmd: string) => (await sbx.commands.run(cmd)).stdout;
    assert.equal(await run('hello there'), 'hello there\n', 'COPY --chmod into ./bin (relative to WORKDIR), on PATH');
    assert.equal(await run('cat /opt/greeting.txt'), 'hello from builder\n', 'COPY --from a stage');
    assert.equal(await run('cat /opt/args.txt'), 'version 2, greeting none\n', 'build-arg override, unset ARG');
    assert.equal(await run('cat /opt/run-user.txt'), 'root\n', 'steps run as root before USER');
    assert.equal(await run('cat /home/user/step-user.txt /home/user/step-pwd.txt'), 'user\n/opt/app\n');
    assert.equal(await run('stat -c %U /home/user/step-user.txt /home/user/data.txt'), 'user\nuser\n');
    assert.equal(await run('cat /opt/bundle/inner/readme.txt'), 'from the tar\n', 'ADD unpacks a local tar');
    assert.equal(await run('ls -A /opt/ctx | sort | tr "\\n" " "'), '.dockerignore bin bundle.tar data.txt run.sh ');
    assert.equal(await run('stat -c %a /opt/ctx/run.sh /opt/ctx/data.txt'), '755\n644\n', 'context modes kept');
    assert.equal(await run('pwd'), '/opt/app\n');
    assert.equal(await run('id -un'), 'user\n');
    const progress = events.filter((e) => e.type === 'progress').map((e) => e.message);
    assert.ok(
      progress.some((m) => /^step 1\/13 RUN echo "\$RUN_ID"/.test(m)),
      progress.join('\n'),
    );
  });

  it('a rebuild after editing the last RUN reuses every earlier layer; an unchanged one runs nothing', async () => {
    const dockerfile = (last: string) =>
      `FROM base\nRUN echo one ${runId} >> /steps.log\nCOPY data.txt /data.txt\nRUN echo two >> /steps.log\nRUN ${last}\n`;
    const ctx = { 'data.txt': encode('data\n') };
    const build = async (text: string) => {
      const events: TemplateBuildEvent[] = [];
      const result = await Template.buildDockerfile('df-cache', {
        ...server.conn,
        dockerfile: text,
        context: ctx,
        requestTimeoutMs: 0,
        onEvent: (e) => events.push(e),
      });
      const messages = events.flatMap((e) => (e.type === 'progress' ? [e.message] : []));
      return { ...result, messages };
    };
    const first = await build(dockerfile('echo three-a >> /steps.log'));
    const second = await build(dockerfile('echo three-b >> /steps.log'));
    assert.notEqual(first.template.specHash, second.template.specHash);
    const cached = second.messages.filter((m) => m.endsWith('(cached)'));
    assert.equal(cached.length, 3, second.messages.join('\n'));
    assert.ok(second.messages.some((m) => /^step 4\/4 RUN echo three-b/.test(m) && !m.endsWith('(cached)')));

    const sbx = await server.sandbox({ template: 'df-cache' });
    assert.equal((await sbx.commands.run('cat /steps.log')).stdout, `one ${runId}\ntwo\nthree-b\n`);

    const again = await build(dockerfile('echo three-b >> /steps.log'));
    assert.equal(again.cached, true);
    assert.equal(again.template.specHash, second.template.specHash);
  });

  it('USER applies to RUN in an image without its own setpriv (the host tool is lent to the step)', async () => {
    const dockerfile = [
      'FROM base',
      `RUN rm /usr/bin/setpriv && echo ${runId} > /opt/run-id`,
      'USER user',
      'RUN id -un > /tmp/who && touch /tmp/made-by-user',
    ].join('\n');
    await Template.buildDockerfile('df-user', { ...server.conn, dockerfile, requestTimeoutMs: 0 });
    await using sbx = await Sandbox.create({ ...server.conn, template: 'df-user' });
    const out = await sbx.commands.run(
      'cat /tmp/who; stat -c %U /tmp/made-by-user; test -e /usr/bin/setpriv || echo gone',
    );
    assert.equal(out.stdout, 'user\nuser\ngone\n');
  });

  it('a failing RUN shows its output, publishes nothing and leaves no mount or scratch dir', async () => {
    const dockerfile = 'FROM base\nRUN echo before\nRUN echo "it broke here" >&2; exit 7\n';
    const before = await readdir(join(TEST_DATA_DIR, 'templates'));
    await assert.rejects(
      Template.buildDockerfile('df-broken', { ...server.conn, dockerfile, requestTimeoutMs: 0 }),
      (err: unknown) => {
        assert.ok(err instanceof TemplateBuildError, String(err));
        assert.match(err.message, /exit code 7/);
        assert.match(err.message, /it broke here/);
        return true;
      },
    );
    assert.deepEqual(await readdir(join(TEST_DATA_DIR, 'templates')), before);
    const cache = await readdir(join(TEST_DATA_DIR, 'build-cache'));
    assert.deepEqual(
      cache.filter((n) => n.includes('.tmp-')),
      [],
    );
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(join(TEST_DATA_DIR, 'build-cache')), 'no build overlay left mounted');
    await assert.rejects(Template.get('df-broken', server.conn));
  });

  it('a bad Dockerfile is INVALID_ARGUMENT naming the line', async () => {
    const bad = async (dockerfile: string, line: number, pattern: RegExp) => {
      await assert.rejects(Template.buildDockerfile('df-bad', { ...server.conn, dockerfile }), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, String(err));
        assert.match(err.message, new RegExp(`line ${line}: `));
        assert.match(err.message, pattern);
        return true;
      });
    };
    await bad('FROM base\n\nFROBNICATE now\n', 3, /unknown instruction FROBNICATE/);
    await bad('FROM base\nADD https://example.com/x.tar /x\n', 2, /network/);
    await bad('FROM base\nCOPY ../outside /x\n', 2, /outside the build context/);
  });

  it('the build request is validated: one of spec or dockerfile, base64 context, ARG names', async () => {
    const post = async (body: unknown) => {
      const res = await fetch(`${server.conn.apiUrl}/v1/templates`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.conn.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { code?: string; message?: string } };
    };
    const both = await post({ name: 'x', spec: {}, dockerfile: 'FROM base' });
    assert.equal(both.status, 400);
    assert.equal(both.body.code, 'INVALID_ARGUMENT');
    assert.match(both.body.message ?? '', /exactly one of spec or dockerfile/);
    assert.equal((await post({ name: 'x' })).status, 400);
    const badData = await post({ name: 'x', dockerfile: 'FROM base', context: { a: { data: '%%%' } } });
    assert.equal(badData.status, 400);
    const badArg = await post({ name: 'x', dockerfile: 'FROM base', buildArgs: { 'no-dash': '1' } });
    assert.equal(badArg.status, 400);
    assert.match(badArg.body.message ?? '', /buildArgs.no-dash/);
  });
});

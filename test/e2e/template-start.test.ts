/**
 * Template start commands and ready checks on real crun sandboxes. The templates are the
 * prebuilt base (python3, bash) plus a `start`: `start` changes only a template's meta, so each
 * is made by hard-linking the base's rootfs under its own spec hash (what a build of that spec
 * would produce), then registered through the real build endpoint, which finds it cached.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { TemplateSpecInput, TemplateStart } from '@paddock/protocol';
import { InvalidArgumentError, Sandbox, Template, TemplateStartError } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import { BUILTIN_SPECS_DIR } from '../../packages/server/src/templates/builtin.js';
import { parseTemplateSpec, specHash } from '../../packages/server/src/templates/spec.js';
import { runCli } from '../support/cli.js';
import { TEST_DATA_DIR } from '../support/env.js';
import { startTestServer, type TestConnection } from '../support/server.js';

const run = promisify(execFile);
const BASE_TEXT = readFileSync(join(BUILTIN_SPECS_DIR, 'base.yaml'), 'utf8');
const BASE_SPEC = parseTemplateSpec(BASE_TEXT);
const TEMPLATES = join(TEST_DATA_DIR, 'templates');

/** Python's own HTTP server on the sandbox's loopback, started a second late so that a create that does not wait fails. */
const serve = (port: number) => `sleep 1 && exec python3 -u -m http.server ${port} --bind 127.0.0.1`;
/** A GET from inside the sandbox: prints the status. */
const fetchInside = (url: string) =>
  `python3 -c "import urllib.request; print(urllib.request.urlopen('${url}', timeout=5).status)"`;

const STARTS = {
  'start-port': { command: serve(8000), ready: { port: 8000 } },
  'start-command': {
    command: 'echo "$GREETING" > /tmp/greeting; sleep 1; touch /tmp/ready; exec sleep infinity',
    ready: { command: 'test -f /tmp/ready' },
  },
  'start-url': { command: serve(8001), ready: { url: 'http://localhost:8001/' } },
  'start-exits': { command: "echo booting; echo 'fatal: no config file' >&2; exit 1", ready: { port: 8002 } },
  'start-never': { command: 'echo waiting forever; exec sleep infinity', ready: { port: 8003, timeoutMs: 1500 } },
} satisfies Record<string, TemplateStart>;
type Name = keyof typeof STARTS;

function specOf(name: Name): TemplateSpecInput {
  return { ...BASE_SPEC, start: STARTS[name] };
}

/** Makes the built template of `spec` from the base's files, as a build would leave it (atomic rename). */
async function linkFromBase(spec: TemplateSpecInput): Promise<void> {
  const hash = specHash(parseTemplateSpec(JSON.stringify(spec)));
  const dir = join(TEMPLATES, hash);
  if (await stat(join(dir, 'meta.json')).catch(() => undefined)) return;
  const base = join(TEMPLATES, specHash(BASE_SPEC));
  const meta = JSON.parse(await readFile(join(base, 'meta.json'), 'utf8')) as Record<string, unknown>;
  const scratch = `${dir}.tmp-${process.pid.toString(16)}`;
  await mkdir(scratch);
  await run('cp', ['-al', join(base, 'rootfs'), join(scratch, 'rootfs')]);
  await writeFile(join(scratch, 'meta.json'), JSON.stringify({ ...meta, specHash: hash, start: spec.start }));
  await rename(scratch, dir);
}

let server: RunningServer;
let conn: TestConnection;
const made: Sandbox[] = [];

async function create(name: Name, opts: Parameters<typeof Sandbox.create>[0] = {}): Promise<Sandbox> {
  const sbx = await Sandbox.create({ ...conn, template: name, ...opts });
  made.push(sbx);
  return sbx;
}

/** The create's typed error (it must fail). */
async function createFails(name: Name): Promise<TemplateStartError> {
  const err = await Sandbox.create({ ...conn, template: name }).then(
    (sbx) => {
      made.push(sbx);
      throw new Error(`the create of ${name} succeeded`);
    },
    (e: unknown) => e,
  );
  assert.ok(err instanceof TemplateStartError, `not a TemplateStartError: ${String(err)}`);
  return err;
}

/** Sandboxes of the template in any live state, as the service sees them. */
function liveOf(name: Name): string[] {
  return server.service.list().flatMap((r) => (r.template === name ? [r.id] : []));
}

before(async () => {
  ({ server, conn } = await startTestServer());
  for (const name of Object.keys(STARTS) as Name[]) {
    await linkFromBase(specOf(name));
    const { cached } = await Template.build(name, specOf(name), conn);
    assert.equal(cached, true);
  }
});

after(async () => {
  await Promise.allSettled(made.map((s) => s.kill()));
  try {
    for (const name of Object.keys(STARTS)) await Template.remove(name, conn).catch(() => {});
  } finally {
    await server?.close();
  }
});

describe('template start commands', () => {
  it('shows start in GET /v1/templates/:name and `paddock template ls --json`', async () => {
    assert.deepEqual((await Template.get('start-port', conn)).start, STARTS['start-port']);
    const ls = await runCli(['template', 'ls', '--json'], {
      env: { PADDOCK_URL: conn.apiUrl, PADDOCK_API_KEY: conn.apiKey },
    });
    assert.equal(ls.code, 0, ls.stderr);
    const listed = (JSON.parse(ls.stdout) as { name: string; start?: unknown }[]).find((t) => t.name === 'start-url');
    assert.deepEqual(listed?.start, STARTS['start-url']);
  });

  it('ready.port: right after create a command in the sandbox reaches the port', async () => {
    const sbx = await create('start-port');
    const got = await sbx.commands.run(fetchInside('http://127.0.0.1:8000/'));
    assert.equal(got.stdout.trim(), '200');
  });

  it('the start process is an ordinary background process: listed, as the template user, output readable', async () => {
    const sbx = await create('start-port');
    const processes = await sbx.commands.list();
    const started = processes.find((p) => p.cmd === STARTS['start-port'].command);
    assert.ok(started, `no start process in ${JSON.stringify(processes)}`);
    assert.equal(started.running, true);
    assert.equal(started.background, true);
    assert.equal(started.user, 'user');
    assert.equal(started.cwd, '/home/user');
    const handle = await sbx.commands.connect(started.id);
    let output = '';
    const stop = new AbortController();
    await assert.rejects(async () => {
      for await (const event of handle.events(0, stop.signal)) {
        if (event.type === 'stdout') output += event.data;
        if (output.includes('Serving HTTP on 127.0.0.1 port 8000')) stop.abort(new Error('seen'));
      }
    }, /seen/);
  });

  it("ready.command: runs until it exits 0; the start command gets the create's env", async () => {
    const sbx = await create('start-command', { env: { GREETING: 'hello from create' } });
    const ready = await sbx.commands.run('test -f /tmp/ready && cat /tmp/greeting');
    assert.equal(ready.stdout.trim(), 'hello from create');
  });

  it('ready.url: an HTTP GET inside the sandbox answers before create returns', async () => {
    const sbx = await create('start-url');
    const got = await sbx.commands.run(fetchInside('http://localhost:8001/'));
    assert.equal(got.stdout.trim(), '200');
  });

  it('a start command that exits fails the create with its output, and leaves no sandbox', async () => {
    const began = Date.now();
    const err = await createFails('start-exits');
    assert.equal(err.code, 'TEMPLATE_START_FAILED');
    assert.equal(err.status, 422);
    assert.match(err.message, /template 'start-exits': its start command exited with code 1/);
    assert.match(err.message, /fatal: no config file/);
    assert.equal(err.details?.template, 'start-exits');
    assert.equal(err.details?.reason, 'exited');
    assert.deepEqual(err.details?.output, ['booting', 'fatal: no config file']);
    assert.deepEqual(liveOf('start-exits'), []);
    const killed = server.service
      .list({ states: ['killed', 'error'] })
      .filter((r) => r.template === 'start-exits' && r.createdAtMs >= began);
    assert.equal(killed.length, 1);
    assert.equal(killed[0]?.reasonCode, 'start_failed');
  });

  it('a ready check that never passes times out after ready.timeoutMs, and leaves no sandbox', async () => {
    const began = Date.now();
    const err = await createFails('start-never');
    assert.ok(Date.now() - began >= 1500, 'failed before the timeout');
    assert.equal(err.details?.reason, 'timeout');
    assert.equal(err.details?.timeoutMs, 1500);
    assert.match(err.message, /not ready within 1500 ms/);
    assert.deepEqual(err.details?.output, ['waiting forever']);
    assert.deepEqual(liveOf('start-never'), []);
  });

  it('a pooled spare waits for readiness while it is made, and a claimed one is ready at once', async () => {
    // The warm pool's own boot of a spare (WarmPool.fill does exactly this).
    const spare = await server.service.boot(server.service.resolveShape({ template: 'start-port' }), undefined);
    try {
      assert.equal(spare.pooled, true);
      const sbx = await create('start-port');
      assert.equal(sbx.id, spare.id, 'the create did not claim the spare');
      const got = await sbx.commands.run(fetchInside('http://127.0.0.1:8000/'));
      assert.equal(got.stdout.trim(), '200');
    } finally {
      await server.service.kill(spare.id);
    }
  });

  it('a resume whose processes restarted (hibernated without memory) starts the command again and waits', async () => {
    const sbx = await create('start-port');
    await sbx.hibernate({ keepMemory: false });
    const info = await sbx.resume();
    assert.equal(info.processesRestarted, true);
    const got = await sbx.commands.run(fetchInside('http://127.0.0.1:8000/'));
    assert.equal(got.stdout.trim(), '200');
  });

  it('names start.ready when a build gives two checks or none', async () => {
    for (const ready of [{ port: 1, command: 'true' }, { timeoutMs: 10 }]) {
      const err = await Template.build('start-bad', { start: { command: 'true', ready } }, conn).catch((e) => e);
      assert.ok(err instanceof InvalidArgumentError, String(err));
      assert.match(err.message, /`spec\.start\.ready`: give exactly one of command, port or url/);
    }
  });
});

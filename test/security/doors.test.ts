// Threat table, "every door checks credentials before it acts": the E2B code interpreter's
// contexts, waking a paused sandbox, the CLI's read-only commands, and what the exposed-port
// proxy lets through to the sandbox's own server.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Sandbox as E2bSandbox } from '@e2b/code-interpreter';
import { Sandbox, type SandboxInfo } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import { runCli } from '../support/cli.js';
import { type HttpAnswer as Answer, loopbackRequest } from '../support/http-request.js';
import { WEB_SERVER_SOURCE, webServerCommand } from '../support/sandbox-web-server.js';
import { startTestServer, type TestConnection, waitFor } from '../support/server.js';

// One key in E2B's format serves both SDKs (the E2B Python SDK insists on `e2b_<hex>`).
const API_KEY = `e2b_${randomBytes(20).toString('hex')}`;
const CI_PORT = '49999';
const ENVD_PORT = '49983';

let server: RunningServer;
let conn: TestConnection;
let serverPort: number;
let cliEnv: Record<string, string>;
const made: string[] = [];

before(async () => {
  ({ server, conn } = await startTestServer({ apiKey: API_KEY }));
  serverPort = Number(new URL(server.url).port);
  process.env.E2B_API_URL = server.url;
  process.env.E2B_SANDBOX_URL = server.url;
  process.env.E2B_DOMAIN = `localhost:${serverPort}`;
  process.env.E2B_API_KEY = API_KEY;
  cliEnv = { PADDOCK_URL: conn.apiUrl, PADDOCK_API_KEY: API_KEY };
});

after(async () => {
  await Promise.allSettled(made.map((id) => Sandbox.kill(id, conn)));
  await server?.close();
});

async function sandbox(opts: Parameters<typeof Sandbox.create>[0] = {}): Promise<Sandbox> {
  const sbx = await Sandbox.create({ ...conn, ...opts });
  made.push(sbx.id);
  return sbx;
}

/** One raw request to the server, addressed to a sandbox port by E2B's routing headers. */
function toPort(
  sandboxId: string,
  port: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const headers = {
    'content-type': 'application/json',
    'e2b-sandbox-id': sandboxId,
    'e2b-sandbox-port': port,
    ...init.headers,
  };
  return loopbackRequest(serverPort, path, headers, init);
}

/** The sandbox's envdAccessToken, read from the E2B control plane (which resumes nothing). */
async function envdTokenOf(sandboxId: string): Promise<string> {
  const res = await fetch(`${server.url}/sandboxes/${sandboxId}`, { headers: { 'x-api-key': API_KEY } });
  assert.equal(res.status, 200);
  return ((await res.json()) as { envdAccessToken: string }).envdAccessToken;
}

async function stateOf(sandboxId: string): Promise<SandboxInfo['state']> {
  return (await Sandbox.handle(sandboxId, conn).getInfo()).state;
}

describe('every door checks credentials before it acts', () => {
  test('a stranger who knows a sandbox id cannot list, create, restart or remove its code contexts', {
    timeout: 180_000,
  }, async () => {
    const e2b = await E2bSandbox.create({ timeoutMs: 300_000 });
    made.push(e2b.sandboxId);
    const id = e2b.sandboxId;
    const other = await sandbox();
    const otherToken = await envdTokenOf(other.id);
    // The unmodified SDK sends its traffic token on /contexts and its access token on /execute.
    const context = await e2b.createCodeContext();
    await e2b.runCode('kept = 42', { context });
    const contextsBefore = (await e2b.listCodeContexts()).map((c) => c.id).sort();

    const strangers: Record<string, Record<string, string>> = {
      'no credential': {},
      'a wrong access token': { 'x-access-token': 'not-the-token' },
      "another sandbox's access token": { 'x-access-token': otherToken },
      'a wrong traffic token': { 'e2b-traffic-access-token': 'not-the-token' },
      "another sandbox's access token as traffic token": { 'e2b-traffic-access-token': otherToken },
      'an empty access token': { 'x-access-token': '' },
    };
    for (const [who, headers] of Object.entries(strangers)) {
      const calls: [string, string, string?][] = [
        ['GET', '/contexts'],
        ['POST', '/contexts', JSON.stringify({ language: 'python' })],
        ['POST', `/contexts/${context.id}/restart`],
        ['DELETE', `/contexts/${context.id}`],
        ['POST', '/execute', JSON.stringify({ code: 'kept = 0', context_id: context.id })],
      ];
      for (const [method, path, body] of calls) {
        const answer = await toPort(id, CI_PORT, path, { method, headers, ...(body ? { body } : {}) });
        assert.equal(answer.status, 401, `${method} ${path} with ${who}: ${answer.body}`);
        assert.match(answer.body, /X-Access-Token|E2B-Traffic-Access-Token/, 'the answer names the credential');
      }
    }
    // Nothing the strangers sent happened: the context is there with its state.
    const contextsAfter = (await e2b.listCodeContexts()).map((c) => c.id).sort();
    assert.deepEqual(contextsAfter, contextsBefore, 'no context was added or removed');
    assert.equal((await e2b.runCode('kept', { context })).text, '42');

    // The real SDK still does all of it with what the control plane gave it.
    await e2b.restartCodeContext(context);
    assert.equal((await e2b.runCode('kept', { context })).error?.name, 'NameError');
    await e2b.removeCodeContext(context);
    assert.ok(!(await e2b.listCodeContexts()).some((c) => c.id === context.id));
    // Paddock's own access token opens /contexts too (for clients other than the JS SDK).
    const token = await envdTokenOf(id);
    assert.equal((await toPort(id, CI_PORT, '/contexts', { headers: { 'x-access-token': token } })).status, 200);
  });

  test('a request without credentials cannot wake a paused autoResume sandbox (envd, code interpreter, ports)', {
    timeout: 120_000,
  }, async () => {
    const sbx = await sandbox({ autoResume: true });
    const token = await envdTokenOf(sbx.id);
    await sbx.pause();
    const retention = (await sbx.getInfo()).expiresAt;

    const knocks: [string, string, string, Record<string, string>, number][] = [
      ['envd health', ENVD_PORT, '/health', {}, 502],
      ['envd health, wrong token', ENVD_PORT, '/health', { 'x-access-token': 'nope' }, 502],
      ['envd RPC', ENVD_PORT, '/filesystem.Filesystem/Stat', {}, 401],
      ['envd files', ENVD_PORT, '/files?path=/etc/hostname', {}, 401],
      ['code interpreter contexts', CI_PORT, '/contexts', {}, 401],
      ['code interpreter health', CI_PORT, '/health', {}, 502],
      ['exposed port without a token', '3000', '/', {}, 401],
    ];
    for (const [door, port, path, headers, status] of knocks) {
      const method = path.includes('.Filesystem/') ? 'POST' : 'GET';
      const answer = await toPort(sbx.id, port, path, {
        method,
        headers,
        ...(method === 'POST' ? { body: '{}' } : {}),
      });
      assert.equal(answer.status, status, `${door}: ${answer.body}`);
      assert.equal(await stateOf(sbx.id), 'paused', `${door} must not resume the sandbox`);
    }
    assert.equal((await sbx.getInfo()).expiresAt, retention, 'the retention is untouched');

    // With the sandbox's token the same door resumes it (autoResume is the creator's choice).
    const woken = await toPort(sbx.id, ENVD_PORT, '/health', { headers: { 'x-access-token': token } });
    assert.equal(woken.status, 204);
    assert.equal(await stateOf(sbx.id), 'running');
  });

  test('the CLI never resumes a paused sandbox unasked, so no command cuts its retention short', {
    timeout: 120_000,
  }, async () => {
    const [manual, auto] = await Promise.all([sandbox(), sandbox({ autoResume: true })]);
    const started = await manual.commands.run('echo hi', { background: true });
    await Promise.all([manual.pause(), auto.pause()]);
    const retention = (await manual.getInfo()).expiresAt;
    const autoRetention = (await auto.getInfo()).expiresAt;

    const got = await runCli(['sandbox', 'get', manual.id, '--json'], { env: cliEnv });
    assert.equal(got.code, 0, got.stderr);
    assert.equal((JSON.parse(got.stdout) as SandboxInfo).state, 'paused');
    const hint = new RegExp(`paddock sandbox resume ${manual.id}`);
    for (const args of [
      ['ps', manual.id],
      ['logs', manual.id, started.id],
      ['sandbox', 'set-timeout', manual.id, '1m'],
      ['exec', manual.id, '--', 'true'],
      ['run-code', manual.id],
    ]) {
      const answer = await runCli(args, { env: cliEnv });
      assert.notEqual(answer.code, 0, `${args.join(' ')} on a paused sandbox must fail`);
      assert.match(answer.stderr, hint, `${args.join(' ')} says how to resume`);
      assert.equal(await stateOf(manual.id), 'paused', `${args.join(' ')} must not resume it`);
    }
    assert.equal((await manual.getInfo()).expiresAt, retention, 'the retention is untouched');

    // autoResume lets calls that need a running sandbox resume it; reading never does.
    for (const args of [
      ['sandbox', 'get', auto.id],
      ['ps', auto.id],
      ['sandbox', 'set-timeout', auto.id, '1m'],
    ]) {
      await runCli(args, { env: cliEnv });
      assert.equal(await stateOf(auto.id), 'paused', `${args.join(' ')} must not resume an autoResume sandbox`);
    }
    assert.equal((await auto.getInfo()).expiresAt, autoRetention);
    // A command that needs it running wakes an autoResume sandbox: the creator asked for that.
    const ran = await runCli(['exec', auto.id, '--', 'true'], { env: cliEnv });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(await stateOf(auto.id), 'running');
  });

  test("an exposed port never hands the server's API key or E2B credentials to the sandbox's server", {
    timeout: 120_000,
  }, async () => {
    const sbx = await sandbox();
    await sbx.files.write('/tmp/web-server.cjs', WEB_SERVER_SOURCE);
    await sbx.commands.run(webServerCommand('/tmp/web-server.cjs', 3000), { background: true });
    await waitFor('port 3000 to listen', async () =>
      (await sbx.ports.list()).some((p) => p.port === 3000 && p.listening) ? true : undefined,
    );
    const access = await sbx.ports.access(3000);
    const envdToken = await envdTokenOf(sbx.id);
    const secrets = [API_KEY, envdToken, access.token, 'traffic-secret'];
    const sent: Record<string, string>[] = [
      // A client with a default bearer (the SDK's own key) calling a preview URL by Host.
      { host: access.host, authorization: `Bearer ${API_KEY}`, 'x-paddock-token': access.token },
      { host: access.host, 'x-api-key': API_KEY, cookie: `paddock_token=${access.token}; app=1` },
      // Routed by E2B's headers, with every credential the E2B SDKs carry.
      {
        'e2b-sandbox-id': sbx.id,
        'e2b-sandbox-port': '3000',
        'x-access-token': envdToken,
        'e2b-traffic-access-token': 'traffic-secret',
        'x-paddock-token': access.token,
        authorization: `bearer  ${API_KEY} `,
      },
    ];
    for (const headers of sent) {
      const path = `/hello?paddock_token=${access.token}&keep=1`;
      const answer = await loopbackRequest(serverPort, path, headers);
      assert.equal(answer.status, 200, answer.body);
      const seen = JSON.parse(answer.body) as { url: string; headers: Record<string, string> };
      for (const secret of secrets)
        assert.ok(!answer.body.includes(secret), `the sandbox saw a credential: ${answer.body}`);
      assert.equal(seen.url, '/hello?keep=1');
      for (const name of Object.keys(seen.headers)) assert.doesNotMatch(name, /^(e2b-|x-paddock-|x-access-token)/);
    }
    // The app's own credentials are its business: they pass untouched.
    const ownHeaders = { host: access.host, 'x-paddock-token': access.token, authorization: 'Bearer app-token' };
    const own = await loopbackRequest(serverPort, '/hello', ownHeaders);
    assert.equal(
      (JSON.parse(own.body) as { headers: Record<string, string> }).headers.authorization,
      'Bearer app-token',
    );
  });
});

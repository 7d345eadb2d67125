// Threat table, "what crosses the boundary": secret values on the wire (only over TLS unless a
// secret opts in, only in the headers it is pinned to), env that cannot be an environment (NUL,
// bad names) refused where it enters, and E2B signed file URLs acting as the user they were
// signed for. Secrets go to a fake internet in a namespace this test builds; nothing else
// leaves loopback.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Sandbox as E2bCodeSandbox } from '@e2b/code-interpreter';
import { Sandbox } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import { Sandbox as E2bSandbox } from 'e2b';
import { type FakeInternet, startFakeInternet } from '../support/fake-internet.js';
import { startTestServer, type TestConnection } from '../support/server.js';

// E2B's key format, so that both the Paddock and the E2B SDKs can use it.
const API_KEY = `e2b_${randomBytes(20).toString('hex')}`;
const BASIC_ROOT = `Basic ${Buffer.from('root:').toString('base64')}`;
const VALUES = { tlsOnly: 'sk-tls-only-5b1e', insecure: 'sk-cleartext-ok-77a0', pinned: 'sk-pinned-c3d9' };

let fake: FakeInternet;
let server: RunningServer;
let conn: TestConnection;
/** A Paddock sandbox with secrets and an allowlist towards the fake internet. */
let sbx: Sandbox;
/** A sandbox made through the unmodified E2B SDK (it has an envdAccessToken). */
let e2b: E2bSandbox;
const made: string[] = [];

before(async () => {
  fake = await startFakeInternet();
  ({ server, conn } = await startTestServer({
    apiKey: API_KEY,
    network: { uplink: fake.uplink, dnsUpstreams: [fake.dnsAddress] },
    egressProxy: { caFile: fake.caFile },
  }));
  process.env.E2B_API_URL = server.url;
  process.env.E2B_SANDBOX_URL = server.url;
  process.env.E2B_DOMAIN = `localhost:${new URL(server.url).port}`;
  process.env.E2B_API_KEY = API_KEY;
  sbx = await Sandbox.create({
    ...conn,
    network: { egress: 'allowlist', allow: ['api.allowed.test'] },
    secrets: {
      TLS_ONLY: { value: VALUES.tlsOnly, hosts: ['api.allowed.test'] },
      INSECURE_OK: { value: VALUES.insecure, hosts: ['api.allowed.test'], allowInsecureHttp: true },
      PINNED: { value: VALUES.pinned, hosts: ['api.allowed.test'], headers: ['Authorization'] },
    },
  });
  made.push(sbx.id);
  await sbx.files.write('/tmp/echo.py', ECHO);
  e2b = await E2bSandbox.create({ timeoutMs: 600_000 });
  made.push(e2b.sandboxId);
});

after(async () => {
  await Promise.allSettled(made.map((id) => Sandbox.kill(id, conn)));
  await server?.close();
  await fake?.close();
});

/**
 * Sends a GET from inside the sandbox with the given headers (`$NAME` in a value is expanded
 * from the command's env, i.e. to a placeholder) and prints the headers the fake server saw.
 */
const ECHO = `
import json, os, sys, urllib.request
headers = {k: os.path.expandvars(v) for k, v in json.loads(sys.argv[2]).items()}
r = urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers=headers), timeout=10)
print(json.dumps(json.loads(r.read())['headers']))
`;

/** What the fake server received for a request from the sandbox (see ECHO). */
async function seenBy(url: string, headers: Record<string, string>): Promise<Record<string, string>> {
  const r = await sbx.commands.run(['python3', '/tmp/echo.py', url, JSON.stringify(headers)], { throwOnError: false });
  assert.equal(r.exitCode, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, string>;
}

async function placeholderOf(name: string): Promise<string> {
  const value = (await sbx.commands.run(`printf %s "$${name}"`)).stdout;
  assert.match(value, /^paddock-secret-[0-9a-f]{24}$/);
  return value;
}

/** An API answer: an error body, or a created sandbox's id. */
interface Answer {
  status: number;
  json: { code?: string; message?: string; id?: string } | undefined;
}

/** A raw Paddock API call: status and JSON body. */
async function api(method: string, path: string, body: unknown): Promise<Answer> {
  const res = await fetch(`${conn.apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** A 400 INVALID_ARGUMENT whose message names `key`. */
function assertRefused(answer: Answer, key: string, what: string): void {
  assert.equal(answer.status, 400, `${what}: ${JSON.stringify(answer.json)}`);
  assert.equal(answer.json?.code, 'INVALID_ARGUMENT', what);
  assert.ok(String(answer.json?.message).includes(key), `${what} names ${key}: ${answer.json?.message}`);
}

// ── Item 4: secrets over cleartext, and reflection ───────────────────────────────────────────

test('a secret value never goes out over plain HTTP unless its secret opts in with allowInsecureHttp', async () => {
  const tlsOnly = await placeholderOf('TLS_ONLY');
  await placeholderOf('INSECURE_OK');
  const headers = { 'X-Tls-Only': '$TLS_ONLY', 'X-Insecure-Ok': '$INSECURE_OK' };
  const plain = await seenBy('http://api.allowed.test/plain', headers);
  assert.equal(plain['x-tls-only'], tlsOnly, 'a TLS-only secret goes out over HTTP as its placeholder');
  assert.equal(plain['x-insecure-ok'], VALUES.insecure, 'allowInsecureHttp: the value over HTTP too');
  const tls = await seenBy('https://api.allowed.test/tls', headers);
  assert.equal(tls['x-tls-only'], VALUES.tlsOnly);
  assert.equal(tls['x-insecure-ok'], VALUES.insecure);
  const info = await sbx.getInfo();
  assert.deepEqual(
    info.secrets?.find((s) => s.name === 'INSECURE_OK'),
    { name: 'INSECURE_OK', hosts: ['api.allowed.test'], allowInsecureHttp: true },
  );
});

test('a secret pinned to a header is put in that header only, so a host that echoes other headers cannot hand it back', async () => {
  const pinned = await placeholderOf('PINNED');
  const seen = await seenBy('https://api.allowed.test/echo', {
    Authorization: 'Bearer $PINNED',
    'X-Echo': '$PINNED',
    Cookie: 'session=$PINNED',
    // An unpinned secret is put in any header: the reflection the docs warn about.
    'X-Unpinned': '$TLS_ONLY',
  });
  assert.equal(seen.authorization, `Bearer ${VALUES.pinned}`);
  assert.equal(seen['x-echo'], pinned);
  assert.equal(seen.cookie, `session=${pinned}`);
  assert.equal(seen['x-unpinned'], VALUES.tlsOnly);
  const info = await sbx.getInfo();
  assert.deepEqual(
    info.secrets?.find((s) => s.name === 'PINNED'),
    { name: 'PINNED', hosts: ['api.allowed.test'], headers: ['authorization'] },
  );
});

test('secret options and values that cannot be sent safely are refused at create, naming the field', async () => {
  const spec = { value: 'v', hosts: ['api.allowed.test'] };
  for (const [secret, field] of [
    [{ ...spec, headers: [] }, 'secrets.K.headers'],
    [{ ...spec, headers: ['not a header'] }, 'secrets.K.headers.0'],
    [{ ...spec, headers: ['Host'] }, 'secrets.K.headers.0'],
    [{ ...spec, headers: 'authorization' }, 'secrets.K.headers'],
    [{ ...spec, allowInsecureHttp: 'yes' }, 'secrets.K.allowInsecureHttp'],
    // A line break would let the value add headers of its own to every request it is put in.
    [{ ...spec, value: 'v\r\nX-Injected: 1' }, 'secrets.K.value'],
    [{ ...spec, value: 'v\0' }, 'secrets.K.value'],
  ] as const) {
    const answer = await api('POST', '/v1/sandboxes', { secrets: { K: secret } });
    if (answer.json?.id) made.push(answer.json.id);
    assertRefused(answer, `\`${field}\``, JSON.stringify(secret));
  }
});

// ── Item 7: env that cannot be an environment ────────────────────────────────────────────────

test('an env value with NUL or a bad env name is refused at sandbox create (API and E2B envVars), naming the key', async () => {
  for (const [env, key] of [
    [{ NUL_VALUE: 'a\0b' }, 'NUL_VALUE'],
    [{ '': 'x' }, '""'],
    [{ 'A=B': 'x' }, 'A=B'],
    [{ 'A\0B': 'x' }, 'A\\u0000B'],
  ] as const) {
    const answer = await api('POST', '/v1/sandboxes', { env });
    if (answer.json?.id) made.push(answer.json.id);
    assertRefused(answer, key, `create env ${JSON.stringify(env)}`);
    const e2bCreate = await fetch(`${server.url}/sandboxes`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ templateID: 'base', envVars: env }),
    });
    const body = (await e2bCreate.json()) as { sandboxID?: string; message?: string };
    if (body.sandboxID) made.push(body.sandboxID);
    assert.equal(e2bCreate.status, 400, `E2B create envVars ${JSON.stringify(env)}: ${JSON.stringify(body)}`);
    assert.ok(String(body.message).includes(key), `E2B create names ${key}: ${body.message}`);
  }
  // Secret names are env names too.
  const secretName = await api('POST', '/v1/sandboxes', { secrets: { 'A\0': { value: 'v', hosts: ['a.test'] } } });
  if (secretName.json?.id) made.push(secretName.json.id);
  assert.equal(secretName.status, 400);
});

test('an env value with NUL is refused for commands, processes, PTYs and code runs, naming the key, and the sandbox keeps working', async () => {
  const env = { GOOD: 'ok', BAD_KEY: 'a\0b' };
  const base = `/v1/sandboxes/${sbx.id}`;
  assertRefused(await api('POST', `${base}/commands`, { cmd: 'true', env }), 'BAD_KEY', 'commands');
  assertRefused(await api('POST', `${base}/processes`, { cmd: 'true', background: true, env }), 'BAD_KEY', 'processes');
  assertRefused(await api('POST', `${base}/pty`, { cols: 80, rows: 24, env }), 'BAD_KEY', 'pty');
  assertRefused(await api('POST', `${base}/code`, { code: '1', env }), 'BAD_KEY', 'code run');
  assertRefused(await api('POST', `${base}/commands`, { cmd: 'true', env: { 'A=B': 'x' } }), 'A=B', 'commands name');
  const after = await sbx.commands.run('printf %s "$GOOD"', { env: { GOOD: 'still fine' } });
  assert.equal(after.stdout, 'still fine');
});

test('E2B commands, PTYs and code runs refuse an env value with NUL, naming the key', async () => {
  const envs = { BAD_KEY: 'a\0b' };
  await assert.rejects(e2b.commands.run('true', { envs }), /BAD_KEY/);
  await assert.rejects(e2b.pty.create({ cols: 80, rows: 24, envs, onData: () => undefined }), /BAD_KEY/);
  // The code interpreter's /execute checks its body before it needs a kernel.
  const code = await E2bCodeSandbox.connect(e2b.sandboxId);
  await assert.rejects(code.runCode('1', { envs }), /BAD_KEY/);
  assert.equal((await e2b.commands.run('echo alive')).stdout, 'alive\n');
});

// ── Item 8: E2B signed file URLs act as the signed user ──────────────────────────────────────

/** A 0600 root file in /tmp, and a file in root's 0700 home. */
async function rootOnlyFiles(): Promise<void> {
  await e2b.commands.run(
    'umask 077; echo ROOT-ONLY-CONTENT > /tmp/root-only.txt; mkdir -p /root/private; echo hidden > /root/private/h.txt',
    { user: 'root' },
  );
}

test('a URL signed for `user` cannot read a file only root may read, even with `Authorization: Basic root:`', async () => {
  await rootOnlyFiles();
  const asUser = await e2b.downloadUrl('/tmp/root-only.txt', { user: 'user' });
  for (const headers of [{}, { authorization: BASIC_ROOT }]) {
    const res = await fetch(asUser, { headers });
    const body = await res.text();
    assert.equal(res.status, 403, `${JSON.stringify(headers)}: ${body}`);
    assert.equal(body.includes('ROOT-ONLY-CONTENT'), false);
  }
  // Behind a directory closed to `user`, a file is neither read nor confirmed to exist.
  const hidden = await fetch(await e2b.downloadUrl('/root/private/h.txt', { user: 'user' }));
  assert.equal(hidden.status, 403, await hidden.text());
  const missing = await fetch(await e2b.downloadUrl('/root/private/none.txt', { user: 'user' }));
  assert.equal(missing.status, 403, await missing.text());
  // The signature covers the user: the same URL naming root is refused.
  const swapped = new URL(asUser);
  swapped.searchParams.set('username', 'root');
  assert.equal((await fetch(swapped)).status, 401);
  // A URL signed for root reads it.
  const asRoot = await fetch(await e2b.downloadUrl('/tmp/root-only.txt', { user: 'root' }));
  assert.equal(asRoot.status, 200);
  assert.equal(await asRoot.text(), 'ROOT-ONLY-CONTENT\n');
});

test('a URL signed for `user` cannot write where only root may write, even with `Authorization: Basic root:`', async () => {
  await rootOnlyFiles();
  const form = () => {
    const f = new FormData();
    f.append('file', new Blob(['planted']), 'planted.txt');
    return f;
  };
  for (const target of ['/root/planted.txt', '/tmp/root-only.txt', '/etc/planted/deep.txt']) {
    const url = await e2b.uploadUrl(target, { user: 'user' });
    for (const headers of [{}, { authorization: BASIC_ROOT }]) {
      const res = await fetch(url, { method: 'POST', body: form(), headers });
      assert.equal(res.status, 403, `${target} ${JSON.stringify(headers)}: ${await res.text()}`);
    }
  }
  const state = await e2b.commands.run(
    'cat /tmp/root-only.txt; ls /root/planted.txt /etc/planted 2>&1 | grep -c "No such file"',
    { user: 'root' },
  );
  assert.equal(state.stdout, 'ROOT-ONLY-CONTENT\n2\n', 'nothing was written or replaced');
  // Where `user` may write, the signed upload works and the file is theirs.
  const ok = await fetch(await e2b.uploadUrl('/home/user/signed-upload.txt', { user: 'user' }), {
    method: 'POST',
    body: form(),
  });
  assert.equal(ok.status, 200, await ok.text());
  const owner = await e2b.commands.run('stat -c %U /home/user/signed-upload.txt');
  assert.equal(owner.stdout, 'user\n');
});

test('E2B file reads and writes with the access token act as the requested user, not as root', async () => {
  await rootOnlyFiles();
  await assert.rejects(e2b.files.read('/tmp/root-only.txt'), /permission denied/i);
  await assert.rejects(e2b.files.read('/tmp/root-only.txt', { user: 'user' }), /permission denied/i);
  await assert.rejects(e2b.files.write('/root/by-user.txt', 'x'), /permission denied/i);
  assert.equal(await e2b.files.read('/tmp/root-only.txt', { user: 'root' }), 'ROOT-ONLY-CONTENT\n');
  await e2b.files.write('/root/by-root.txt', 'r', { user: 'root' });
  assert.equal((await e2b.commands.run('stat -c %U /root/by-root.txt', { user: 'root' })).stdout, 'root\n');
});

// Threat table, cross-sandbox access and token misuse: every per-sandbox credential (port
// tokens, E2B access tokens) opens only its own sandbox (and port), whichever way a request
// names its target; an expired one opens nothing; no credential works at another kind of door;
// and an id that is not exactly a sandbox's reaches nothing of it. API-level threats: the
// runtime does not matter, so the sandboxes are crun ones. Each attack sits next to a control
// that the same request with the right credential or id succeeds.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Sandbox } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import Database from 'better-sqlite3';
import { PortTokens } from '../../packages/server/src/ports/port-tokens.js';
import { TEST_DATA_DIR } from '../support/env.js';
import { type HttpAnswer as Answer, loopbackRequest } from '../support/http-request.js';
import { WEB_SERVER_SOURCE, webServerCommand } from '../support/sandbox-web-server.js';
import { startTestServer, type TestConnection, waitFor } from '../support/server.js';

// One key in E2B's format serves the E2B control plane and Paddock's API alike.
const API_KEY = `e2b_${randomBytes(20).toString('hex')}`;
const ENVD = '49983';
const SECRET = `secret-of-b-${randomBytes(8).toString('hex')}`;

let server: RunningServer;
let conn: TestConnection;
let serverPort: number;
let a: Sandbox;
let b: Sandbox;
/** Port tokens: A's port 3000 and 3001, B's port 3000. */
let tokenA3000: string;
let tokenA3001: string;
let tokenB3000: string;
/** E2B envd access tokens of A and B. */
let accessA: string;
let accessB: string;
const made: Sandbox[] = [];

/** One raw request to the server (Host included, which fetch cannot set); 101 for an accepted upgrade. */
const call = (path: string, headers: Record<string, string>, opts: { method?: string; body?: string } = {}) =>
  loopbackRequest(serverPort, path, headers, opts);

const codeOf = (answer: Answer) => (JSON.parse(answer.body) as { code?: string }).code;
const hostOf = (sbx: Sandbox | string, port: number | string) =>
  `${port}-${typeof sbx === 'string' ? sbx : sbx.id}.localhost:${serverPort}`;
const WEBSOCKET = {
  connection: 'Upgrade',
  upgrade: 'websocket',
  'sec-websocket-version': '13',
  'sec-websocket-key': randomBytes(16).toString('base64'),
};

/** The ways a request can name port 3000 of `target` while carrying `token`. */
function waysToReach(target: Sandbox, token: string, port = 3000): [string, string, Record<string, string>][] {
  const host = hostOf(target, port);
  return [
    ['Host + X-Paddock-Token', '/hello', { host, 'x-paddock-token': token }],
    ['Host + ?paddock_token=', `/hello?paddock_token=${token}`, { host }],
    ['Host + paddock_token cookie', '/hello', { host, cookie: `paddock_token=${token}` }],
    [
      'X-Paddock-Sandbox/Port headers',
      '/hello',
      { 'x-paddock-sandbox': target.id, 'x-paddock-port': String(port), 'x-paddock-token': token },
    ],
    [
      'E2B routing headers',
      '/hello',
      { 'e2b-sandbox-id': target.id, 'e2b-sandbox-port': String(port), 'x-paddock-token': token },
    ],
    ['WebSocket upgrade', '/ws', { host, 'x-paddock-token': token, ...WEBSOCKET }],
  ];
}

/** The port-token signer with this server's own secret, read from its store. */
function serverSigner(): PortTokens {
  const db = new Database(join(TEST_DATA_DIR, 'paddock.db'), { readonly: true });
  try {
    const row = db.prepare("SELECT value FROM secrets WHERE name = 'port-token-hmac'").get() as { value: string };
    return new PortTokens(Buffer.from(row.value, 'hex'));
  } finally {
    db.close();
  }
}

async function accessTokenOf(sbx: Sandbox): Promise<string> {
  const res = await fetch(`${server.url}/sandboxes/${sbx.id}`, { headers: { 'x-api-key': API_KEY } });
  assert.equal(res.status, 200);
  return ((await res.json()) as { envdAccessToken: string }).envdAccessToken;
}

async function serve(sbx: Sandbox, port: number): Promise<void> {
  await sbx.commands.run(webServerCommand('/tmp/web-server.cjs', port), { background: true });
  await waitFor(`port ${port} to listen`, async () =>
    (await sbx.ports.list()).some((p) => p.port === port && p.listening) ? true : undefined,
  );
}

before(async () => {
  ({ server, conn } = await startTestServer({ apiKey: API_KEY }));
  serverPort = Number(new URL(server.url).port);
  const create = () => Sandbox.create({ ...conn, metadata: { suite: 'security-cross-sandbox' } });
  [a, b] = await Promise.all([create(), create()]);
  made.push(a, b);
  for (const sbx of [a, b]) await sbx.files.write('/tmp/web-server.cjs', WEB_SERVER_SOURCE);
  await Promise.all([serve(a, 3000), serve(a, 3001), serve(b, 3000)]);
  await b.files.write('/home/user/secret.txt', SECRET);
  [tokenA3000, tokenA3001, tokenB3000] = await Promise.all([
    a.ports.access(3000).then((p) => p.token),
    a.ports.access(3001).then((p) => p.token),
    b.ports.access(3000).then((p) => p.token),
  ]);
  [accessA, accessB] = await Promise.all([accessTokenOf(a), accessTokenOf(b)]);
});

after(async () => {
  await Promise.allSettled(made.map((s) => s.kill()));
  await server?.close();
});

describe('cross-sandbox access and token misuse', () => {
  test('a port token signed for sandbox A opens no port of sandbox B, whichever way the request names B', async () => {
    for (const [way, path, headers] of waysToReach(b, tokenA3000)) {
      const answer = await call(path, headers);
      assert.equal(answer.status, 403, `${way}: ${answer.body}`);
      assert.equal(codeOf(answer), 'PERMISSION_DENIED', way);
    }
    // Host names A (whose token it is), the headers name B: the headers win, and so does B's check.
    const mixed = await call('/hello', {
      host: hostOf(a, 3000),
      'x-paddock-sandbox': b.id,
      'x-paddock-port': '3000',
      'x-paddock-token': tokenA3000,
    });
    assert.equal(mixed.status, 403, mixed.body);
    for (const [way, path, headers] of [...waysToReach(a, tokenA3000), ...waysToReach(b, tokenB3000)]) {
      assert.ok([200, 101].includes((await call(path, headers)).status), `control: ${way} with the right token`);
    }
  });

  test('a port token for one port of a sandbox opens none of its other ports', async () => {
    for (const [way, path, headers] of waysToReach(a, tokenA3000, 3001)) {
      const answer = await call(path, headers);
      assert.equal(answer.status, 403, `${way}: ${answer.body}`);
      assert.match(answer.body, /opens port 3000/, way);
    }
    for (const [way, path, headers] of waysToReach(a, tokenA3001, 3001)) {
      assert.ok([200, 101].includes((await call(path, headers)).status), `control: ${way} with port 3001's token`);
    }
  });

  test('an expired, a re-pointed or a foreign-signed port token opens nothing', async () => {
    const signer = serverSigner();
    const expired = signer.mint({ sandboxId: a.id, port: 3000, expiresAtMs: Date.now() - 1 });
    for (const [way, path, headers] of waysToReach(a, expired)) {
      const answer = await call(path, headers);
      assert.equal(answer.status, 401, `${way}: ${answer.body}`);
      assert.match(answer.body, /expired at/, way);
    }
    // A's signature over a payload edited to name B; and B's grant signed with another secret.
    const payloadB = Buffer.from(JSON.stringify({ s: b.id, p: 3000, e: Date.now() + 60_000 })).toString('base64url');
    const repointed = tokenA3000.replace(/^pt_[^.]+/, `pt_${payloadB}`);
    const foreign = new PortTokens(randomBytes(32)).mint({
      sandboxId: b.id,
      port: 3000,
      expiresAtMs: Date.now() + 60_000,
    });
    for (const token of [repointed, foreign]) {
      for (const [way, path, headers] of waysToReach(b, token)) {
        const answer = await call(path, headers);
        assert.equal(answer.status, 401, `${way}: ${answer.body}`);
        assert.match(answer.body, /not valid/, way);
      }
    }
    // Control: the same signer, with a future expiry, makes a token that works.
    const fresh = signer.mint({ sandboxId: a.id, port: 3000, expiresAtMs: Date.now() + 60_000 });
    assert.equal((await call('/hello', { host: hostOf(a, 3000), 'x-paddock-token': fresh })).status, 200);
  });

  test("sandbox A's E2B access token opens none of B's envd: RPCs, file reads, file uploads", async () => {
    const envd = (path: string, token: string, init: { method?: string; body?: string; type?: string } = {}) =>
      call(
        path,
        {
          'e2b-sandbox-id': b.id,
          'e2b-sandbox-port': ENVD,
          'x-access-token': token,
          'content-type': init.type ?? 'application/json',
        },
        { method: init.method ?? 'POST', ...(init.body === undefined ? {} : { body: init.body }) },
      );
    const boundary = 'paddockboundary';
    const upload = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="pwned"\r\n\r\npwned\r\n--${boundary}--\r\n`;
    const attacks: [string, () => Promise<Answer>][] = [
      ['Stat RPC', () => envd('/filesystem.Filesystem/Stat', accessA, { body: JSON.stringify({ path: '/' }) })],
      [
        'Start RPC',
        () =>
          envd('/process.Process/Start', accessA, {
            body: JSON.stringify({ process: { cmd: 'touch', args: ['/home/user/pwned-by-rpc'] } }),
            type: 'application/connect+json',
          }),
      ],
      ['file read', () => envd('/files?path=/home/user/secret.txt', accessA, { method: 'GET' })],
      [
        'file upload',
        () =>
          envd('/files?path=/home/user/pwned', accessA, {
            body: upload,
            type: `multipart/form-data; boundary=${boundary}`,
          }),
      ],
    ];
    for (const [what, attack] of attacks) {
      const answer = await attack();
      assert.equal(answer.status, 401, `${what}: ${answer.body}`);
      assert.ok(!answer.body.includes(SECRET), `${what} leaked B's secret`);
    }
    const names = (await b.files.list('/home/user')).map((e) => e.name);
    assert.ok(!names.some((n) => n.startsWith('pwned')), `nothing was made in B: ${names.join(', ')}`);
    // Control: B's own token reads B's file.
    const own = await envd('/files?path=/home/user/secret.txt', accessB, { method: 'GET' });
    assert.deepEqual([own.status, own.body], [200, SECRET]);
  });

  test('no credential opens another kind of door: port and access tokens are not API keys, nor the API key a port or access token', async () => {
    const api = (headers: Record<string, string>) => call(`/v1/sandboxes/${a.id}`, headers);
    const e2bApi = (headers: Record<string, string>) => call(`/sandboxes/${a.id}`, headers);
    const envdStat = (token: string) =>
      call(
        '/filesystem.Filesystem/Stat',
        {
          'e2b-sandbox-id': a.id,
          'e2b-sandbox-port': ENVD,
          'x-access-token': token,
          'content-type': 'application/json',
        },
        { method: 'POST', body: JSON.stringify({ path: '/' }) },
      );
    const port = (token: string) => call('/hello', { host: hostOf(a, 3000), 'x-paddock-token': token });
    const refused: [string, Promise<Answer>][] = [
      ['port token as Bearer on the API', api({ authorization: `Bearer ${tokenA3000}` })],
      ['access token as X-API-Key on the API', api({ 'x-api-key': accessA })],
      ['access token as Bearer on the API', api({ authorization: `Bearer ${accessA}` })],
      ['port token as X-API-Key on the E2B API', e2bApi({ 'x-api-key': tokenA3000 })],
      ['access token as X-API-Key on the E2B API', e2bApi({ 'x-api-key': accessA })],
      ['API key as access token on envd', envdStat(API_KEY)],
      ['port token as access token on envd', envdStat(tokenA3000)],
      ['API key as port token', port(API_KEY)],
      ['access token as port token', port(accessA)],
    ];
    for (const [what, answer] of refused) assert.equal((await answer).status, 401, what);
    // Controls: each credential at its own door.
    assert.equal((await api({ 'x-api-key': API_KEY })).status, 200);
    assert.equal((await e2bApi({ 'x-api-key': API_KEY })).status, 200);
    assert.equal((await envdStat(accessA)).status, 200);
    assert.equal((await port(tokenA3000)).status, 200);
  });

  test("an id that is not exactly B's reaches nothing of B: prefixes (runsc matches ids by prefix), case, path tricks", async () => {
    const ids = [
      b.id.slice(0, 19),
      b.id.slice(0, 12),
      b.id.toUpperCase(),
      `${b.id}0`,
      `${b.id}%00`,
      `..%2F${b.id}`,
      `x%2F..%2F${b.id}`,
      encodeURIComponent(`${b.id}/`),
    ];
    const key = { 'x-api-key': API_KEY };
    for (const id of ids) {
      const attempts: [string, Promise<Answer>][] = [
        ['read a file', call(`/v1/sandboxes/${id}/files?path=/home/user/secret.txt`, key)],
        ['pause', call(`/v1/sandboxes/${id}/pause`, key, { method: 'POST' })],
        ['kill', call(`/v1/sandboxes/${id}`, key, { method: 'DELETE' })],
        ['E2B kill', call(`/sandboxes/${id}`, key, { method: 'DELETE' })],
        ['E2B pause', call(`/sandboxes/${id}/pause`, key, { method: 'POST' })],
      ];
      for (const [what, attempt] of attempts) {
        const answer = await attempt;
        assert.equal(answer.status, 404, `${what} of ${id}: ${answer.status} ${answer.body}`);
        assert.ok(!answer.body.includes(SECRET), `${what} of ${id} leaked B's secret`);
      }
    }
    // Port traffic by Host or header with a prefix of B's id (and B's own token) is not B's.
    for (const id of [b.id.slice(0, 19), b.id.slice(0, 12)]) {
      for (const headers of [
        { host: hostOf(id, 3000), 'x-paddock-token': tokenB3000 },
        { 'x-paddock-sandbox': id, 'x-paddock-port': '3000', 'x-paddock-token': tokenB3000 },
        { 'e2b-sandbox-id': id, 'e2b-sandbox-port': ENVD, 'x-access-token': accessB },
      ]) {
        const answer = await call('/hello', headers);
        assert.notEqual(answer.status, 200, `${JSON.stringify(headers)}: ${answer.body}`);
        assert.ok([404, 502].includes(answer.status), `${JSON.stringify(headers)}: ${answer.status} ${answer.body}`);
      }
    }
    // Control: B is untouched and its exact id still works.
    assert.equal((await b.getInfo()).state, 'running');
    assert.equal(await b.files.read('/home/user/secret.txt'), SECRET);
  });
});

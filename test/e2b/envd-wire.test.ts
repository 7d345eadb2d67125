import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Sandbox as PaddockSandbox } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
// The real, unmodified SDK, pinned in the root package.json: e2b 2.51.0, configured only by
// the E2B_* environment variables set in before().
import { Sandbox } from 'e2b';
import { startTestServer, type TestConnection, waitFor } from '../support/server.js';

const PINNED = { e2b: '2.51.0' } as const;
const API_KEY = `e2b_${randomBytes(20).toString('hex')}`;

let server: RunningServer;
let conn: TestConnection;
let sbx: Sandbox;
let token: string;
/** Ids of every sandbox made here: killed through the current server (it restarts mid-file). */
const made: string[] = [];

function useServer(running: RunningServer): void {
  server = running;
  process.env.E2B_API_URL = server.url;
  process.env.E2B_SANDBOX_URL = server.url;
  process.env.E2B_DOMAIN = `localhost:${new URL(server.url).port}`;
  process.env.E2B_API_KEY = API_KEY;
}

/** A raw envd request, routed by the E2B headers as the SDK routes it. */
async function envd(
  path: string,
  init: { body?: RequestInit['body']; headers?: Record<string, string>; method?: string; id?: string } = {},
) {
  const res = await fetch(`${server.url}${path}`, {
    method: init.method ?? 'POST',
    headers: { 'e2b-sandbox-id': init.id ?? sbx.sandboxId, 'e2b-sandbox-port': '49983', ...init.headers },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, type: res.headers.get('content-type'), text, json };
}

const unary = (method: string, body: unknown, headers: Record<string, string> = { 'x-access-token': token }) =>
  envd(`/${method}`, { body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

before(async () => {
  let conn0: TestConnection;
  ({ server, conn: conn0 } = await startTestServer({ apiKey: API_KEY }));
  conn = conn0;
  useServer(server);
  sbx = await Sandbox.create({ timeoutMs: 600_000 });
  made.push(sbx.sandboxId);
  token = (sbx as unknown as { envdAccessToken: string }).envdAccessToken;
});

after(async () => {
  for (const id of made) await server.service.kill(id).catch(() => undefined);
  await server?.close();
});

describe(`envd on the wire (Connect JSON, e2b ${PINNED.e2b} semantics)`, () => {
  it('requires the access token on RPCs, not on /health', async () => {
    const none = await unary('filesystem.Filesystem/Stat', { path: '/' }, {});
    assert.deepEqual([none.status, none.json?.code], [401, 'unauthenticated']);
    const wrong = await unary('filesystem.Filesystem/Stat', { path: '/' }, { 'x-access-token': 'nope' });
    assert.deepEqual([wrong.status, wrong.json?.code], [401, 'unauthenticated']);
    assert.equal((await envd('/health', { method: 'GET' })).status, 204);
    assert.equal((await envd('/files?path=/etc/hostname', { method: 'GET' })).status, 401);
  });

  it('answers Connect JSON errors for bad calls', async () => {
    const bad = await envd('/filesystem.Filesystem/Stat', {
      body: '{not json',
      headers: { 'content-type': 'application/json', 'x-access-token': token },
    });
    assert.deepEqual([bad.status, bad.json?.code], [400, 'invalid_argument']);
    const missing = await unary('filesystem.Filesystem/Stat', { path: '/no/such/file' });
    assert.deepEqual([missing.status, missing.json?.code], [404, 'not_found']);
    assert.equal(missing.type, 'application/json');
    const notDir = await unary('filesystem.Filesystem/ListDir', { path: '/etc/hostname' });
    assert.deepEqual([notDir.status, notDir.json?.code], [400, 'invalid_argument']);
    const unknownMethod = await unary('filesystem.Filesystem/Chmod', {});
    assert.deepEqual([unknownMethod.status, unknownMethod.json?.code], [501, 'unimplemented']);
    const streamInput = await unary('process.Process/StreamInput', {});
    assert.deepEqual([streamInput.status, streamInput.json?.code], [501, 'unimplemented']);
    assert.match(String(streamInput.json?.message), /SendInput/);
    const noSelector = await unary('process.Process/SendSignal', { signal: 'SIGNAL_SIGKILL' });
    assert.deepEqual([noSelector.status, noSelector.json?.code], [400, 'invalid_argument']);
    const noCmd = await envd('/process.Process/Start', {
      body: Buffer.concat([Buffer.from([0, 0, 0, 0, 2]), Buffer.from('{}')]),
      headers: { 'content-type': 'application/connect+json', 'x-access-token': token },
    });
    // A stream's errors travel in its end-stream envelope (flag 0x02), with HTTP 200.
    assert.equal(noCmd.status, 200);
    assert.equal(noCmd.type, 'application/connect+json');
    const raw = Buffer.from(noCmd.text);
    assert.equal(raw.readUInt8(0), 2);
    const trailer = JSON.parse(raw.subarray(5).toString()) as { error: { code: string; message: string } };
    assert.equal(trailer.error.code, 'invalid_argument');
    assert.match(trailer.error.message, /process\.cmd/);
  });

  it('answers bad /files requests with {code, message} JSON', async () => {
    const auth = { 'x-access-token': token };
    const noPath = await envd('/files', { method: 'GET', headers: auth });
    assert.deepEqual([noPath.status, noPath.json?.code], [400, 400]);
    const dir = await envd('/files?path=/etc', { method: 'GET', headers: auth });
    assert.deepEqual([dir.status, dir.json?.code], [400, 400]);
    const missing = await envd('/files?path=/no/such', { method: 'GET', headers: auth });
    assert.deepEqual([missing.status, missing.json?.code], [404, 404]);
    const form = new FormData();
    form.append('other', new Blob(['x']), 'x.txt');
    const noFilePart = await envd('/files', { body: form, headers: auth });
    assert.deepEqual([noFilePart.status, noFilePart.json?.code], [400, 400]);
    const twice = new FormData();
    twice.append('file', new Blob(['1']), '/tmp/same.txt');
    twice.append('file', new Blob(['2']), '/tmp/same.txt');
    const dup = await envd('/files', { body: twice, headers: auth });
    assert.deepEqual([dup.status, dup.json?.code], [400, 400]);
    const rawNoPath = await envd('/files', {
      body: 'x',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
    });
    assert.deepEqual([rawNoPath.status, rawNoPath.json?.code], [400, 400]);
    const signedNowhere = await fetch(`${server.url}/files?path=/etc/hostname&signature=v1_bogus`);
    assert.equal(signedNowhere.status, 401);
  });

  it('serves the polled watcher of the Python sync SDK (CreateWatcher, GetWatcherEvents, RemoveWatcher)', {
    timeout: 60_000,
  }, async () => {
    await sbx.files.makeDir('/home/user/polled');
    const created = await unary('filesystem.Filesystem/CreateWatcher', { path: '/home/user/polled' });
    assert.equal(created.status, 200);
    const watcherId = String(created.json?.watcherId);
    await sbx.files.write('/home/user/polled/p.txt', 'p');
    const events = await waitFor('polled event', async () => {
      const res = await unary('filesystem.Filesystem/GetWatcherEvents', { watcherId });
      const list = (res.json?.events ?? []) as { name: string; type: string }[];
      return list.length > 0 ? list : undefined;
    });
    assert.deepEqual(events[0], { name: 'p.txt', type: 'EVENT_TYPE_CREATE' });
    assert.equal((await unary('filesystem.Filesystem/RemoveWatcher', { watcherId })).status, 200);
    const gone = await unary('filesystem.Filesystem/GetWatcherEvents', { watcherId });
    assert.deepEqual([gone.status, gone.json?.code], [404, 'not_found']);
  });

  it('answers 502 for unknown sandboxes (isRunning → false)', async () => {
    const gone = await envd('/health', { method: 'GET', id: 'nosuchsandbox' });
    assert.deepEqual([gone.status, gone.json?.code, gone.json?.sandboxId], [502, 502, 'nosuchsandbox']);
  });

  it('ends a command at its timeoutMs (Connect-Timeout-Ms is the process lifetime)', { timeout: 60_000 }, async () => {
    const started = Date.now();
    await assert.rejects(sbx.commands.run('sleep 30', { timeoutMs: 1_500 }));
    assert.ok(Date.now() - started < 20_000);
    await waitFor('timed-out process gone', async () =>
      (await sbx.commands.list()).some((p) => p.args.includes('sleep 30')) ? undefined : true,
    );
  });
});

describe('getHost URLs reach the sandbox through the exposed-port proxy', () => {
  it('serves a sandbox port by Host <port>-<id>.<domain>', { timeout: 60_000 }, async () => {
    await sbx.files.write('/home/user/www/index.html', 'hello from port 8000');
    await sbx.commands.run('cd /home/user/www && python3 -m http.server 8000 --bind 127.0.0.1', { background: true });
    // E2B-created sandboxes serve every port without a token (E2B's allowPublicTraffic default).
    const host = sbx.getHost(8000);
    assert.equal(host, `8000-${sbx.sandboxId}.localhost:${new URL(server.url).port}`);
    const body = await waitFor('http.server up', async () => {
      const { status, text } = await getByHost(host);
      return status === 200 ? text : undefined;
    });
    assert.equal(body, 'hello from port 8000');
  });

  it('keeps ports behind tokens with allowPublicTraffic: false', { timeout: 60_000 }, async () => {
    const closed = await Sandbox.create({ network: { allowPublicTraffic: false } });
    made.push(closed.sandboxId);
    await closed.commands.run('python3 -m http.server 8000 --bind 127.0.0.1', { background: true });
    const paddock = await PaddockSandbox.connect(closed.sandboxId, conn);
    const list = await waitFor('http.server up', async () => {
      const ports = await paddock.ports.list();
      return ports.some((p) => p.port === 8000) ? ports : undefined;
    });
    assert.equal(list.find((p) => p.port === 8000)?.public, false);
    assert.equal((await getByHost(closed.getHost(8000))).status, 401);
  });
});

describe('fork through E2B (gVisor sandboxes)', () => {
  it('forks a running gVisor sandbox into a copy with the same files', { timeout: 180_000 }, async () => {
    const parent = await PaddockSandbox.create({ ...conn, isolation: 'gvisor' });
    made.push(parent.id);
    await parent.files.write('/home/user/f.txt', 'forked');
    const e2bParent = await Sandbox.connect(parent.id);
    const [child] = await e2bParent.fork();
    assert.ok(child instanceof Sandbox, String(child));
    made.push(child.sandboxId);
    assert.notEqual(child.sandboxId, parent.id);
    assert.equal(await child.files.read('/home/user/f.txt'), 'forked');
    // Paddock forks all or none: a container sandbox's fork fails as a whole, naming the fix.
    await assert.rejects(sbx.fork(), /gvisor/);
  });
});

describe('E2B facade across a server restart', () => {
  it('keeps access tokens and running processes reachable', { timeout: 120_000 }, async () => {
    const bg = await sbx.commands.run('sleep 600', { background: true });
    // `bg` keeps its output stream open: closing the server ends it (the process lives on).
    await server.close();
    const { server: next, conn: nextConn } = await startTestServer({ apiKey: API_KEY });
    conn = nextConn;
    useServer(next);
    const again = await Sandbox.connect(sbx.sandboxId);
    assert.equal((again as unknown as { envdAccessToken: string }).envdAccessToken, token);
    assert.ok((await again.commands.list()).some((p) => p.pid === bg.pid));
    assert.equal(await again.commands.kill(bg.pid), true);
    assert.equal((await again.commands.run('echo alive')).stdout, 'alive\n');
  });
});

/** GET / with a Host header (Node's fetch does not let a request set Host). */
function getByHost(host: string): Promise<{ status: number; text: string }> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers: { host } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

import assert from 'node:assert/strict';
import { type IncomingMessage, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  InvalidArgumentError,
  NotFoundError,
  type PortAccess,
  Sandbox,
  type SandboxCreateOptions,
  SandboxNotRunningError,
} from '@paddock/sdk';
import WebSocket from 'ws';
import { runCli } from '../support/cli.js';
import { type HttpAnswer as Answer, loopbackRequest } from '../support/http-request.js';
import { WEB_SERVER_SOURCE, webServerCommand } from '../support/sandbox-web-server.js';
import { startTestServer, type TestConnection, waitFor } from '../support/server.js';

let stop: () => Promise<void>;
let conn: TestConnection;
/** Port of the test server on 127.0.0.1: everything, proxied traffic included, goes there. */
let serverPort: number;
const made: Sandbox[] = [];

before(async () => {
  const started = await startTestServer();
  conn = started.conn;
  serverPort = Number(new URL(conn.apiUrl).port);
  stop = () => started.server.close();
});

after(async () => {
  await Promise.allSettled(made.map((s) => s.kill()));
  await stop();
});

async function sandbox(opts: SandboxCreateOptions = {}): Promise<Sandbox> {
  const sbx = await Sandbox.create({ ...conn, ...opts });
  made.push(sbx);
  return sbx;
}

/** Starts the test web server on `port` inside the sandbox and waits until it listens. */
async function serve(sbx: Sandbox, port: number, host = '0.0.0.0', keepAliveMs?: number): Promise<void> {
  await sbx.files.write('/tmp/web-server.cjs', WEB_SERVER_SOURCE);
  await sbx.commands.run(webServerCommand('/tmp/web-server.cjs', port, host, keepAliveMs), { background: true });
  await waitFor(`port ${port} to listen`, async () =>
    (await sbx.ports.list()).some((p) => p.port === port && p.listening) ? true : undefined,
  );
}

/** One request to the Paddock server with the given Host and headers (no proxy of our own). */
const call = (path: string, headers: Record<string, string>, opts: { method?: string; body?: Buffer } = {}) =>
  loopbackRequest(serverPort, path, headers, opts);

const hostOf = (sbx: Sandbox, port: number) => `${port}-${sbx.id}.localhost:${serverPort}`;
const byHost = (sbx: Sandbox, port: number, token?: string): Record<string, string> => ({
  host: hostOf(sbx, port),
  ...(token === undefined ? {} : { 'x-paddock-token': token }),
});
const errorOf = (answer: Answer) => JSON.parse(answer.body) as { code: string; message: string };

describe('exposed ports (crun)', () => {
  let sbx: Sandbox;
  let other: Sandbox;
  let access: PortAccess;

  before(async () => {
    [sbx, other] = await Promise.all([sandbox(), sandbox()]);
    await serve(sbx, 3000);
    await serve(sbx, 3001, '127.0.0.1');
    access = await sbx.ports.access(3000);
  });

  it('lists the listening ports with their addresses and public flag', async () => {
    const ports = await sbx.ports.list();
    const p3000 = ports.find((p) => p.port === 3000);
    const p3001 = ports.find((p) => p.port === 3001);
    assert.deepEqual(p3000, { port: 3000, listening: true, addresses: ['0.0.0.0'], public: false });
    assert.deepEqual(p3001?.addresses, ['127.0.0.1']);
  });

  it('the URL names the port, the sandbox and the default domain, and expires in an hour', async () => {
    assert.equal(access.host, hostOf(sbx, 3000));
    assert.match(access.url, new RegExp(`^http://${access.host}/\\?paddock_token=pt_`));
    const lifetimeMs = Date.parse(access.expiresAt) - Date.now();
    assert.ok(lifetimeMs > 3_500_000 && lifetimeMs <= 3_600_000, `lifetime ${lifetimeMs}`);
    assert.equal(sbx.getHost(3000), access.host);
  });

  it('HTTP through Host routing: the Host passes through, the token header does not', async () => {
    const answer = await call('/hello?x=1', byHost(sbx, 3000, access.token));
    assert.equal(answer.status, 200, answer.body);
    const seen = JSON.parse(answer.body) as { port: number; url: string; headers: Record<string, string> };
    assert.equal(seen.port, 3000);
    assert.equal(seen.url, '/hello?x=1');
    assert.equal(seen.headers.host, hostOf(sbx, 3000));
    assert.equal(seen.headers['x-paddock-token'], undefined);
    assert.equal(seen.headers['x-forwarded-host'], hostOf(sbx, 3000));
  });

  it('HTTP through header routing, for clients without wildcard hosts', async () => {
    const answer = await call('/hello', { ...access.headers, host: `127.0.0.1:${serverPort}` });
    assert.equal(answer.status, 200, answer.body);
    const seen = JSON.parse(answer.body) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-paddock-sandbox'], undefined);
    assert.equal(seen.headers['x-paddock-token'], undefined);
  });

  it('request bodies stream through (1 MiB echoed byte for byte)', async () => {
    const body = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    const answer = await new Promise<Buffer>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: serverPort,
          path: '/echo',
          method: 'POST',
          headers: byHost(sbx, 3000, access.token),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.ok(answer.equals(body));
  });

  it('a streamed response arrives chunk by chunk: the first before the second is released', async () => {
    const release = `/tmp/release-${Date.now()}`;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      request({
        host: '127.0.0.1',
        port: serverPort,
        path: `/stream?release=${release}`,
        headers: byHost(sbx, 3000, access.token),
      })
        .on('response', resolve)
        .on('error', reject)
        .end();
    });
    res.setEncoding('utf8');
    const chunks = res[Symbol.asyncIterator]();
    const first = await chunks.next();
    assert.equal(first.value, 'first\n', 'the first chunk came while the server still waits for the release file');
    await sbx.files.write(release, '');
    let rest = '';
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) rest += next.value as string;
    assert.equal(rest, 'second\n');
  });

  it('WebSocket upgrades are spliced: echo through Host routing and through the URL token', async () => {
    const echo = async (url: string, headers: Record<string, string>) => {
      const ws = new WebSocket(url, { headers });
      try {
        await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
        const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
        ws.send('hi there');
        return await reply;
      } finally {
        ws.close();
      }
    };
    assert.equal(await echo(`ws://127.0.0.1:${serverPort}/ws`, byHost(sbx, 3000, access.token)), 'echo:hi there');
    assert.equal(
      await echo(`ws://127.0.0.1:${serverPort}/ws?paddock_token=${access.token}`, byHost(sbx, 3000)),
      'echo:hi there',
    );
  });

  it('pooled tunnels: requests in a row reuse one; once it is closed, a new one is opened', async () => {
    // Port 3002 (0x0BBA) announces `Keep-Alive: timeout=2`: node's client then keeps an idle
    // connection 1 s, and the server 2.5 s (shorter announcements make node not reuse at all).
    await serve(sbx, 3002, '0.0.0.0', 2_500);
    const { token } = await sbx.ports.access(3002);
    const connectionOf = async () => {
      const answer = await call('/hello', byHost(sbx, 3002, token));
      assert.equal(answer.status, 200, answer.body);
      return (JSON.parse(answer.body) as { connection: number }).connection;
    };
    const back = await Promise.resolve()
      .then(connectionOf)
      .then(async (first) => [first, await connectionOf(), await connectionOf()]);
    assert.deepEqual(back, [1, 1, 1], 'requests in a row went over one pooled tunnel');
    const established = async () =>
      Number((await sbx.commands.run("grep -c ':0BBA [0-9A-F]*:[0-9A-F]* 01 ' /proc/net/tcp || true")).stdout.trim());
    await waitFor('the idle tunnel to close', async () => ((await established()) === 0 ? true : undefined));
    assert.equal(await connectionOf(), 2, 'a fresh tunnel, not the closed one');
  });

  it('a server bound to 127.0.0.1 only is reachable', async () => {
    const token = (await sbx.ports.access(3001)).token;
    const answer = await call('/hello', byHost(sbx, 3001, token));
    assert.equal(answer.status, 200, answer.body);
    assert.equal((JSON.parse(answer.body) as { port: number }).port, 3001);
  });

  it('nothing listening → 502 PORT_NOT_OPEN naming the port and the sandbox', async () => {
    const token = (await sbx.ports.access(3999)).token;
    const answer = await call('/', byHost(sbx, 3999, token));
    assert.equal(answer.status, 502);
    const error = errorOf(answer);
    assert.equal(error.code, 'PORT_NOT_OPEN');
    assert.match(error.message, new RegExp(`nothing listens on port 3999 in sandbox ${sbx.id}`));
  });

  it('the URL token works once as a query parameter, then as the host-only cookie it sets', async () => {
    const first = await call(`/hello?paddock_token=${access.token}&a=1`, byHost(sbx, 3000));
    assert.equal(first.status, 200, first.body);
    assert.equal((JSON.parse(first.body) as { url: string }).url, '/hello?a=1', 'the token is not forwarded');
    const cookie = (first.headers['set-cookie'] ?? []).find((c) => c.startsWith('paddock_token='));
    assert.ok(cookie, 'the token is set as a cookie');
    assert.match(cookie, /HttpOnly/);
    assert.doesNotMatch(cookie, /Domain=/i, 'host-only: it goes back to this port of this sandbox only');
    const pair = cookie.split(';')[0] as string;
    const next = await call('/hello', { ...byHost(sbx, 3000), cookie: `theme=dark; ${pair}` });
    assert.equal(next.status, 200, next.body);
    const seen = JSON.parse(next.body) as { headers: Record<string, string> };
    assert.equal(seen.headers.cookie, 'theme=dark', "the app's own cookies pass, Paddock's does not");
  });

  it('token scoping: missing 401, tampered 401, another port 403, another sandbox 403', async () => {
    const missing = await call('/hello', byHost(sbx, 3000));
    assert.equal(missing.status, 401);
    assert.equal(errorOf(missing).code, 'UNAUTHENTICATED');
    assert.match(errorOf(missing).message, /ports\/3000\/url/, 'says how to get a URL');

    const last = access.token.at(-1) === 'A' ? 'B' : 'A';
    const tampered = await call('/hello', byHost(sbx, 3000, `${access.token.slice(0, -1)}${last}`));
    assert.equal(tampered.status, 401);
    assert.match(errorOf(tampered).message, /not valid/);
    const forged = access.token.replace(
      /^pt_[^.]+/,
      `pt_${Buffer.from(JSON.stringify({ s: sbx.id, p: 3001, e: Date.now() + 60_000 })).toString('base64url')}`,
    );
    assert.equal((await call('/hello', byHost(sbx, 3001, forged))).status, 401, 'a payload edited for another port');

    const wrongPort = await call('/hello', byHost(sbx, 3001, access.token));
    assert.equal(wrongPort.status, 403);
    assert.equal(errorOf(wrongPort).code, 'PERMISSION_DENIED');
    assert.match(errorOf(wrongPort).message, /opens port 3000/);

    const otherToken = (await other.ports.access(3000)).token;
    const wrongSandbox = await call('/hello', byHost(sbx, 3000, otherToken));
    assert.equal(wrongSandbox.status, 403);
    assert.match(errorOf(wrongSandbox).message, new RegExp(`port 3000 of sandbox ${other.id}`));
  });

  it('an expired token → 401 saying when it expired', async () => {
    const short = await sbx.ports.access(3000, { expiresInMs: 1_000 });
    assert.equal((await call('/hello', byHost(sbx, 3000, short.token))).status, 200);
    const expiresAtMs = Date.parse(short.expiresAt);
    // Waits on the clock (bounded), not on a guess: the token is checked against the same clock.
    await waitFor('the token to expire', async () => (Date.now() > expiresAtMs + 5 ? true : undefined), 5_000);
    const answer = await call('/hello', byHost(sbx, 3000, short.token));
    assert.equal(answer.status, 401);
    assert.match(errorOf(answer).message, new RegExp(`expired at ${short.expiresAt}.*ask for a new URL`));
  });

  it('a public port needs no token; the flag shows in the list and can be taken back', async () => {
    await sbx.ports.setPublic(3001, true);
    try {
      assert.equal((await call('/hello', byHost(sbx, 3001))).status, 200);
      assert.equal((await sbx.ports.list()).find((p) => p.port === 3001)?.public, true);
      assert.equal((await call('/hello', byHost(sbx, 3000))).status, 401, 'only that port');
    } finally {
      await sbx.ports.setPublic(3001, false);
    }
    assert.equal((await call('/hello', byHost(sbx, 3001))).status, 401);
  });

  it('unknown sandbox 404, port outside 1-65535 400 naming the port', async () => {
    const unknown = await call('/', { host: `3000-zzzzzzzzzzzzzzzzzzzz.localhost:${serverPort}` });
    assert.equal(unknown.status, 404);
    assert.equal(errorOf(unknown).code, 'NOT_FOUND');
    for (const port of ['0', '70000']) {
      const bad = await call('/', {
        'x-paddock-sandbox': sbx.id,
        'x-paddock-port': port,
        'x-paddock-token': access.token,
      });
      assert.equal(bad.status, 400, port);
      assert.match(errorOf(bad).message, /`port` must be from 1 to 65535/);
    }
    assert.equal((await call('/', { host: `99999-${sbx.id}.localhost:${serverPort}` })).status, 400);
  });

  it('bad input on the port endpoints is a typed error naming the field', async () => {
    const api = (method: string, path: string, body?: unknown) =>
      call(
        `/v1/sandboxes/${sbx.id}/ports${path}`,
        {
          authorization: `Bearer ${conn.apiKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        { method, ...(body === undefined ? {} : { body: Buffer.from(JSON.stringify(body)) }) },
      );
    for (const port of ['0', '65536', 'abc', '3.5', '-1']) {
      for (const [method, path, body] of [
        ['POST', `/${port}/url`, {}],
        ['PUT', `/${port}`, { public: true }],
      ] as const) {
        const answer = await api(method, path, body);
        assert.equal(answer.status, 400, `${method} ${path}`);
        assert.match(errorOf(answer).message, /`port` must be an integer from 1 to 65535/);
      }
    }
    for (const expiresInMs of [0, 999, -5, 1.5, 'soon', 8 * 86_400_000]) {
      await assert.rejects(
        sbx.ports.access(3000, { expiresInMs: expiresInMs as number }),
        (err: Error) => err instanceof InvalidArgumentError && /expiresInMs/.test(err.message),
        String(expiresInMs),
      );
    }
    assert.equal(errorOf(await api('POST', '/3000/url', { ttl: 5 })).code, 'INVALID_ARGUMENT');
    for (const body of [{}, { public: 'yes' }, { public: true, extra: 1 }]) {
      const answer = await api('PUT', '/3000', body);
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.match(errorOf(answer).message, /public|extra/);
    }
    const ghost = Sandbox.handle('zzzzzzzzzzzzzzzzzzzz', conn);
    await assert.rejects(ghost.ports.url(3000), NotFoundError);
    await assert.rejects(ghost.ports.setPublic(3000, true), NotFoundError);
    await assert.rejects(ghost.ports.list(), NotFoundError);
  });

  it('CLI: `port url` prints a URL that works, `port ls` and `port public` too', async () => {
    const env = { PADDOCK_URL: conn.apiUrl, PADDOCK_API_KEY: conn.apiKey };
    const url = await runCli(['port', 'url', sbx.id, '3000', '--expires', '10m'], { env });
    assert.equal(url.code, 0, url.stderr);
    const printed = new URL(url.stdout.trim());
    assert.equal(printed.host, hostOf(sbx, 3000));
    const answer = await call(`/hello${printed.search}`, { host: printed.host });
    assert.equal(answer.status, 200, answer.body);
    const ls = await runCli(['port', 'ls', sbx.id], { env });
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /3000\s+0\.0\.0\.0\s+no/);
    const on = await runCli(['port', 'public', sbx.id, '3000'], { env });
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, new RegExp(`http://${hostOf(sbx, 3000)}/ is public`));
    assert.equal((await call('/hello', byHost(sbx, 3000))).status, 200);
    const off = await runCli(['port', 'public', sbx.id, '3000', '--off'], { env });
    assert.equal(off.code, 0, off.stderr);
    assert.equal((await call('/hello', byHost(sbx, 3000))).status, 401);
    const bad = await runCli(['port', 'url', sbx.id, '70000'], { env });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /port/);
  });

  it('after the sandbox is killed its ports answer SANDBOX_NOT_RUNNING', async () => {
    const doomed = await sandbox();
    const token = (await doomed.ports.access(3000)).token;
    await doomed.kill();
    const answer = await call('/', byHost(doomed, 3000, token));
    assert.equal(answer.status, 409);
    assert.equal(errorOf(answer).code, 'SANDBOX_NOT_RUNNING');
    await assert.rejects(doomed.ports.url(3000), SandboxNotRunningError);
  });
});

describe('exposed ports of a paused sandbox', () => {
  it('autoResume: an incoming request resumes the sandbox and is served', async () => {
    const sbx = await sandbox({ autoResume: true });
    await serve(sbx, 3000);
    const { token } = await sbx.ports.access(3000);
    await sbx.pause();
    assert.equal((await sbx.getInfo()).state, 'paused');
    const answer = await call('/hello', byHost(sbx, 3000, token));
    assert.equal(answer.status, 200, answer.body);
    assert.equal((await sbx.getInfo()).state, 'running');
  });

  it('without autoResume: SANDBOX_PAUSED, and a request without a token does not wake it', async () => {
    const sbx = await sandbox();
    await serve(sbx, 3000);
    const { token } = await sbx.ports.access(3000);
    await sbx.pause();
    const answer = await call('/hello', byHost(sbx, 3000, token));
    assert.equal(answer.status, 409);
    assert.equal(errorOf(answer).code, 'SANDBOX_PAUSED');
    assert.equal((await call('/hello', byHost(sbx, 3000))).status, 401);
    assert.equal((await sbx.getInfo()).state, 'paused');
  });
});

describe('exposed ports (gVisor)', () => {
  it('HTTP and WebSocket reach a server inside a gVisor sandbox', async () => {
    const sbx = await sandbox({ isolation: 'gvisor' });
    await serve(sbx, 8080);
    const { token } = await sbx.ports.access(8080);
    const answer = await call('/hello', byHost(sbx, 8080, token));
    assert.equal(answer.status, 200, answer.body);
    const ws = new WebSocket(`ws://127.0.0.1:${serverPort}/`, { headers: byHost(sbx, 8080, token) });
    try {
      await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
      ws.send('from gvisor');
      assert.equal(await reply, 'echo:from gvisor');
    } finally {
      ws.close();
    }
  });

  it('a hibernated sandbox with autoResume is restored by a request; pooled tunnels do not block the checkpoint', async () => {
    const sbx = await sandbox({ isolation: 'gvisor', autoResume: true });
    await serve(sbx, 8080);
    const { token } = await sbx.ports.access(8080);
    // Leaves an idle keep-alive tunnel in the proxy's pool, which the agent must close to quiesce.
    assert.equal((await call('/hello', byHost(sbx, 8080, token))).status, 200);
    assert.equal((await sbx.hibernate()).state, 'hibernated');
    const answer = await call('/hello', byHost(sbx, 8080, token));
    assert.equal(answer.status, 200, answer.body);
    assert.equal((await sbx.getInfo()).state, 'running');
  });
});

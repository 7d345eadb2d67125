/**
 * The egress proxy on loopback: proxy and "upstream" servers on 127.x addresses this test
 * picks, a stub policy oracle and a stub resolver. No sandbox, no namespace: this pins the
 * proxy's own behaviour (SNI/Host decisions, passthrough, secrets, caps).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { silentLogger } from '../../packages/server/src/core/logger.js';
import type { SecretRule } from '../../packages/server/src/core/seams/store.js';
import type { DeniedAttempt, EgressPolicyOracle } from '../../packages/server/src/network/egress-contract.js';
import { HostEgressProxy } from '../../packages/server/src/network/egress-proxy/host-egress-proxy.js';
import { SandboxCa } from '../../packages/server/src/network/egress-proxy/sandbox-ca.js';
import { httpRequest } from '../support/http-request.js';

const SANDBOX = 'loopbacksandbox00001';
// A /24 of 127/8 picked at random so that concurrent runs do not collide on ports 80/443.
const NET = `127.${20 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}`;
const PROXY = `${NET}.1`;
const UPSTREAM = `${NET}.2`;
const SECRET: SecretRule = {
  name: 'API_KEY',
  placeholder: 'paddock-secret-0123456789abcdef01234567',
  value: 'sk-real-value-42',
  hosts: ['secret.test', '*.wild.test'],
};
/** A secret that opts in to plain HTTP (secrets are substituted only over TLS otherwise). */
const INSECURE_SECRET: SecretRule = {
  name: 'PLAIN_KEY',
  placeholder: 'paddock-secret-fedcba9876543210fedcba98',
  value: 'plain-value-7',
  hosts: ['secret.test'],
  allowInsecureHttp: true,
};

class StubOracle implements EgressPolicyOracle {
  allowedNames = new Set(['allowed.test', 'other.test', 'secret.test', 'api.wild.test', 'rebind.test']);
  denied: DeniedAttempt[] = [];
  checkName(_id: string, host: string) {
    return this.allowedNames.has(host)
      ? { allowed: true as const }
      : { allowed: false as const, reason: 'not in allow list' };
  }
  checkAddress(_id: string, address: string) {
    return address.startsWith('127.')
      ? { allowed: true as const }
      : { allowed: false as const, reason: 'private range' };
  }
  recordDenied(_id: string, attempt: DeniedAttempt) {
    this.denied.push(attempt);
  }
}

/** Answers what it saw: the Host, SNI, path, headers and body size. */
function echo(req: http.IncomingMessage, res: http.ServerResponse) {
  let bodyBytes = 0;
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => {
    bodyBytes += c.length;
    if (chunks.length < 4) chunks.push(c);
  });
  req.on('end', () => {
    const sni = (req.socket as { servername?: string }).servername ?? null;
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        host: req.headers.host,
        sni,
        path: req.url,
        headers: req.headers,
        bodyBytes,
        bodyStart: Buffer.concat(chunks).subarray(0, 200).toString(),
        remotePort: req.socket.remotePort,
      }),
    );
  });
}

interface Echo {
  host: string;
  sni: string | null;
  path: string;
  headers: Record<string, string>;
  bodyBytes: number;
  bodyStart: string;
  remotePort: number;
}

describe('egress proxy (loopback)', () => {
  const oracle = new StubOracle();
  const dir = mkdtempSync(join(tmpdir(), 'egress-loopback-'));
  let upstreamCa: SandboxCa;
  let plainServer: http.Server;
  let tlsServer: https.Server;
  let proxy: HostEgressProxy;
  let sandboxCaPem: string;
  const open = new Set<Socket>();

  before(async () => {
    upstreamCa = await SandboxCa.loadOrCreate(join(dir, 'upstream-ca'), 'upstream');
    plainServer = http.createServer(echo);
    tlsServer = https.createServer(
      { SNICallback: (name, cb) => upstreamCa.contextFor(name).then((c) => cb(null, c), cb) },
      echo,
    );
    await new Promise<void>((r) => plainServer.listen(80, UPSTREAM, r));
    await new Promise<void>((r) => tlsServer.listen(443, UPSTREAM, r));
    proxy = new HostEgressProxy({
      oracle,
      logger: silentLogger,
      caDirOf: (id) => join(dir, id, 'egress-ca'),
      resolve: async (host) => (host === 'rebind.test' ? ['10.1.2.3'] : [UPSTREAM]),
      extraCaPem: upstreamCa.certPem,
      maxConnectionsPerSandbox: 8,
      // Short, to see idle connections closed; at least 2 s, or node clients (which trust the Keep-Alive hint minus 1 s) would not reuse connections at all.
      keepAliveTimeoutMs: 2_000,
    });
    await proxy.attach(
      { sandboxId: SANDBOX, hostAddress: PROXY, sandboxAddress: PROXY },
      [SECRET, INSECURE_SECRET],
      [80, 443],
    );
    sandboxCaPem = await proxy.certificateAuthority(SANDBOX);
  });

  after(async () => {
    for (const s of open) s.destroy();
    await proxy.detach(SANDBOX);
    await new Promise<void>((r) => plainServer.close(() => r()));
    await new Promise<void>((r) => tlsServer.close(() => r()));
    plainServer.closeAllConnections();
    tlsServer.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One HTTP request to the proxy's :80 as the sandbox would send it. */
  function viaHttp(
    host: string,
    options: { headers?: Record<string, string>; body?: string; agent?: http.Agent; path?: string } = {},
  ) {
    return httpRequest(
      {
        host: PROXY,
        port: 80,
        path: options.path ?? '/p?q=1',
        method: options.body === undefined ? 'GET' : 'POST',
        headers: { host, ...options.headers },
        agent: options.agent ?? false,
      },
      options.body,
    );
  }

  function viaHttps(
    host: string,
    options: { headers?: Record<string, string>; agent?: https.Agent; body?: string | Buffer } = {},
  ) {
    return new Promise<{ status: number; body: string; issuer: string }>((resolve, reject) => {
      const req = https.request(
        {
          host: PROXY,
          port: 443,
          servername: host,
          path: '/s',
          method: options.body === undefined ? 'GET' : 'POST',
          headers: { host, ...options.headers },
          ca: [upstreamCa.certPem, sandboxCaPem],
          agent: options.agent ?? false,
        },
        (res) => {
          const issuer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().issuer?.CN ?? '';
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            body += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, issuer: String(issuer) }));
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });
  }

  it('forwards HTTP to an allowed name, keeping the path and Host', async () => {
    const r = await viaHttp('allowed.test');
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as Echo;
    assert.equal(seen.host, 'allowed.test');
    assert.equal(seen.path, '/p?q=1');
  });

  it('refuses HTTP to a denied name with 403 and records it', async () => {
    const before = oracle.denied.length;
    const r = await viaHttp('denied.test');
    assert.equal(r.status, 403);
    assert.match(r.body, /denied\.test:80 is not allowed \(not in allow list\)/);
    assert.deepEqual(
      oracle.denied.slice(before).map((d) => [d.layer, d.target, d.port]),
      [['proxy', 'denied.test', 80]],
    );
  });

  it('checks every request on a keep-alive connection, not only the first', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await viaHttp('allowed.test', { agent });
      assert.equal(first.status, 200);
      const second = await viaHttp('denied.test', { agent });
      assert.equal(second.status, 403);
    } finally {
      agent.destroy();
    }
  });

  it('closes an idle keep-alive HTTP connection after its timeout', async () => {
    // A raw client has no idle limit of its own: only the proxy can end this connection.
    const socket = await connected(80);
    open.add(socket);
    let answer = '';
    socket.setEncoding('utf8').on('data', (d: string) => {
      answer += d;
    });
    let ended = false;
    socket.on('close', () => {
      ended = true;
    });
    socket.write('GET / HTTP/1.1\r\nHost: allowed.test\r\n\r\n');
    await waitFor(() => answer.includes('"host":"allowed.test"'));
    assert.equal(ended, false, 'kept alive after the answer');
    await waitFor(() => ended, 10_000);
  });

  it('refuses an allowed name that resolves to an address the policy forbids (rebinding)', async () => {
    const r = await viaHttp('rebind.test');
    assert.equal(r.status, 403);
    assert.match(r.body, /10\.1\.2\.3: private range/);
  });

  it('refuses HTTP without a usable Host', async () => {
    const reply = await rawExchange(80, 'GET / HTTP/1.0\r\n\r\n');
    assert.match(reply, /^HTTP\/1\.1 400/);
  });

  it('passes TLS to an allowed name through untouched (the upstream certificate reaches the sandbox)', async () => {
    const r = await viaHttps('allowed.test');
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body) as Echo;
    assert.equal(seen.sni, 'allowed.test');
    assert.equal(r.issuer, 'Paddock egress CA upstream');
  });

  it('closes TLS whose SNI is denied, and TLS without SNI, recording both', async () => {
    const before = oracle.denied.length;
    await assert.rejects(viaHttps('denied.test'), /ECONNRESET|socket hang up|disconnected/);
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = tlsConnect({ host: PROXY, port: 443, ca: [upstreamCa.certPem] }, () => resolve(s));
        s.on('error', reject);
      }),
      /ECONNRESET|socket hang up|disconnected/,
    );
    assert.deepEqual(
      oracle.denied.slice(before).map((d) => d.target),
      ['denied.test', '(no SNI)'],
    );
  });

  it('closes a connection that is neither TLS nor HTTP', async () => {
    const reply = await rawExchange(80, 'SSH-2.0-OpenSSH_9.2\r\n');
    assert.equal(reply, '');
  });

  it('over plain HTTP replaces only a secret that opts in, in headers, never in the body', async () => {
    const headers = {
      authorization: `Bearer ${INSECURE_SECRET.placeholder}`,
      'x-both': `${INSECURE_SECRET.placeholder},${INSECURE_SECRET.placeholder}`,
      'x-tls-only': SECRET.placeholder,
    };
    const r = await viaHttp('secret.test', { headers, body: `token=${INSECURE_SECRET.placeholder}` });
    const seen = JSON.parse(r.body) as Echo;
    assert.equal(seen.headers.authorization, `Bearer ${INSECURE_SECRET.value}`);
    assert.equal(seen.headers['x-both'], `${INSECURE_SECRET.value},${INSECURE_SECRET.value}`);
    assert.equal(seen.headers['x-tls-only'], SECRET.placeholder, 'a TLS-only secret never goes out in cleartext');
    assert.equal(seen.bodyStart, `token=${INSECURE_SECRET.placeholder}`);
  });

  it('sends the placeholder verbatim to a host the secret does not name', async () => {
    const r = await viaHttp('other.test', { headers: { authorization: `Bearer ${SECRET.placeholder}` } });
    const seen = JSON.parse(r.body) as Echo;
    assert.equal(seen.headers.authorization, `Bearer ${SECRET.placeholder}`);
    const tls = await viaHttps('other.test', { headers: { authorization: `Bearer ${SECRET.placeholder}` } });
    assert.equal((JSON.parse(tls.body) as Echo).headers.authorization, `Bearer ${SECRET.placeholder}`);
    assert.equal(tls.issuer, 'Paddock egress CA upstream', 'no interception for hosts without secrets');
  });

  it('terminates TLS for a secret host with the sandbox CA, replaces the placeholder, keeps keep-alive and streams bodies', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const headers = { authorization: `Bearer ${SECRET.placeholder}` };
      const first = await viaHttps('secret.test', { headers, agent });
      assert.equal(first.issuer, `Paddock egress CA ${SANDBOX}`);
      const seen1 = JSON.parse(first.body) as Echo;
      assert.equal(seen1.headers.authorization, `Bearer ${SECRET.value}`);
      assert.equal(seen1.sni, 'secret.test', 'the proxy sends the same SNI upstream');
      const big = Buffer.alloc(4 * 1024 * 1024, 0x61);
      const second = await viaHttps('secret.test', { headers, agent, body: big });
      const seen2 = JSON.parse(second.body) as Echo;
      assert.equal(seen2.bodyBytes, big.length);
      assert.equal(seen2.headers.authorization, `Bearer ${SECRET.value}`);
      assert.equal(agent.freeSockets[Object.keys(agent.freeSockets)[0] ?? '']?.length, 1, 'one kept-alive connection');
    } finally {
      agent.destroy();
    }
  });

  it('matches *.suffix secret hosts', async () => {
    const r = await viaHttps('api.wild.test', { headers: { 'x-key': SECRET.placeholder } });
    assert.equal((JSON.parse(r.body) as Echo).headers['x-key'], SECRET.value);
  });

  it('refuses a request whose Host differs from the intercepted SNI', async () => {
    const r = await new Promise<number>((resolve, reject) => {
      const req = https.request(
        {
          host: PROXY,
          port: 443,
          servername: 'secret.test',
          headers: { host: 'other.test' },
          ca: [sandboxCaPem],
          agent: false,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(r, 421);
  });

  it('intercepts the names of secret hosts only', () => {
    assert.equal(proxy.intercepts(SANDBOX, 'secret.test'), true);
    assert.equal(proxy.intercepts(SANDBOX, 'a.b.wild.test'), true);
    assert.equal(proxy.intercepts(SANDBOX, 'wild.test'), false);
    assert.equal(proxy.intercepts(SANDBOX, 'allowed.test'), false);
    assert.equal(proxy.intercepts('othersandbox00000000', 'secret.test'), false);
  });

  it('keeps the CA key on the host with mode 0600', () => {
    const mode = statSync(join(dir, SANDBOX, 'egress-ca', 'ca-key.pem')).mode & 0o777;
    assert.equal(mode, 0o600);
  });

  it('caps open connections per sandbox', async () => {
    const idle = await Promise.all(Array.from({ length: 8 }, () => connected(80)));
    for (const s of idle) open.add(s);
    await waitFor(() => proxy.connectionCount(SANDBOX) === 8);
    const extra = await connected(80);
    await new Promise<void>((resolve) => extra.once('close', () => resolve()));
    assert.match(oracle.denied.at(-1)?.reason ?? '', /connection cap of 8/);
    for (const s of idle) s.destroy();
    await waitFor(() => proxy.connectionCount(SANDBOX) === 0);
  });

  it('stops listening on ports removed by updatePorts', async () => {
    await proxy.updatePorts(SANDBOX, [443]);
    await assert.rejects(connected(80), /ECONNREFUSED/);
    await proxy.updatePorts(SANDBOX, [80, 443]);
    (await connected(80)).destroy();
  });
});

function connected(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: PROXY, port }, () => resolve(s));
    s.on('error', reject);
  });
}

/** Sends raw bytes, returns everything the proxy answers until it closes. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = netConnect({ host: PROXY, port }, () => s.write(request));
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      out += d;
    });
    s.on('close', () => resolve(out));
    s.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(out) : reject(err)));
  });
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

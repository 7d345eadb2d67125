/**
 * The egress proxy and secrets against a fake internet (a namespace this test builds; no
 * packet leaves the machine): allow-listed names over HTTP and HTTPS, denied names, an
 * allowed name's address under another SNI, secrets replaced only for their hosts, and no
 * secret value anywhere inside the sandbox.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidArgumentError, Sandbox, type SandboxCreateOptions } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import Database from 'better-sqlite3';
import { runCli } from '../support/cli.js';
import { TEST_DATA_DIR } from '../support/env.js';
import { type FakeInternet, startFakeInternet } from '../support/fake-internet.js';
import { startTestServer, type TestConnection, waitFor } from '../support/server.js';

const SECRET_VALUE = 'sk-live-7f3a9c-not-for-the-sandbox';
const SECRET_B64 = Buffer.from(SECRET_VALUE).toString('base64');
const isolations = (process.env.PADDOCK_EGRESS_ISOLATIONS ?? 'container').split(',') as ('container' | 'gvisor')[];

let fake: FakeInternet;
let conn: TestConnection;
let stop: () => Promise<void>;
let running: RunningServer;
const made: Sandbox[] = [];

before(async () => {
  fake = await startFakeInternet();
  const started = await startTestServer({
    // One warm crun spare: the pool test below claims it (secrets must work on claimed sandboxes).
    poolSize: 1,
    network: { uplink: fake.uplink, dnsUpstreams: [fake.dnsAddress] },
    egressProxy: { caFile: fake.caFile },
  });
  running = started.server;
  conn = started.conn;
  stop = () => started.server.close();
});

after(async () => {
  await Promise.allSettled(made.map((s) => s.kill()));
  // The warm pool refills after each claim (a moment later): once it is full again (its one
  // spare running, nothing starting) it boots no more, and its spare can be killed for good.
  if (running) {
    await waitFor(
      'the warm pool to be full',
      async () => (poolRows('starting').length === 0 && poolRows('running').length >= 1 ? true : undefined),
      120_000,
    );
    for (const id of poolRows('running')) await running.service.kill(id);
  }
  await stop?.();
  await fake?.close();
});

async function sandbox(opts: SandboxCreateOptions): Promise<Sandbox> {
  const sbx = await Sandbox.create({ ...conn, ...opts });
  made.push(sbx);
  return sbx;
}

/**
 * A Python client inside the sandbox: fetches URL with the given headers, trusting the
 * system bundle (which holds the sandbox's egress CA) plus the fake internet's CA, and prints
 * `status body` or `ERR reason`.
 */
const FETCH = `
import json, ssl, sys, urllib.request, urllib.error
url, headers = sys.argv[1], json.loads(sys.argv[2])
ctx = ssl.create_default_context()
ctx.load_verify_locations('/tmp/fixture-ca.pem')
try:
    r = urllib.request.urlopen(urllib.request.Request(url, headers=headers), context=ctx, timeout=10)
    print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
except Exception as e:
    print('ERR', type(e).__name__, e)
`;

/** A TLS handshake to ADDRESS:443 with SNI NAME; prints OK or ERR. */
const HANDSHAKE = `
import socket, ssl, sys
ctx = ssl.create_default_context(); ctx.load_verify_locations('/tmp/fixture-ca.pem')
try:
    with socket.create_connection((sys.argv[1], 443), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=sys.argv[2]) as s:
            s.sendall(b'GET / HTTP/1.1\\r\\nHost: ' + sys.argv[2].encode() + b'\\r\\nConnection: close\\r\\n\\r\\n')
            print('OK', s.recv(100))
except Exception as e:
    print('ERR', type(e).__name__, e)
`;

async function prepare(sbx: Sandbox): Promise<void> {
  await sbx.files.write('/tmp/fixture-ca.pem', fake.caPem);
  await sbx.files.write('/tmp/fetch.py', FETCH);
  await sbx.files.write('/tmp/handshake.py', HANDSHAKE);
}

async function fetchIn(sbx: Sandbox, url: string, headers: Record<string, string> = {}) {
  const r = await sbx.commands.run(`python3 /tmp/fetch.py '${url}' '${JSON.stringify(headers)}'`, {
    throwOnError: false,
  });
  const out = r.stdout.trim();
  const space = out.indexOf(' ');
  const status = out.slice(0, space);
  const body = out.slice(space + 1);
  return {
    status,
    body,
    json: () => JSON.parse(body) as { host: string; sni?: string; headers: Record<string, string> },
  };
}

/** The host side of the sandbox's veth: its resolver (and the egress proxy) listen there. */
async function hostAddressOf(sbx: Sandbox): Promise<string> {
  const r = await sbx.commands.run("awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf");
  return r.stdout.trim();
}

for (const isolation of isolations) {
  describe(`egress proxy and secrets (${isolation})`, () => {
    let sbx: Sandbox;
    let placeholder = '';

    before(async () => {
      sbx = await sandbox({
        isolation,
        network: { egress: 'allowlist', allow: ['allowed.test', 'api.allowed.test'] },
        secrets: { API_KEY: { value: SECRET_VALUE, hosts: ['api.allowed.test'] } },
      });
      await prepare(sbx);
      placeholder = (await sbx.commands.run('printf %s "$API_KEY"')).stdout;
    });

    it('gives the sandbox a placeholder, and SandboxInfo names the secret without its value', async () => {
      assert.match(placeholder, /^paddock-secret-[0-9a-f]{24}$/);
      const info = await sbx.getInfo();
      assert.deepEqual(info.secrets, [{ name: 'API_KEY', hosts: ['api.allowed.test'] }]);
      assert.equal(JSON.stringify(info).includes(SECRET_VALUE), false);
    });

    it('reaches an allow-listed name over HTTP and HTTPS', async () => {
      const plain = await fetchIn(sbx, 'http://allowed.test/hello');
      assert.equal(plain.status, '200', plain.body);
      assert.equal(plain.json().host, 'allowed.test');
      const tls = await fetchIn(sbx, 'https://allowed.test/hello');
      assert.equal(tls.status, '200', tls.body);
      assert.equal(tls.json().sni, 'allowed.test');
    });

    it('refuses a denied name at the proxy (HTTP 403, TLS closed) and records it', async () => {
      const hostAddress = await hostAddressOf(sbx);
      // The sandbox's DNS does not answer denied.test, so aim at the proxy directly, as a hard-coded IP would.
      const plain = await sbx.commands.run(
        `python3 -c "import urllib.request as u, urllib.error as e
try: u.urlopen(u.Request('http://${hostAddress}/', headers={'Host': 'denied.test'}), timeout=10)
except e.HTTPError as x: print(x.code)"`,
      );
      assert.equal(plain.stdout.trim(), '403');
      const tls = await sbx.commands.run(`python3 /tmp/handshake.py ${hostAddress} denied.test`);
      assert.match(tls.stdout, /^ERR/);
      const status = await sbx.network.get();
      const proxyDenied = status.recentDenied.filter((d) => d.layer === 'proxy' && d.target === 'denied.test');
      assert.deepEqual(proxyDenied.map((d) => d.port).sort(), [443, 80]);
    });

    it("refuses an allowed name's address under a different SNI", async () => {
      const resolved = (
        await sbx.commands.run(`python3 -c "import socket; print(socket.gethostbyname('allowed.test'))"`)
      ).stdout.trim();
      const ok = await sbx.commands.run(`python3 /tmp/handshake.py ${resolved} allowed.test`);
      assert.match(ok.stdout, /^OK/);
      const other = await sbx.commands.run(`python3 /tmp/handshake.py ${resolved} denied.test`);
      assert.match(other.stdout, /^ERR/);
    });

    it('replaces the placeholder for the listed host over HTTPS, and sends it verbatim over HTTP and elsewhere', async () => {
      const headers = { Authorization: `Bearer ${placeholder}` };
      const secretTls = await fetchIn(sbx, 'https://api.allowed.test/v1', headers);
      assert.equal(secretTls.status, '200', secretTls.body);
      assert.equal(secretTls.json().headers.authorization, `Bearer ${SECRET_VALUE}`);
      // Values never cross in cleartext unless the secret sets allowInsecureHttp (test/security/secrets-and-input.test.ts).
      const secretPlain = await fetchIn(sbx, 'http://api.allowed.test/v1', headers);
      assert.equal(secretPlain.json().headers.authorization, `Bearer ${placeholder}`);
      const elsewhere = await fetchIn(sbx, 'https://allowed.test/v1', headers);
      assert.equal(elsewhere.json().headers.authorization, `Bearer ${placeholder}`);
    });

    it('trusts the egress CA from the env of commands (python default context, no extra CA file)', async () => {
      const r = await sbx.commands.run(
        `python3 -c "import urllib.request as u; print(u.urlopen('https://api.allowed.test/x', timeout=10).status)"`,
        { throwOnError: false },
      );
      // The fixture CA is not trusted here, so only the proxy's interception (signed by the egress CA) can answer 200.
      assert.equal(r.stdout.trim(), '200', r.stderr);
      const env = (await sbx.commands.run('env | grep -E "^(SSL_CERT_FILE|NODE_EXTRA_CA_CERTS)=" | sort')).stdout;
      assert.match(env, /NODE_EXTRA_CA_CERTS=\/usr\/local\/share\/ca-certificates\/paddock-egress.crt/);
    });

    it('leaves no secret value in env, /proc/*/environ or the filesystem', async () => {
      // The pattern travels base64-encoded and lives only in an unexported shell variable.
      const check = `pat="$(echo ${SECRET_B64} | base64 -d)"
sleep 30 & bg=$!
echo env:$(env | grep -cF "$pat")
echo environ:$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -cF "$pat")
echo placeholder:$(cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c '^API_KEY=paddock-secret-')
echo files:$(grep -rlF "$pat" / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null | wc -l)
# Control: the same search finds a file that does hold a (reversed, so unrelated) marker.
ctl="$(printf %s "$pat" | rev)"; printf %s "$ctl" > /tmp/control
echo control:$(grep -rlF "$ctl" / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev 2>/dev/null | wc -l)
rm /tmp/control
kill $bg`;
      const r = await sbx.commands.run(check, { user: 'root', timeoutMs: 120_000 });
      assert.match(r.stdout, /^env:0$/m);
      assert.match(r.stdout, /^environ:0$/m);
      assert.match(r.stdout, /^placeholder:[1-9]/m);
      assert.match(r.stdout, /^files:0$/m);
      assert.match(r.stdout, /^control:1$/m);
    });
  });
}

for (const isolation of isolations) {
  describe(`secrets with egress open (${isolation})`, () => {
    it('intercepts only the secret host: value there, placeholder verbatim on direct connections', async () => {
      const sbx = await sandbox({
        isolation,
        network: { egress: 'open' },
        secrets: { API_KEY: { value: SECRET_VALUE, hosts: ['api.allowed.test'] } },
      });
      await prepare(sbx);
      const placeholder = (await sbx.commands.run('printf %s "$API_KEY"')).stdout;
      const hostAddress = await hostAddressOf(sbx);
      const resolve = async (name: string) =>
        (await sbx.commands.run(`python3 -c "import socket; print(socket.gethostbyname('${name}'))"`)).stdout.trim();
      assert.equal(await resolve('api.allowed.test'), hostAddress, 'the secret host is answered with the proxy');
      assert.equal(await resolve('allowed.test'), fake.addresses.web, 'other names resolve to their real address');
      const headers = { Authorization: `Bearer ${placeholder}` };
      const intercepted = await fetchIn(sbx, 'https://api.allowed.test/o', headers);
      assert.equal(intercepted.json().headers.authorization, `Bearer ${SECRET_VALUE}`);
      const direct = await fetchIn(sbx, 'https://allowed.test/o', headers);
      assert.equal(direct.json().headers.authorization, `Bearer ${placeholder}`);
    });
  });
}

/** Ids of the server's warm spares in `state` (the pool is invisible to the API). */
function poolRows(state: 'running' | 'starting'): string[] {
  const db = new Database(join(TEST_DATA_DIR, 'paddock.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT id FROM sandboxes WHERE pooled = 1 AND state = ?').all(state) as { id: string }[];
    return rows.map((r) => r.id);
  } finally {
    db.close();
  }
}

describe('secrets on a sandbox claimed from the warm pool', () => {
  const spares = () => poolRows('running');

  it('installs the CA and placeholders on a claimed spare, and the proxy replaces the value', async () => {
    const [spare] = await waitFor('a warm spare', async () => (spares().length > 0 ? spares() : undefined), 120_000);
    const sbx = await sandbox({
      network: { egress: 'allowlist', allow: ['api.allowed.test'] },
      secrets: { API_KEY: { value: SECRET_VALUE, hosts: ['api.allowed.test'] } },
    });
    assert.equal(sbx.id, spare, 'the create claimed the spare');
    await prepare(sbx);
    const placeholder = (await sbx.commands.run('printf %s "$API_KEY"')).stdout;
    const seen = await fetchIn(sbx, 'https://api.allowed.test/pool', { Authorization: `Bearer ${placeholder}` });
    assert.equal(seen.json().headers.authorization, `Bearer ${SECRET_VALUE}`);
  });
});

describe('paddock sandbox create --secret', () => {
  it('takes the value from $NAME, shows names and hosts, and the sandbox sees only a placeholder', async () => {
    const env = { PADDOCK_URL: conn.apiUrl, PADDOCK_API_KEY: conn.apiKey, TOKEN: SECRET_VALUE };
    const created = await runCli(['sandbox', 'create', '--json', '--secret', 'TOKEN@api.allowed.test,*.x.test'], {
      env,
    });
    assert.equal(created.code, 0, created.stderr);
    const info = JSON.parse(created.stdout) as { id: string; secrets: unknown };
    made.push(await Sandbox.connect(info.id, conn));
    assert.deepEqual(info.secrets, [{ name: 'TOKEN', hosts: ['api.allowed.test', '*.x.test'] }]);
    assert.equal(created.stdout.includes(SECRET_VALUE), false);
    const seen = await runCli(['exec', info.id, '--', 'printenv', 'TOKEN'], { env });
    assert.match(seen.stdout.trim(), /^paddock-secret-[0-9a-f]{24}$/);
    const bad = await runCli(['sandbox', 'create', '--secret', 'TOKEN=v'], { env });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /NAME=VALUE@host/);
  });
});

describe('secrets: bad input', () => {
  const cases: [string, SandboxCreateOptions['secrets'], RegExp][] = [
    ['missing hosts', { K: { value: 'v' } as never }, /secrets\.K\.hosts/],
    ['empty hosts', { K: { value: 'v', hosts: [] } }, /secrets\.K\.hosts.*at least one host/],
    ['bad host pattern', { K: { value: 'v', hosts: ['exa mple.com'] } }, /secrets\.K\.hosts\.0/],
    ['bad env name', { 'BAD-NAME': { value: 'v', hosts: ['a.test'] } }, /secrets\.BAD-NAME/],
    ['empty value', { K: { value: '', hosts: ['a.test'] } }, /secrets\.K\.value/],
    ['too long value', { K: { value: 'x'.repeat(8_193), hosts: ['a.test'] } }, /secrets\.K\.value/],
    [
      'too many secrets',
      Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`K${i}`, { value: 'v', hosts: ['a.test'] }])),
      /at most 32 secrets/,
    ],
  ];
  for (const [what, secrets, field] of cases) {
    it(`refuses ${what} with INVALID_ARGUMENT naming the field`, async () => {
      await assert.rejects(Sandbox.create({ ...conn, ...(secrets ? { secrets } : {}) }), (err: unknown) => {
        assert.ok(err instanceof InvalidArgumentError, String(err));
        assert.match(err.message, field);
        return true;
      });
    });
  }

  it('refuses a secret whose name is also in env', async () => {
    await assert.rejects(
      Sandbox.create({ ...conn, env: { K: 'x' }, secrets: { K: { value: 'v', hosts: ['a.test'] } } }),
      /secrets\.K: the name is also set in env/,
    );
  });
});

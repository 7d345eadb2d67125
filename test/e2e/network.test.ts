/**
 * Each sandbox's own network: egress modes on crun and gVisor, DNS, live updates, denied
 * attempts, caps, bad input, and cleanup. "The internet" is the fake-internet fixture (a
 * namespace this test makes); nothing leaves the machine.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server, Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConflictError, InvalidArgumentError, NotFoundError, Sandbox } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import { inRange, parseCidr } from '../../packages/server/src/network/ipv4.js';
import { runCli } from '../support/cli.js';
import { TEST_CGROUP_PARENT, TEST_DATA_DIR, TEST_SUBNET } from '../support/env.js';
import { type FakeInternet, startFakeInternet } from '../support/fake-internet.js';
import { startTestServer, type TestConnection } from '../support/server.js';
import { ServerProcess } from '../support/server-process.js';

const SUBNET = parseCidr(TEST_SUBNET, 'PADDOCK_TEST_SUBNET');

const MAX_CONNECTIONS = 6;
const TABLE = `paddock_${TEST_CGROUP_PARENT.replace(/-/g, '_')}`;

let net: FakeInternet;
let server: RunningServer;
let conn: TestConnection;
/** A TCP server of the test on every host address: the sandbox must not reach it. */
let hostService: Server;
let hostServicePort: number;
const made: Sandbox[] = [];
let serverClosed = false;

/**
 * Tries each target from inside the sandbox and returns `ok:…` or `err:Kind:…` per target:
 * `tcp host:port` (sends `ping`, reads the echo), `conn host:port` (connect only),
 * `http URL`, `dns NAME` (the A record).
 */
const PROBE = `
import json, socket, sys, urllib.request
out = {}
for t in json.loads(sys.argv[1]):
    kind, arg = t.split(' ', 1)
    try:
        if kind in ('tcp', 'conn'):
            host, port = arg.rsplit(':', 1)
            s = socket.create_connection((host, int(port)), timeout=4)
            if kind == 'tcp':
                s.sendall(b'ping'); data = s.recv(4); out[t] = 'ok:' + data.decode()
            else:
                out[t] = 'ok:'
            s.close()
        elif kind == 'http':
            out[t] = 'ok:' + urllib.request.urlopen(arg, timeout=4).read().decode()[:300]
        elif kind == 'dns':
            out[t] = 'ok:' + socket.gethostbyname(arg)
    except Exception as e:
        out[t] = 'err:' + type(e).__name__ + ':' + str(e)
print(json.dumps(out))
`;

async function sandbox(opts: Parameters<typeof Sandbox.create>[0] = {}): Promise<Sandbox> {
  const sbx = await Sandbox.create({ ...conn, ...opts });
  made.push(sbx);
  await sbx.files.write('/tmp/probe.py', PROBE);
  return sbx;
}

async function probe(sbx: Sandbox, targets: string[]): Promise<Record<string, string>> {
  const quoted = JSON.stringify(targets).replace(/'/g, "'\\''");
  const result = await sbx.commands.run(`python3 /tmp/probe.py '${quoted}'`, { timeoutMs: 60_000 });
  return JSON.parse(result.stdout) as Record<string, string>;
}

function ok(results: Record<string, string>, target: string): void {
  assert.match(results[target] ?? 'missing', /^ok:/, `${target} should connect: ${results[target]}`);
}

function refused(results: Record<string, string>, target: string): void {
  assert.match(results[target] ?? 'missing', /^err:/, `${target} must not connect: ${results[target]}`);
}

function linkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function nftChains(): string {
  try {
    return execFileSync('nft', ['list', 'table', 'inet', TABLE], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return '';
  }
}

before(async () => {
  net = await startFakeInternet();
  hostService = createServer((socket) => socket.end('host\n'));
  await new Promise<void>((resolve) => hostService.listen(0, '0.0.0.0', resolve));
  hostServicePort = (hostService.address() as { port: number }).port;
  ({ server, conn } = await startTestServer({
    network: { uplink: net.uplink, dnsUpstreams: [net.dnsAddress], maxConnections: MAX_CONNECTIONS },
  }));
});

after(async () => {
  await Promise.allSettled(made.map((s) => s.kill()));
  if (!serverClosed) await server?.close();
  await new Promise((resolve) => hostService?.close(resolve));
  await net?.close();
});

describe('crun, egress open', () => {
  let a: Sandbox;
  let b: Sandbox;
  let bAddress: string;

  before(async () => {
    [a, b] = await Promise.all([sandbox({ network: { egress: 'open' } }), sandbox({ network: { egress: 'open' } })]);
    bAddress = (await b.getInfo()).network?.address ?? '';
    // B serves on :8000; the host reaches it (control), A must not.
    await b.commands.run('python3 -m http.server 8000 --bind 0.0.0.0 >/dev/null 2>&1 &');
  });

  it('reaches the internet by address and by name, but not the host, other sandboxes, private or metadata addresses', async () => {
    const info = await a.getInfo();
    assert.equal(info.network?.egress, 'open');
    const address = info.network?.address ?? '';
    assert.ok(inRange(address, SUBNET), `${address} is in the test subnet ${TEST_SUBNET}`);
    const hostAddress = address.replace(/\.(\d+)$/, (_, last: string) => `.${Number(last) - 1}`);
    // The control: B's server answers the host.
    await waitForTcp(bAddress, 8000);
    const r = await probe(a, [
      `tcp ${net.addresses.web}:7000`,
      'http http://allowed.test/',
      'dns denied.test',
      `conn ${hostAddress}:${hostServicePort}`,
      `conn ${net.addresses.gateway}:${hostServicePort}`,
      `conn ${bAddress}:8000`,
      `http http://${net.addresses.private}/`,
      `http http://${net.addresses.metadata}/`,
    ]);
    ok(r, `tcp ${net.addresses.web}:7000`);
    assert.match(r['http http://allowed.test/'] ?? '', /"host":"allowed.test"/);
    assert.equal(r['dns denied.test'], `ok:${net.addresses.other}`);
    refused(r, `conn ${hostAddress}:${hostServicePort}`);
    refused(r, `conn ${net.addresses.gateway}:${hostServicePort}`);
    refused(r, `conn ${bAddress}:8000`);
    refused(r, `http http://${net.addresses.private}/`);
    refused(r, `http http://${net.addresses.metadata}/`);
    // The fixture saw A's traffic from the uplink's address (masquerade), not from the sandbox subnet.
    assert.match(r[`tcp ${net.addresses.web}:7000`] ?? '', /ok:ping/);
  });

  it('lists the refused attempts with the firewall as the layer', async () => {
    const status = await a.network.get();
    assert.ok(status.deniedTotal >= 4, `deniedTotal ${status.deniedTotal}`);
    const targets = status.recentDenied.filter((d) => d.layer === 'firewall').map((d) => `${d.target}:${d.port}`);
    assert.ok(targets.includes(`${net.addresses.metadata}:80`), targets.join(' '));
    assert.ok(targets.includes(`${net.addresses.private}:80`), targets.join(' '));
    assert.ok(targets.includes(`${bAddress}:8000`), targets.join(' '));
  });

  it('cannot change its own network (no CAP_NET_ADMIN over its netns)', async () => {
    const r = await a.commands.run(
      `python3 -c "
import socket, fcntl, struct
s = socket.socket()
try:
    fcntl.ioctl(s, 0x8914, struct.pack('16sh', b'eth0', 0))  # SIOCSIFFLAGS: eth0 down
    print('changed')
except OSError as e:
    print('denied', e.errno)
"`,
    );
    assert.match(r.stdout, /denied 1\b/);
  });

  it('caps open connections per sandbox', async () => {
    const script = `
import socket
held, refused = [], 0
for i in range(${MAX_CONNECTIONS + 4}):
    try:
        held.append(socket.create_connection(('${net.addresses.web}', 7000), timeout=4))
    except OSError:
        refused += 1
print(len(held), refused)
`;
    await a.files.write('/tmp/cap.py', script);
    const r = await a.commands.run('python3 /tmp/cap.py');
    const [held, refusedCount] = r.stdout.trim().split(' ').map(Number);
    assert.ok((held ?? 0) <= MAX_CONNECTIONS && (held ?? 0) >= 1, `held ${held}`);
    assert.ok((refusedCount ?? 0) >= 4, `refused ${refusedCount}`);
  });
});

describe('crun, egress allowlist', () => {
  let sbx: Sandbox;
  let hostAddress: string;

  before(async () => {
    sbx = await sandbox({
      network: { egress: 'allowlist', allow: ['allowed.test', '*.allowed.test', `${net.addresses.web}/32:7000`] },
    });
    const address = (await sbx.getInfo()).network?.address ?? '';
    hostAddress = address.replace(/\.(\d+)$/, (_, last: string) => `.${Number(last) - 1}`);
  });

  it('answers DNS only for allowed names, with the host address (where the egress proxy listens)', async () => {
    const r = await probe(sbx, ['dns allowed.test', 'dns api.allowed.test', 'dns denied.test', 'dns other.test']);
    assert.equal(r['dns allowed.test'], `ok:${hostAddress}`);
    assert.equal(r['dns api.allowed.test'], `ok:${hostAddress}`);
    assert.match(r['dns denied.test'] ?? '', /^err:gaierror/);
    assert.match(r['dns other.test'] ?? '', /^err:gaierror/);
    const status = await sbx.network.get();
    const dns = status.recentDenied.filter((d) => d.layer === 'dns').map((d) => d.target);
    assert.ok(dns.includes('denied.test') && dns.includes('other.test'), dns.join(' '));
  });

  it('connects to an allowed CIDR:port only, and never to a denied address by IP', async () => {
    const r = await probe(sbx, [
      `tcp ${net.addresses.web}:7000`,
      `conn ${net.addresses.web}:80`,
      `conn ${net.addresses.other}:7000`,
      `conn ${net.addresses.metadata}:80`,
    ]);
    ok(r, `tcp ${net.addresses.web}:7000`);
    refused(r, `conn ${net.addresses.web}:80`);
    refused(r, `conn ${net.addresses.other}:7000`);
    refused(r, `conn ${net.addresses.metadata}:80`);
  });

  it('changes live: a CIDR added connects, removed is refused again', async () => {
    const target = `tcp ${net.addresses.other}:7000`;
    const allow = ['allowed.test', `${net.addresses.web}/32:7000`];
    const opened = await sbx.network.update({ allow: [...allow, `${net.addresses.other}/32`] });
    assert.deepEqual(opened.allow, [...allow, `${net.addresses.other}/32`]);
    ok(await probe(sbx, [target]), target);
    await sbx.network.update({ allow });
    refused(await probe(sbx, [target]), target);
    assert.deepEqual((await sbx.getInfo()).network?.allow, allow);
  });
});

describe('crun, egress none', () => {
  it('reaches nothing, resolves nothing, and opens live', async () => {
    const sbx = await sandbox({ network: { egress: 'none' } });
    const targets = [`tcp ${net.addresses.web}:7000`, 'dns allowed.test'];
    const before = await probe(sbx, targets);
    refused(before, targets[0] ?? '');
    refused(before, targets[1] ?? '');
    const status = await sbx.network.update({ egress: 'open' });
    assert.equal(status.egress, 'open');
    const after = await probe(sbx, targets);
    ok(after, targets[0] ?? '');
    assert.equal(after['dns allowed.test'], `ok:${net.addresses.web}`);
  });

  it('defaults to none when the request names no egress (server default)', async () => {
    const sbx = await sandbox();
    assert.equal((await sbx.getInfo()).network?.egress, 'none');
  });
});

describe('hibernate and wake', () => {
  it('keeps the netns, the address and the policy of a crun sandbox', async () => {
    const sbx = await sandbox({ network: { egress: 'allowlist', allow: [`${net.addresses.web}/32:7000`] } });
    const address = (await sbx.getInfo()).network?.address;
    await sbx.hibernate({ keepMemory: false });
    await sbx.resume();
    assert.equal((await sbx.getInfo()).network?.address, address);
    await sbx.files.write('/tmp/probe.py', PROBE);
    const r = await probe(sbx, [`tcp ${net.addresses.web}:7000`, `conn ${net.addresses.other}:7000`]);
    ok(r, `tcp ${net.addresses.web}:7000`);
    refused(r, `conn ${net.addresses.other}:7000`);
  });
});

describe('gVisor', () => {
  it('open: reaches the internet but not metadata or private ranges; no memory hibernate or fork', async () => {
    const sbx = await sandbox({ isolation: 'gvisor', network: { egress: 'open' } });
    const info = await sbx.getInfo();
    assert.ok(inRange(info.network?.address ?? '', SUBNET), `${info.network?.address} is in ${TEST_SUBNET}`);
    assert.equal(info.capabilities?.hibernateWithMemory, false);
    assert.equal(info.capabilities?.fork, false);
    const r = await probe(sbx, [
      'http http://allowed.test/',
      `conn ${net.addresses.metadata}:80`,
      `conn ${net.addresses.private}:80`,
    ]);
    assert.match(r['http http://allowed.test/'] ?? '', /"host":"allowed.test"/);
    refused(r, `conn ${net.addresses.metadata}:80`);
    refused(r, `conn ${net.addresses.private}:80`);
    await assert.rejects(sbx.hibernate({ keepMemory: true }), (e: unknown) => {
      assert.ok(e instanceof ConflictError, String(e));
      assert.match(e.message, /host's network stack/);
      return true;
    });
  });

  it('none: no interface, nothing reachable; a live update to open is refused with the reason', async () => {
    const sbx = await sandbox({ isolation: 'gvisor', network: { egress: 'none' } });
    const info = await sbx.getInfo();
    assert.equal(info.network?.egress, 'none');
    assert.equal(info.network?.address, undefined);
    assert.equal(info.capabilities?.hibernateWithMemory, true);
    refused(await probe(sbx, [`tcp ${net.addresses.web}:7000`]), `tcp ${net.addresses.web}:7000`);
    await assert.rejects(sbx.network.update({ egress: 'open' }), (e: unknown) => {
      assert.ok(e instanceof ConflictError, String(e));
      assert.match(e.message, /created without a network/);
      return true;
    });
  });
});

describe('bandwidth cap', () => {
  it('keeps a download from the internet well below the uncapped rate', async (t) => {
    const capMbit = 8;
    const [capped, free] = await Promise.all([
      sandbox({ network: { egress: 'open', bandwidthMbit: capMbit } }),
      sandbox({ network: { egress: 'open' } }),
    ]);
    const sizeBytes = 3 * 1024 * 1024;
    const download = `python3 -c "
import time, urllib.request
t = time.monotonic(); n = len(urllib.request.urlopen('http://${net.addresses.web}/bytes?n=${sizeBytes}', timeout=60).read())
print(n, time.monotonic() - t)"`;
    const [cappedRun, freeRun] = [await capped.commands.run(download), await free.commands.run(download)];
    const rate = (out: string) => {
      const [bytes, seconds] = out.trim().split(' ').map(Number);
      assert.equal(bytes, sizeBytes);
      return ((bytes ?? 0) * 8) / 1e6 / (seconds ?? 1);
    };
    const cappedMbit = rate(cappedRun.stdout);
    const freeMbit = rate(freeRun.stdout);
    t.diagnostic(`capped at ${capMbit}: ${cappedMbit.toFixed(1)} Mbit/s; uncapped: ${freeMbit.toFixed(1)} Mbit/s`);
    // Generous bounds: the cap holds within 50%, and uncapped is clearly faster.
    assert.ok(cappedMbit < capMbit * 1.5, `capped ${cappedMbit.toFixed(1)} Mbit/s`);
    assert.ok(freeMbit > capMbit * 3, `uncapped ${freeMbit.toFixed(1)} Mbit/s`);
    assert.equal((await capped.network.get()).bandwidthMbit, capMbit);
  });
});

describe('bad input', () => {
  const badCreates: [string, unknown, RegExp][] = [
    ['egress', { egress: 'everything' }, /network\.egress/],
    ['IPv4 octet', { allow: ['300.1.1.1'] }, /network\.allow\.0.*not an IPv4/],
    ['prefix length', { allow: ['10.0.0.0/33'] }, /network\.allow\.0.*0-32/],
    ['host bits', { allow: ['203.0.113.5/24'] }, /host bits/],
    ['port zero', { allow: ['example.com:0'] }, /outside 1-65535/],
    ['port too big', { allow: ['1.2.3.4:70000'] }, /outside 1-65535/],
    ['port text', { allow: ['example.com:http'] }, /must be a number/],
    ['IPv6', { allow: ['ok.test', '2001:db8::/32'] }, /network\.allow\.1.*IPv6 egress is not supported/],
    ['domain', { allow: ['bad_name!.com'] }, /not a domain name/],
    ['wildcard TLD', { allow: ['*.com'] }, /whole top-level domain/],
    ['empty', { allow: [''] }, /must not be empty/],
    ['not a list', { allow: 'example.com' }, /network\.allow/],
    ['bandwidth', { bandwidthMbit: -1 }, /network\.bandwidthMbit/],
    ['unknown field', { egres: 'open' }, /egres/],
  ];
  for (const [what, network, message] of badCreates) {
    it(`create refuses a bad ${what}`, async () => {
      await assert.rejects(
        Sandbox.create({ ...conn, network: network as never }),
        (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message),
      );
    });
  }

  it('PUT refuses an empty change, a bad mode and a bad entry; GET/PUT of an unknown sandbox is NOT_FOUND', async () => {
    const sbx = await sandbox({ network: { egress: 'none' } });
    await assert.rejects(
      sbx.network.update({}),
      (e: unknown) => e instanceof InvalidArgumentError && /egress/.test(e.message),
    );
    await assert.rejects(
      sbx.network.update({ egress: 'wide' as never }),
      (e: unknown) => e instanceof InvalidArgumentError && /egress/.test(e.message),
    );
    await assert.rejects(
      sbx.network.update({ allow: ['1.2.3.4/40'] }),
      (e: unknown) => e instanceof InvalidArgumentError && /allow\.0/.test(e.message),
    );
    const ghost = await Sandbox.connect(sbx.id, conn);
    await sbx.kill();
    await assert.rejects(ghost.network.update({ egress: 'open' }), (e: unknown) => e instanceof Error);
    const unknown = 'a'.repeat(20);
    for (const call of [
      () =>
        fetch(`${conn.apiUrl}/v1/sandboxes/${unknown}/network`, {
          headers: { authorization: `Bearer ${conn.apiKey}` },
        }),
      () =>
        fetch(`${conn.apiUrl}/v1/sandboxes/${unknown}/network`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${conn.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ egress: 'open' }),
        }),
    ]) {
      const res = await call();
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { code: string }).code, 'NOT_FOUND');
    }
    void NotFoundError;
  });
});

describe('cleanup', () => {
  it('kill removes the veth, the netns mount and file, and the nftables chains', async () => {
    const sbx = await sandbox({ network: { egress: 'open', bandwidthMbit: 50 } });
    const veth = `pk${sbx.id.slice(0, 12)}`;
    const dir = join(TEST_DATA_DIR, 'network', sbx.id);
    assert.ok(linkExists(veth));
    assert.ok(existsSync(join(dir, 'netns')));
    assert.match(nftChains(), new RegExp(`fw_${sbx.id}`));
    await sbx.kill();
    assert.equal(linkExists(veth), false);
    assert.equal(existsSync(dir), false);
    assert.doesNotMatch(nftChains(), new RegExp(sbx.id));
    const mounts = execFileSync('cat', ['/proc/self/mountinfo'], { encoding: 'utf8' });
    assert.doesNotMatch(mounts, new RegExp(sbx.id));
  });
});

describe('CLI', () => {
  it('creates with --egress/--allow, shows the policy and denied attempts, changes it live', async () => {
    const env = { PADDOCK_URL: conn.apiUrl, PADDOCK_API_KEY: conn.apiKey };
    const created = await runCli(
      [
        'sandbox',
        'create',
        '--egress',
        'allowlist',
        '--allow',
        'allowed.test',
        '--allow',
        `${net.addresses.web}/32:7000`,
      ],
      { env },
    );
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    const sbx = await Sandbox.connect(id, conn);
    made.push(sbx);
    await sbx.files.write('/tmp/probe.py', PROBE);
    await probe(sbx, ['dns denied.test']);
    const shown = await runCli(['net', id], { env });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /egress: +allowlist/);
    assert.match(shown.stdout, new RegExp(`allow: +allowed.test, ${net.addresses.web.replace(/\./g, '\\.')}/32:7000`));
    assert.match(shown.stdout, /dns +denied\.test/);
    const changed = await runCli(['net', id, '--egress', 'open', '--json'], { env });
    assert.equal(changed.code, 0, changed.stderr);
    assert.equal((JSON.parse(changed.stdout) as { egress: string }).egress, 'open');
    const bad = await runCli(['net', id, '--allow', '999.1.1.1'], { env });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /allow\.0/);
  });
});

describe('server restart', () => {
  it('rebuilds the firewall table and the resolver of a live sandbox from the store', async () => {
    // In its own process (as in production), after the in-process server is gone: one server per data dir.
    await Promise.allSettled(made.splice(0).map((s) => s.kill()));
    await server.close();
    serverClosed = true;
    const probeServer = createServer();
    await new Promise<void>((resolve) => probeServer.listen(0, '127.0.0.1', resolve));
    const port = (probeServer.address() as { port: number }).port;
    await new Promise((resolve) => probeServer.close(resolve));
    Object.assign(process.env, { PADDOCK_EGRESS_UPLINK: net.uplink, PADDOCK_EGRESS_DNS: net.dnsAddress });
    const proc = new ServerProcess(port);
    try {
      await proc.start();
      const c = { apiUrl: proc.url, apiKey: proc.apiKey };
      const sbx = await Sandbox.create({
        ...c,
        network: { egress: 'allowlist', allow: ['allowed.test', `${net.addresses.web}/32:7000`] },
      });
      made.push(sbx);
      await sbx.files.write('/tmp/probe.py', PROBE);
      const address = (await sbx.getInfo()).network?.address ?? '';
      const hostAddress = address.replace(/\.(\d+)$/, (_, last: string) => `.${Number(last) - 1}`);
      await proc.stop('SIGKILL');
      // The table outlives the server while sandboxes live: they never run unfiltered.
      assert.match(nftChains(), new RegExp(`fw_${sbx.id}`));
      await proc.start();
      assert.equal((await sbx.getInfo()).network?.address, address);
      const r = await probe(sbx, [
        'dns allowed.test',
        'dns denied.test',
        `tcp ${net.addresses.web}:7000`,
        `conn ${net.addresses.other}:7000`,
      ]);
      assert.equal(r['dns allowed.test'], `ok:${hostAddress}`);
      refused(r, 'dns denied.test');
      ok(r, `tcp ${net.addresses.web}:7000`);
      refused(r, `conn ${net.addresses.other}:7000`);
      await sbx.kill();
      assert.doesNotMatch(nftChains(), new RegExp(sbx.id));
    } finally {
      await Promise.allSettled(made.splice(0).map((s) => s.kill()));
      await proc.stop('SIGTERM');
      delete process.env.PADDOCK_EGRESS_UPLINK;
      delete process.env.PADDOCK_EGRESS_DNS;
    }
    // The last server of this data dir stopped with no sandbox networks: the table is gone.
    assert.equal(nftChains(), '');
  });
});

async function waitForTcp(host: string, port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, host);
    });
    if (connected) return;
    if (Date.now() > deadline) throw new Error(`${host}:${port} never answered`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

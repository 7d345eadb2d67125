/**
 * Egress proxy overhead. Run: `npm run bench:egress` (root; after set-up).
 * A fake internet (a namespace this bench builds, see test/support/fake-internet.ts), an
 * in-process server and one crun sandbox with egress `allowlist`: the fixture's names (via the
 * proxy) and its web address as a CIDR (direct, firewall only), plus a secret for
 * api.allowed.test (TLS terminated by the proxy). Inside the sandbox a Python client measures
 * a request on a fresh connection (connect + TLS + GET + full answer), n times, and a 64 MiB
 * download. Prints a markdown table; JSON to bench/results/.
 */
import { Sandbox } from '@paddock/sdk';
import { startFakeInternet } from '../test/support/fake-internet.js';
import { BENCH_API_KEY as API_KEY, startBenchServer } from './bench-server.js';
import { fmtMs, percentile, printTable, saveResult } from './stats.js';

const N = Number(process.env.BENCH_N ?? 200);
const DOWNLOAD_BYTES = 64 * 1024 * 1024;
const CREATES = Number(process.env.BENCH_CREATES ?? 5);

/** args: address port tls(0/1) name n bytes → JSON {latenciesMs, downloadMBps, status}. */
const CLIENT = `
import json, socket, ssl, sys, time
address, port, tls, name, n, nbytes = sys.argv[1], int(sys.argv[2]), sys.argv[3] == '1', sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
ctx = ssl.create_default_context(); ctx.load_verify_locations('/tmp/fixture-ca.pem')
key = open('/tmp/key').read().strip()
def get(path):
    s = socket.create_connection((address, port), timeout=20)
    if tls: s = ctx.wrap_socket(s, server_hostname=name)
    s.sendall(('GET %s HTTP/1.1\\r\\nHost: %s\\r\\nAuthorization: Bearer %s\\r\\nConnection: close\\r\\n\\r\\n' % (path, name, key)).encode())
    total, first = 0, b''
    while True:
        chunk = s.recv(262144)
        if not chunk: break
        if not first: first = chunk[:12]
        total += len(chunk)
    s.close()
    return first, total
lat = []
for _ in range(n):
    t = time.perf_counter(); first, _ = get('/x'); lat.append((time.perf_counter() - t) * 1000)
t = time.perf_counter(); _, total = get('/bytes?n=%d' % nbytes); secs = time.perf_counter() - t
print(json.dumps({'status': first.decode(errors='replace'), 'latenciesMs': lat, 'downloadMBps': total / secs / 1048576}))
`;

const fake = await startFakeInternet();
const server = await startBenchServer({
  network: {
    uplink: fake.uplink,
    dnsUpstreams: [fake.dnsAddress],
    ...(process.env.PADDOCK_TEST_SUBNET ? { subnet: process.env.PADDOCK_TEST_SUBNET } : {}),
  },
  egressProxy: { caFile: fake.caFile },
});
const conn = { apiUrl: server.url, apiKey: API_KEY };
const rows: string[][] = [];
const results: Record<string, { latenciesMs: number[]; downloadMBps: number }> = {};
const createMs: Record<string, number[]> = { without: [], with: [] };
try {
  // What secrets add to a create: the CA (EC P-256) and its install through the agent.
  const network = { egress: 'allowlist' as const, allow: ['api.allowed.test'] };
  for (let i = 0; i < CREATES; i++) {
    for (const kind of ['without', 'with'] as const) {
      const start = performance.now();
      const s = await Sandbox.create({
        ...conn,
        network,
        ...(kind === 'with' ? { secrets: { K: { value: 'v', hosts: ['api.allowed.test'] } } } : {}),
      });
      createMs[kind]?.push(performance.now() - start);
      await s.kill();
    }
  }
  const sbx = await Sandbox.create({
    ...conn,
    network: { egress: 'allowlist', allow: ['allowed.test', 'api.allowed.test', `${fake.addresses.web}/32`] },
    secrets: { API_KEY: { value: 'sk-bench-secret', hosts: ['api.allowed.test'] } },
  });
  try {
    await sbx.files.write('/tmp/fixture-ca.pem', fake.caPem);
    await sbx.files.write('/tmp/client.py', CLIENT);
    await sbx.commands.run('printf %s "$API_KEY" > /tmp/key');
    const hostAddress = (await sbx.commands.run("awk '/^nameserver/ {print $2; exit}' /etc/resolv.conf")).stdout.trim();
    const cases: [string, string, number, boolean, string][] = [
      ['HTTP direct (CIDR rule, firewall only)', fake.addresses.web, 80, false, 'allowed.test'],
      ['HTTP via proxy (Host checked per request)', hostAddress, 80, false, 'allowed.test'],
      ['HTTPS direct (CIDR rule, firewall only)', fake.addresses.web, 443, true, 'allowed.test'],
      ['HTTPS via proxy, SNI passthrough', hostAddress, 443, true, 'allowed.test'],
      ['HTTPS via proxy with a secret (TLS terminated)', hostAddress, 443, true, 'api.allowed.test'],
    ];
    for (const [label, address, port, tls, name] of cases) {
      const r = await sbx.commands.run(
        `python3 /tmp/client.py ${address} ${port} ${tls ? 1 : 0} ${name} ${N} ${DOWNLOAD_BYTES}`,
        { timeoutMs: 600_000 },
      );
      const out = JSON.parse(r.stdout) as { status: string; latenciesMs: number[]; downloadMBps: number };
      if (!out.status.includes('200')) throw new Error(`${label}: answered ${out.status}`);
      results[label] = out;
      rows.push([
        label,
        fmtMs(percentile(out.latenciesMs, 50)),
        fmtMs(percentile(out.latenciesMs, 95)),
        `${out.downloadMBps.toFixed(0)} MiB/s`,
      ]);
    }
  } finally {
    await sbx.kill();
  }
} finally {
  await server.close();
  await fake.close();
}
printTable(rows, ['path (crun, fresh connection per request)', 'p50', 'p95', '64 MiB download']);
console.log('');
printTable(
  (['without', 'with'] as const).map((k) => [
    `create, allowlist, ${k} a secret`,
    fmtMs(percentile(createMs[k] ?? [], 50)),
    fmtMs(percentile(createMs[k] ?? [], 95)),
  ]),
  ['create (crun, boot, no pool)', 'p50', 'p95'],
);
saveResult(`egress-${Date.now()}.json`, { date: new Date().toISOString(), n: N, results, createMs });

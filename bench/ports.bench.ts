/**
 * Exposed ports: request latency and download throughput through the exposed-port proxy
 * (client → server → agent tunnel → the sandbox's loopback) vs a floor without Paddock in
 * the path. Run: `npm run bench:ports` (root; after set-up).
 *
 * Floor: crun sandboxes have no host-reachable address yet (an empty netns, loopback only),
 * so the same client runs as a host process inside the sandbox's netns (`nsenter --net`)
 * and talks to 127.0.0.1:PORT directly. gVisor's netstack is not the host's, so there the
 * floor client runs inside the sandbox (with the mounted Node). Prints a markdown table;
 * JSON to bench/results/.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Sandbox } from '@paddock/sdk';
import { WEB_SERVER_SOURCE, webServerCommand } from '../test/support/sandbox-web-server.js';
import { BENCH_API_KEY as API_KEY, BENCH_CGROUP_PARENT as CGROUP_PARENT, startBenchServer } from './bench-server.js';
import { fmtMs, percentile, printTable, saveResult } from './stats.js';

const N = Number(process.env.BENCH_N ?? 200);
const DOWNLOAD_BYTES = 64 * 1024 * 1024;
const DOWNLOADS = 3;
const PORT = 3000;

/** The same measurements, dependency-free, for the floor client (host netns or in-sandbox). */
const CLIENT_SOURCE = `
const http = require('node:http');
const [host, port, n, bytes, downloads] = process.argv.slice(2).map((v, i) => (i === 0 ? v : Number(v)));
const headers = JSON.parse(process.argv[7] || '{}');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (path) => new Promise((resolve, reject) => {
  const start = performance.now();
  let size = 0;
  http.get({ host, port, path, agent, headers }, (res) => {
    res.on('data', (c) => { size += c.length; });
    res.on('end', () => (res.statusCode === 200 ? resolve([performance.now() - start, size]) : reject(new Error('HTTP ' + res.statusCode))));
  }).on('error', reject);
});
(async () => {
  const latencies = [];
  for (let i = 0; i < n; i++) latencies.push((await get('/hello'))[0]);
  const mibPerS = [];
  for (let i = 0; i < downloads; i++) {
    const [ms, size] = await get('/bytes?n=' + bytes);
    if (size !== bytes) throw new Error('short download: ' + size);
    mibPerS.push(size / 1048576 / (ms / 1000));
  }
  agent.destroy();
  process.stdout.write(JSON.stringify({ latencies, mibPerS }));
})().catch((err) => { console.error(err); process.exit(1); });
`;

interface Measured {
  latencies: number[];
  mibPerS: number[];
}

const run = promisify(execFile);
const server = await startBenchServer();
const conn = { apiUrl: server.url, apiKey: API_KEY };
const serverPort = Number(new URL(server.url).port);
const clientFile = join(tmpdir(), `paddock-ports-bench-client-${process.pid}.cjs`);
writeFileSync(clientFile, CLIENT_SOURCE);
const rows: string[][] = [];
const results: Record<string, Measured> = {};

function throughputCell(values: number[]): string {
  return `${percentile(values, 50).toFixed(0)} MiB/s`;
}

/** The proxied path, measured from this process with a keep-alive client like the floor's. */
async function viaProxy(sbx: Sandbox): Promise<Measured> {
  const { token } = await sbx.ports.access(PORT);
  const headers = { host: sbx.getHost(PORT), 'x-paddock-token': token };
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string) =>
    new Promise<[number, number]>((resolve, reject) => {
      const start = performance.now();
      let size = 0;
      request({ host: '127.0.0.1', port: serverPort, path, agent, headers }, (res) => {
        res.on('data', (c: Buffer) => {
          size += c.length;
        });
        res.on('end', () =>
          res.statusCode === 200
            ? resolve([performance.now() - start, size])
            : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      })
        .on('error', reject)
        .end();
    });
  const latencies: number[] = [];
  for (let i = 0; i < N; i++) latencies.push((await get('/hello'))[0]);
  const mibPerS: number[] = [];
  for (let i = 0; i < DOWNLOADS; i++) {
    const [ms, size] = await get(`/bytes?n=${DOWNLOAD_BYTES}`);
    if (size !== DOWNLOAD_BYTES) throw new Error(`short download: ${size}`);
    mibPerS.push(size / 1048576 / (ms / 1000));
  }
  agent.destroy();
  return { latencies, mibPerS };
}

async function floor(sbx: Sandbox, isolation: 'container' | 'gvisor'): Promise<Measured> {
  const args = ['127.0.0.1', String(PORT), String(N), String(DOWNLOAD_BYTES), String(DOWNLOADS)];
  if (isolation === 'container') {
    // Any process of the sandbox will do: they all share its netns.
    const procs = readFileSync(`/sys/fs/cgroup/pids/${CGROUP_PARENT}/${sbx.id}/cgroup.procs`, 'utf8');
    const pid = procs.split('\n').find((p) => p.trim() !== '');
    if (pid === undefined) throw new Error(`no process in sandbox ${sbx.id}'s cgroup`);
    const { stdout } = await run(
      'nsenter',
      [`--net=/proc/${pid}/ns/net`, '--', process.execPath, clientFile, ...args],
      {
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    return JSON.parse(stdout) as Measured;
  }
  await sbx.files.write('/tmp/bench-client.cjs', CLIENT_SOURCE);
  const node = '/opt/paddock/lib/ld-linux-x86-64.so.2 --library-path /opt/paddock/lib /opt/paddock/bin/node';
  const result = await sbx.commands.run(`${node} /tmp/bench-client.cjs ${args.join(' ')}`, { timeoutMs: 300_000 });
  return JSON.parse(result.stdout) as Measured;
}

try {
  for (const isolation of ['container', 'gvisor'] as const) {
    const sbx = await Sandbox.create({ ...conn, isolation });
    try {
      await sbx.files.write('/tmp/web-server.cjs', WEB_SERVER_SOURCE);
      await sbx.commands.run(webServerCommand('/tmp/web-server.cjs', PORT), { background: true });
      for (let tries = 0; !(await sbx.ports.list()).some((p) => p.port === PORT && p.listening); tries++) {
        if (tries > 200) throw new Error('the web server did not start');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const proxied = await viaProxy(sbx);
      const direct = await floor(sbx, isolation);
      results[`${isolation}-proxy`] = proxied;
      results[`${isolation}-floor`] = direct;
      const floorName =
        isolation === 'container' ? 'floor (nsenter --net, host client)' : 'floor (client inside gVisor)';
      for (const [name, m] of [
        ['exposed-port proxy', proxied],
        [floorName, direct],
      ] as const) {
        rows.push([
          name,
          isolation,
          fmtMs(percentile(m.latencies, 50)),
          fmtMs(percentile(m.latencies, 95)),
          throughputCell(m.mibPerS),
        ]);
      }
    } finally {
      await sbx.kill();
    }
  }
} finally {
  await server.close();
}
printTable(rows, ['path', 'runtime', `GET p50 (n=${N})`, 'GET p95', `64 MiB download (median of ${DOWNLOADS})`]);
saveResult(`ports-${Date.now()}.json`, {
  date: new Date().toISOString(),
  n: N,
  downloadBytes: DOWNLOAD_BYTES,
  results,
});

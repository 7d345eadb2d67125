/**
 * A real registry for image tests (Debian's `docker-registry`, the CNCF distribution server),
 * in a network namespace this fixture owns; nothing leaves the machine.
 *
 * Usage:
 *   const registry = await startTestRegistry({ auth: 'basic', users: { ann: 'secret' } });
 *   after(() => registry.close());
 *   await registry.push(image.layoutDir, image.tag, 'team/agent:1.0');
 *   // pull registry.refFor('team/agent', '1.0') with `insecure: true` (plain HTTP)
 *
 * What it builds: netns `ptr<random>` joined to the root netns by a veth (root side
 * ADDR.1/24, namespace side ADDR.10); the /24 is the first free one of 198.18.{20..29}
 * (a lock dir under /run/paddock-test-registry holds it). Inside: docker-registry on
 * 127.0.0.1:5001 (htpasswd with bcrypt in `basic` mode) behind test-registry-server.ts on
 * ADDR.10:5000, which logs every request (`requests`) and, in `token` mode, is a Docker
 * Hub-style bearer-token front with its token server on ADDR.10:5001.
 * close() stops both processes (by PID) and removes the namespace, veth, lock and files.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import { lockPrefix } from './address-lock.js';

const run = promisify(execFile);

export interface RegistryRequest {
  method: string;
  path: string;
  status: number;
  /** True for a request to the token server. */
  token?: boolean;
  /** A GET of a stalled blob that sent its first chunk and now waits (logged before it ends). */
  stalled?: boolean;
}

export interface TestRegistry {
  /** `ADDR:5000`, reachable from the root netns over plain HTTP. */
  host: string;
  refFor(repo: string, tag: string): string;
  /** Pushes the image tagged `tag` in an OCI layout as `repoTag` (`team/agent:1.0`), keeping its digests. */
  push(layoutDir: string, tag: string, repoTag: string): Promise<void>;
  /** Every request the registry answered so far, in order. */
  readonly requests: readonly RegistryRequest[];
  /** Flips bytes of a stored blob (same size), so its content no longer matches its digest. */
  corruptBlob(digest: string): void;
  /** Makes GETs of this blob send their first chunk, then wait for `release()` (or the client to go). */
  stallBlob(digest: string): Promise<void>;
  release(): Promise<void>;
  /** Resolves with the first logged request (past or future) that `match` accepts. */
  waitForRequest(match: (request: RegistryRequest) => boolean): Promise<RegistryRequest>;
  close(): Promise<void>;
}

const LOCK_ROOT = '/run/paddock-test-registry';
const PREFIXES = Array.from({ length: 10 }, (_, i) => `198.18.${20 + i}`);

function waitReady(child: ChildProcess, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending = '';
    let output = '';
    let ready = false;
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready') {
          ready = true;
          resolve();
        } else if (line !== '') onLine(line);
      }
    });
    child.stderr?.on('data', (data: Buffer) => {
      output += data.toString();
    });
    child.once('exit', (code) => {
      if (!ready) reject(new Error(`test registry front exited (${code}): ${output}`));
    });
    setTimeout(() => reject(new Error(`test registry not ready in 20 s: ${output}`)), 20_000).unref();
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

function registryConfig(options: { storage: string; htpasswd?: string }): string {
  const auth =
    options.htpasswd === undefined
      ? ''
      : `auth:\n  htpasswd:\n    realm: paddock-test\n    path: ${options.htpasswd}\n`;
  return `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${options.storage}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:5001\n${auth}`;
}

async function controlCall(host: string, path: string): Promise<void> {
  const answer = await fetch(`http://${host}${path}`);
  await answer.text();
}

/** Removes the namespace (and with it the veth and its processes' network) a dead fixture left. */
function reclaim(lockDir: string): void {
  const netnsFile = join(lockDir, 'netns');
  if (!existsSync(netnsFile)) return;
  const netns = readFileSync(netnsFile, 'utf8').trim();
  if (/^ptr[0-9a-f]{8}$/.test(netns)) spawnSync('ip', ['netns', 'del', netns]);
}

/** Starts a registry; always `close()` it in an after() hook. */
export async function startTestRegistry(
  options: { auth?: 'none' | 'basic' | 'token'; users?: Record<string, string> } = {},
): Promise<TestRegistry> {
  const auth = options.auth ?? 'none';
  const users = options.users ?? {};
  const { prefix, lockDir } = lockPrefix({ lockRoot: LOCK_ROOT, prefixes: PREFIXES, owner: 'test registry', reclaim });
  const tag = randomBytes(4).toString('hex');
  const netns = `ptr${tag}`;
  // A fixture that died without close() left its namespace, holding this /24: the next
  // holder of the lock removes it (see reclaim).
  writeFileSync(join(lockDir, 'netns'), netns);
  const uplink = `ptr${tag}r`;
  const address = `${prefix}.10`;
  const host = `${address}:5000`;
  const dir = mkdtempSync(join(tmpdir(), 'paddock-test-registry-'));
  const storage = join(dir, 'storage');
  const requests: RegistryRequest[] = [];
  const waiters = new Set<(request: RegistryRequest) => void>();
  let registry: ChildProcess | undefined;
  let front: ChildProcess | undefined;
  const close = async (): Promise<void> => {
    await stop(front);
    await stop(registry);
    await run('ip', ['netns', 'del', netns]).catch(() => undefined);
    await run('ip', ['link', 'del', uplink]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    rmSync(lockDir, { recursive: true, force: true });
  };
  try {
    await run('ip', ['netns', 'add', netns]);
    const rootBatch = [
      `link add ${uplink} type veth peer name eth0 netns ${netns}`,
      `addr add ${prefix}.1/24 dev ${uplink}`,
      `link set ${uplink} up`,
    ];
    const nsBatch = ['link set lo up', `addr add ${address}/24 dev eth0`, 'link set eth0 up'];
    await run('sh', [
      '-c',
      `ip -batch - <<'EOF'\n${rootBatch.join('\n')}\nEOF\nip -n ${netns} -batch - <<'EOF'\n${nsBatch.join('\n')}\nEOF`,
    ]);
    let htpasswd: string | undefined;
    if (auth === 'basic') {
      htpasswd = join(dir, 'htpasswd');
      const lines = Object.entries(users).map(([user, password]) => `${user}:${bcrypt.hashSync(password, 5)}`);
      writeFileSync(htpasswd, `${lines.join('\n')}\n`);
    }
    const configFile = join(dir, 'config.yml');
    writeFileSync(configFile, registryConfig(htpasswd === undefined ? { storage } : { storage, htpasswd }));
    registry = spawn('ip', ['netns', 'exec', netns, 'docker-registry', 'serve', configFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    registry.stderr?.resume();
    const frontConfig = join(dir, 'front.json');
    writeFileSync(frontConfig, JSON.stringify({ address, auth, users }));
    const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    front = spawn(
      'ip',
      [
        'netns',
        'exec',
        netns,
        process.execPath,
        '--import',
        'tsx',
        join(repoRoot, 'test/support/test-registry-server.ts'),
        frontConfig,
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    await waitReady(front, (line) => {
      try {
        const request = JSON.parse(line) as RegistryRequest;
        requests.push(request);
        for (const waiter of [...waiters]) waiter(request);
      } catch {
        // Not a log line.
      }
    });
  } catch (error) {
    await close();
    throw error;
  }
  const [user, password] = Object.entries(users)[0] ?? [];
  return {
    host,
    refFor: (repo, tagName) => `${host}/${repo}:${tagName}`,
    requests,
    async push(layoutDir, imageTag, repoTag) {
      const creds = user === undefined || auth === 'none' ? [] : ['--dest-creds', `${user}:${password ?? ''}`];
      await run('skopeo', [
        'copy',
        '--quiet',
        '--all',
        '--preserve-digests',
        '--dest-tls-verify=false',
        ...creds,
        `oci:${layoutDir}:${imageTag}`,
        `docker://${host}/${repoTag}`,
      ]);
    },
    stallBlob: (digest) => controlCall(host, `/__control/stall?digest=${digest}`),
    release: () => controlCall(host, '/__control/release'),
    waitForRequest(match) {
      const seen = requests.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => {
        const waiter = (request: RegistryRequest): void => {
          if (!match(request)) return;
          waiters.delete(waiter);
          resolve(request);
        };
        waiters.add(waiter);
      });
    },
    corruptBlob(digest) {
      const hex = digest.replace(/^sha256:/, '');
      const file = join(storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
      const data = readFileSync(file);
      for (let i = 0; i < data.length; i++) data[i] = (data[i] ?? 0) ^ 0xff;
      writeFileSync(file, data);
    },
    close,
  };
}

/** Test helper: the files left in a layout's top dir and blobs (to show nothing was left behind). */
export function layoutFiles(layoutDir: string): string[] {
  return [
    ...readdirSync(layoutDir).map((name) => name),
    ...readdirSync(join(layoutDir, 'blobs', 'sha256')).map((name) => `blobs/sha256/${name}`),
  ];
}

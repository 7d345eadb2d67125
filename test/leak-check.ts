/**
 * Global teardown of the test run: fails (exit 1) if any sandbox, mount, loop device,
 * cgroup, runtime state or live store row is left behind by the suites.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { TEST_CGROUP_PARENT, TEST_DATA_DIR, TEST_ROOT } from './support/env.js';

const leaks: string[] = [];

const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
  .split('\n')
  .map((line) => line.split(' ')[4] ?? '')
  .filter((mountPoint) => mountPoint.startsWith(TEST_ROOT));
for (const m of mounts) leaks.push(`mount ${m}`);

const loops = JSON.parse(
  execFileSync('losetup', ['--json', '--list'], { encoding: 'utf8' }) || '{"loopdevices":[]}',
) as {
  loopdevices?: { name: string; 'back-file': string | null }[];
};
for (const loop of loops.loopdevices ?? []) {
  if (loop['back-file']?.startsWith(TEST_ROOT)) leaks.push(`loop device ${loop.name} on ${loop['back-file']}`);
}

// The servers' sandboxes, and the runtime conformance suite's (its own parent).
for (const controller of readdirSync('/sys/fs/cgroup'))
  for (const name of [TEST_CGROUP_PARENT, `${TEST_CGROUP_PARENT}-runtime`]) {
    const parent = join('/sys/fs/cgroup', controller, name);
    if (!existsSync(parent)) continue;
    for (const entry of readdirSync(parent, { withFileTypes: true })) {
      if (entry.isDirectory()) leaks.push(`cgroup ${join(parent, entry.name)}`);
    }
  }

const sandboxesDir = join(TEST_DATA_DIR, 'sandboxes');
if (existsSync(sandboxesDir))
  for (const id of readdirSync(sandboxesDir)) leaks.push(`sandbox dir ${join(sandboxesDir, id)}`);

const runtimeDir = join(TEST_DATA_DIR, 'runtime');
if (existsSync(runtimeDir)) {
  for (const runtime of readdirSync(runtimeDir)) {
    const stateDir = join(runtimeDir, runtime);
    for (const entry of readdirSync(stateDir, { withFileTypes: true })) {
      if (/^[a-z0-9]{20}/.test(entry.name)) leaks.push(`${runtime} state ${join(stateDir, entry.name)}`);
    }
  }
}

const dbFile = join(TEST_DATA_DIR, 'paddock.db');
if (existsSync(dbFile)) {
  const db = new Database(dbFile, { readonly: true });
  const rows = db
    .prepare(
      "SELECT id, state FROM sandboxes WHERE state IN ('starting', 'running', 'stopping', 'pausing', 'paused', 'hibernating', 'hibernated', 'resuming')",
    )
    .all() as {
    id: string;
    state: string;
  }[];
  for (const row of rows) leaks.push(`store row ${row.id} still ${row.state}`);
  db.close();
}

// Sandbox networks: per-sandbox dirs, host veths (`pk` + 12 chars of an id of this data dir)
// and the server's nftables table (named after the cgroup parent).
const networkDir = join(TEST_DATA_DIR, 'network');
if (existsSync(networkDir)) for (const id of readdirSync(networkDir)) leaks.push(`network dir ${join(networkDir, id)}`);
if (existsSync(dbFile)) {
  const db = new Database(dbFile, { readonly: true });
  const ids = new Set((db.prepare('SELECT id FROM sandboxes').pluck().all() as string[]).map((id) => id.slice(0, 12)));
  db.close();
  const links = JSON.parse(execFileSync('ip', ['-j', 'link', 'show'], { encoding: 'utf8' })) as { ifname: string }[];
  for (const { ifname } of links) {
    if (/^pk[a-z0-9]{12}$/.test(ifname) && ids.has(ifname.slice(2))) leaks.push(`veth ${ifname}`);
  }
}
const nftTable = `paddock_${TEST_CGROUP_PARENT.replace(/-/g, '_')}`;
try {
  execFileSync('nft', ['list', 'table', 'inet', nftTable], { stdio: 'ignore' });
  leaks.push(`nftables table inet ${nftTable}`);
} catch {
  // no table: nothing left
}

if (leaks.length > 0) {
  console.error(`leak check: FAILED, ${leaks.length} leftover(s):\n  ${leaks.join('\n  ')}`);
  process.exit(1);
}
console.log(
  'leak check: nothing left behind (mounts, loop devices, cgroups, sandbox dirs, runtime state, store, veths, network dirs, nftables)',
);

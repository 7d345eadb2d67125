// Threat table, symlink races on the files API: a sandbox's root swaps a directory for a
// symlink in a tight loop (renameat2 RENAME_EXCHANGE where the kernel has it) while the test
// reads, lists, writes, renames, removes and makes entries through that directory. The
// symlinks name a canary dir on the host and another sandbox's files by their host paths; the
// sandbox keeps decoys at the same paths inside itself, so a link followed inside the sandbox
// shows up as a decoy while one followed on the host would show the canary's secret. The race
// dir is on the root filesystem (gVisor keeps /tmp in its own memory, out of the host's sight).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CommandHandle, Sandbox } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import { TEST_DATA_DIR, TEST_ROOT } from '../support/env.js';
import { startTestServer, type TestConnection } from '../support/server.js';

/** The sandbox's side: decoys, one symlink per target, then swaps until it is killed. */
const ATTACKER = `
import ctypes, os, sys, time
targets = sys.argv[1:]
race = '/var/tmp/race'
os.makedirs(race, exist_ok=True)
os.chmod(race, 0o777)
libc = ctypes.CDLL(None, use_errno=True)

def exchange(a, b):
    return libc.syscall(316, -100, a.encode(), -100, b.encode(), 2) == 0  # renameat2 RENAME_EXCHANGE

def fill(path, content):
    """(Re)makes a world-writable dir with secret.txt: the test's calls remove and rename it."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o777)
    if not os.path.exists(path + '/secret.txt'):
        with open(path + '/secret.txt', 'w') as f:
            f.write(content)
        os.chmod(path + '/secret.txt', 0o666)

def restore():
    """Puts the directory back after a swap that failed half way."""
    if os.path.islink(race + '/d'):
        os.unlink(race + '/d')
    if os.path.isdir(race + '/parked'):
        os.rename(race + '/parked', race + '/d')

for i, target in enumerate(targets):
    fill(target, 'decoy')
    os.symlink(target, f'{race}/link{i}')
fill(race + '/d', 'inside')
swap = exchange(race + '/d', race + '/link0') and exchange(race + '/d', race + '/link0')
print('ready', 'exchange' if swap else 'rename', flush=True)
while True:
    for i in range(len(targets)):
        link = f'{race}/link{i}'
        try:
            # About half the time in each state, a thousand swaps a second.
            if swap:
                exchange(race + '/d', link)
                time.sleep(0.0005)
                exchange(race + '/d', link)
            else:
                os.rename(race + '/d', race + '/parked')
                os.symlink(targets[i], race + '/d')
                time.sleep(0.0005)
                os.unlink(race + '/d')
                os.rename(race + '/parked', race + '/d')
        except OSError:
            restore()
        try:
            fill(race + '/d', 'inside')
            fill(targets[i], 'decoy')
        except OSError:
            pass
        time.sleep(0.0005)
`;

const HOST_SECRET = `host-${randomBytes(12).toString('hex')}`;
const OTHER_SECRET = `other-${randomBytes(12).toString('hex')}`;
const HOST_ONLY = `host-only-${randomBytes(4).toString('hex')}`;
const OTHER_ONLY = `other-only-${randomBytes(4).toString('hex')}`;
/** Names the test's writes, renames and mkdirs create: none may appear outside the sandbox. */
const MADE = /^(written|moved|made)-/;
const MIN_ROUNDS = 15;
const MAX_RACE_MS = 30_000;

let server: RunningServer;
let conn: TestConnection;
let canaryDir: string;
let other: Sandbox;
const made: Sandbox[] = [];

before(async () => {
  ({ server, conn } = await startTestServer());
  await mkdir(TEST_ROOT, { recursive: true });
  canaryDir = await mkdtemp(join(TEST_ROOT, 'canary-'));
  await writeFile(join(canaryDir, 'secret.txt'), HOST_SECRET);
  await writeFile(join(canaryDir, HOST_ONLY), '');
  // relatime updates an atime that is older than the mtime: any read on the host would show.
  await utimes(join(canaryDir, 'secret.txt'), 0, new Date());
  other = await Sandbox.create({ ...conn, metadata: { suite: 'security-files-races' } });
  made.push(other);
  await other.files.write('/home/user/secret.txt', OTHER_SECRET);
  await other.files.write(`/home/user/${OTHER_ONLY}`, '');
});

after(async () => {
  await Promise.allSettled(made.map((s) => s.kill()));
  await server?.close();
  if (canaryDir) await rm(canaryDir, { recursive: true, force: true });
});

/** Host paths the attacker points its symlinks at: the canary and the other sandbox's home. */
function hostTargets(): string[] {
  const otherDir = join(TEST_DATA_DIR, 'sandboxes', other.id);
  return [canaryDir, join(otherDir, 'rootfs', 'home', 'user'), join(otherDir, 'layer', 'upper', 'home', 'user')];
}

interface RaceLog {
  mode: string;
  rounds: number;
  reads: string[];
  listed: string[];
  errors: Map<string, number>;
}

/** Starts the attacker, then runs every files call through /tmp/race/d until both sides were seen. */
async function race(sbx: Sandbox): Promise<RaceLog> {
  await sbx.files.write('/tmp/attacker.py', ATTACKER, { mode: 0o644 });
  let ready!: (mode: string) => void;
  const started = new Promise<string>((resolve) => {
    ready = resolve;
  });
  const attacker: CommandHandle = await sbx.commands.run(
    ['nice', '-n', '19', 'python3', '/tmp/attacker.py', ...hostTargets()],
    {
      user: 'root',
      background: true,
      onStdout: (data) => {
        const mode = /^ready (\w+)/.exec(data)?.[1];
        if (mode) ready(mode);
      },
    },
  );
  const log: RaceLog = { mode: await started, rounds: 0, reads: [], listed: [], errors: new Map() };
  const d = '/var/tmp/race/d';
  const attempt = async <T>(call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call();
    } catch (err) {
      const name = (err as Error).name;
      log.errors.set(name, (log.errors.get(name) ?? 0) + 1);
      return undefined;
    }
  };
  const deadline = Date.now() + MAX_RACE_MS;
  try {
    for (let i = 0; ; i++) {
      // All at once: the calls race each other as well as the swaps.
      const [read, listed, ran] = await Promise.all([
        attempt(() => sbx.files.read(`${d}/secret.txt`)),
        attempt(() => sbx.files.list(d)),
        attempt(() => sbx.commands.run(['cat', 'secret.txt'], { cwd: d })),
        attempt(() => sbx.files.write(`${d}/written-${i}`, 'x')),
        attempt(() => sbx.files.mkdir(`${d}/made-${i}`)),
        attempt(() => sbx.files.rename(`${d}/secret.txt`, `${d}/moved-${i}`)),
        attempt(() => sbx.files.remove(`${d}/secret.txt`)),
      ]);
      if (read !== undefined) log.reads.push(read);
      if (listed) log.listed.push(...listed.map((e) => e.name));
      if (ran) log.reads.push(ran.stdout);
      log.rounds = i + 1;
      const bothSides = log.reads.includes('inside') && log.reads.includes('decoy');
      if ((bothSides && log.rounds >= MIN_ROUNDS) || Date.now() > deadline) break;
    }
  } finally {
    await attacker.kill().catch(() => undefined);
  }
  return log;
}

/**
 * Names and bytes of the canary dir's entries. Reading moves the secret's atime, so it is put
 * back to 0 afterwards (with the same mtime) for the next isolation's check.
 */
async function canaryState(): Promise<Record<string, string>> {
  const state: Record<string, string> = {};
  for (const entry of await readdir(canaryDir, { withFileTypes: true })) {
    const path = join(canaryDir, entry.name);
    state[entry.name] = entry.isFile() ? await readFile(path, 'utf8') : '<not a file>';
  }
  const secret = join(canaryDir, 'secret.txt');
  await utimes(secret, 0, (await stat(secret)).mtime);
  return state;
}

for (const isolation of ['container', 'gvisor'] as const) {
  describe(`files API against a sandbox that swaps a directory for a symlink (${isolation})`, () => {
    let log: RaceLog;
    let canaryAtimeMs: number;
    before(async () => {
      const sbx = await Sandbox.create({ ...conn, isolation, metadata: { suite: 'security-files-races' } });
      made.push(sbx);
      log = await race(sbx);
      canaryAtimeMs = (await stat(join(canaryDir, 'secret.txt'))).atimeMs;
    });

    test("the files API never reads a host file or another sandbox's file through a directory the sandbox swaps for a symlink", (t) => {
      t.diagnostic(`${log.rounds} rounds (${log.mode}); errors: ${JSON.stringify(Object.fromEntries(log.errors))}`);
      // The race was real: calls went through the directory and through the symlinks.
      assert.ok(log.reads.includes('inside'), 'a read went through the directory');
      assert.ok(log.reads.includes('decoy'), 'a read followed a symlink, inside the sandbox');
      for (const secret of [HOST_SECRET, OTHER_SECRET]) {
        assert.ok(!log.reads.some((r) => r.includes(secret)), `a read returned ${secret}`);
      }
      for (const name of [HOST_ONLY, OTHER_ONLY]) assert.ok(!log.listed.includes(name), `a listing showed ${name}`);
      assert.equal(canaryAtimeMs, 0, "the host canary's atime moved: something on the host read it");
    });

    test('the files API never writes, renames, removes or makes anything outside the sandbox through a swapped directory', async () => {
      assert.deepEqual(await canaryState(), { 'secret.txt': HOST_SECRET, [HOST_ONLY]: '' });
      const otherEntries = (await other.files.list('/home/user')).map((e) => e.name);
      assert.deepEqual(
        otherEntries.filter((name) => MADE.test(name) || name === 'secret.txt' || name === OTHER_ONLY).sort(),
        [OTHER_ONLY, 'secret.txt'].sort(),
      );
      assert.equal(await other.files.read('/home/user/secret.txt'), OTHER_SECRET);
    });
  });
}

// Threat table, runtime escapes: escape-probes.py runs inside a crun and a gVisor sandbox, as the
// sandbox's root and as `user`, and every threat below asserts the exact errno of each attempt
// next to a control attempt that must work, so a probe that breaks for another reason fails too.
// The host control at the end runs the syscall probes outside any sandbox, where they succeed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TEST_CGROUP_PARENT, TEST_DATA_DIR } from '../support/env.js';
import { useTestServer } from '../support/server.js';

type Isolation = 'container' | 'gvisor';
type User = 'root' | 'user';
type Outcome = string | string[];
/** probe → attempt → outcome, as escape-probes.py prints it. */
type Report = Record<string, Record<string, Outcome>>;

/** An attempt not asserted in one isolation or for one user, and why. */
interface NotChecked {
  skip: string;
}
type ForUser = Outcome | NotChecked | { root: Outcome | NotChecked; user: Outcome | NotChecked };
type Want = ForUser | { container: ForUser; gvisor: ForUser };

interface Threat {
  /** The test's name: what it defends against. */
  name: string;
  probe: string;
  want: Record<string, Want>;
}

const PROBES = fileURLToPath(new URL('./escape-probes.py', import.meta.url));
const ISOLATIONS: Isolation[] = ['container', 'gvisor'];
const USERS: User[] = ['root', 'user'];
const GVISOR_PROC = "gVisor's /proc/sys is its sentry's own emulation: a write there never reaches the host kernel";

const THREATS: Threat[] = [
  {
    name: 'a sandbox cannot reach kernel surface it never needs: io_uring, bpf, perf_event_open, userfaultfd, keyrings',
    probe: 'kernel surface',
    want: {
      'getpid (control)': 'ok',
      io_uring_setup: 'EPERM',
      'bpf map create': 'EPERM',
      perf_event_open: 'EPERM',
      userfaultfd: 'EPERM',
      'keyctl get session keyring': 'EPERM',
      add_key: 'EPERM',
    },
  },
  {
    name: 'a sandbox cannot create a user namespace (a full capability set over fresh namespaces)',
    probe: 'user namespaces',
    want: {
      'fork (control)': 'ok',
      'unshare(0) (control)': 'ok',
      'unshare(CLONE_NEWUSER)': 'EPERM',
      'clone(CLONE_NEWUSER)': 'EPERM',
      // clone3 hides its flags from seccomp: ENOSYS sends glibc back to clone(2), which is checked.
      'clone3(CLONE_NEWUSER)': {
        container: 'ENOSYS',
        gvisor: {
          skip: "gVisor keeps clone3 (Node's threads need it); its user namespaces live in the sentry, never in the host kernel",
        },
      },
    },
  },
  {
    name: 'a sandbox cannot open raw or packet sockets (spoofing and sniffing on its network)',
    probe: 'raw sockets',
    want: {
      'tcp socket (control)': 'ok',
      'udp socket (control)': 'ok',
      'AF_INET SOCK_RAW': 'EPERM',
      'AF_INET6 SOCK_RAW': 'EPERM',
      'AF_PACKET SOCK_RAW': 'EPERM',
    },
  },
  {
    name: 'a sandbox cannot mount, unmount or remount: no fresh fs, no writable agent mount, no unmasked /proc/kcore, no handle opens',
    probe: 'mounts',
    want: {
      'mkdir in /tmp (control)': 'ok',
      'mount tmpfs': 'EPERM',
      'remount /opt/paddock read-write': 'EPERM',
      'umount the mask over /proc/kcore': 'EPERM',
      'umount /opt/paddock': 'EPERM',
      'fsopen tmpfs': 'EPERM',
      'open_tree clone of /': 'EPERM',
      open_by_handle_at: 'EPERM',
    },
  },
  {
    name: 'a sandbox cannot reach a cgroup release_agent nor raise its own cgroup limits',
    probe: 'cgroups',
    want: {
      'read pids.max (control)': 'ok',
      'mount a cgroup v1 hierarchy': 'EPERM',
      // Only the root of a hierarchy has one, and a sandbox's cgroup namespace starts below it.
      'open release_agent for writing': ['none found'],
      'open notify_on_release for writing': { container: ['EACCES'], gvisor: ['none found'] },
      // The host's limits are compared before and after in the test itself, for gVisor's sake.
      'raise pids.max': {
        container: 'EROFS',
        gvisor: {
          root: { skip: "gVisor's cgroupfs is the sentry's own; the host's limits are checked" },
          user: 'EACCES',
        },
      },
      'raise memory.limit_in_bytes': {
        container: 'EROFS',
        gvisor: {
          root: { skip: "gVisor's cgroupfs is the sentry's own; the host's limits are checked" },
          user: 'EACCES',
        },
      },
    },
  },
  {
    name: 'a sandbox cannot write kernel settings under /proc/sys (core_pattern would run a host program as root)',
    probe: 'proc sys',
    want: {
      'read overcommit_memory (control)': 'ok',
      core_pattern: { container: 'EACCES', gvisor: 'ENOENT' },
      drop_caches: { container: 'EACCES', gvisor: 'ENOENT' },
      randomize_va_space: { container: 'EACCES', gvisor: 'ENOENT' },
      overcommit_memory: { container: 'EACCES', gvisor: { root: { skip: GVISOR_PROC }, user: 'EACCES' } },
      ip_forward: { container: 'EACCES', gvisor: { root: { skip: GVISOR_PROC }, user: 'EACCES' } },
    },
  },
  {
    name: 'no process in a sandbox holds a host directory (cwd, root or open fd) that `..` climbs out of',
    probe: 'fd leaks',
    want: {
      'walk from /tmp reaches / (control)': 'ok',
      'links looked at (control)': 'ok',
      'dirs outside the sandbox': [],
    },
  },
  {
    name: 'a sandbox cannot make a device node that reaches a host device',
    probe: 'devices',
    want: {
      'mknod a fifo (control)': 'ok',
      // gVisor makes the node in its own tmpfs, with no driver behind it.
      'the block device 8:0': { container: 'EPERM', gvisor: 'ENXIO' },
      '/dev/mem (char 1:1)': { container: 'EPERM', gvisor: 'ENXIO' },
    },
  },
  {
    name: 'a sandbox cannot overwrite the binaries the host shares with it, and runs none from outside (CVE-2019-5736)',
    probe: 'exe',
    want: {
      'read /proc/self/exe (control)': 'ok',
      'open /proc/self/exe for writing': {
        container: { root: 'ETXTBSY', user: 'EACCES' },
        gvisor: {
          root: { skip: "gVisor has no ETXTBSY: python3 is the sandbox's own file, which its root may rewrite" },
          user: 'EACCES',
        },
      },
      'open /proc/1/exe (tini) for writing': 'EACCES',
      "open the agent's /proc/PID/exe for writing": 'EACCES',
      'open /opt/paddock/bin/node for writing': 'EACCES',
      'binaries from outside the sandbox': [],
    },
  },
];

const { sandbox } = useTestServer({ metadata: { suite: 'security-runtime-escapes' } });

/** The host file that is the stdout and stderr of a sandbox's init (on its layer image). */
const initLogOf = (id: string) => join(TEST_DATA_DIR, 'sandboxes', id, 'layer', 'sandbox.log');

/** What the host sees of a sandbox: its runtime log's size and its cgroup limits. */
async function hostView(id: string): Promise<{ logBytes: number; limits: string[] }> {
  const cgroup = (controller: string, file: string) =>
    readFile(join('/sys/fs/cgroup', controller, TEST_CGROUP_PARENT, id, file), 'utf8');
  const [log, memory, pids] = await Promise.all([
    stat(initLogOf(id)),
    cgroup('memory', 'memory.limit_in_bytes'),
    cgroup('pids', 'pids.max'),
  ]);
  return { logBytes: log.size, limits: [memory.trim(), pids.trim()] };
}

interface Run {
  reports: Record<User, Report>;
  before: Awaited<ReturnType<typeof hostView>>;
  after: Awaited<ReturnType<typeof hostView>>;
}

/** One sandbox, the probes as root then as `user`, and the host's view around them. */
async function probe(isolation: Isolation): Promise<Run> {
  const sbx = await sandbox({ isolation });
  await sbx.files.write('/tmp/escape-probes.py', await readFile(PROBES, 'utf8'), { mode: 0o644 });
  const hostBefore = await hostView(sbx.id);
  const reports = {} as Record<User, Report>;
  for (const user of USERS) {
    const { stdout } = await sbx.commands.run(['python3', '/tmp/escape-probes.py'], { user });
    reports[user] = JSON.parse(stdout) as Report;
  }
  return { reports, before: hostBefore, after: await hostView(sbx.id) };
}

function isOutcome(want: unknown): want is Outcome {
  return typeof want === 'string' || Array.isArray(want);
}

/** The expectation of one attempt for one isolation and user. */
function wanted(want: Want, isolation: Isolation, user: User): Outcome | NotChecked {
  let forUser: ForUser = want as ForUser;
  if (!isOutcome(want) && 'container' in want) forUser = want[isolation];
  if (!isOutcome(forUser) && 'root' in forUser) return forUser[user];
  return forUser;
}

for (const isolation of ISOLATIONS) {
  describe(`runtime escapes (${isolation})`, () => {
    let run: Run;
    before(async () => {
      run = await probe(isolation);
    });

    for (const threat of THREATS) {
      test(threat.name, (t) => {
        for (const user of USERS) {
          const got = run.reports[user][threat.probe];
          assert.ok(got, `escape-probes.py reported no "${threat.probe}"`);
          const expected: Record<string, Outcome> = {};
          const actual: Record<string, Outcome> = {};
          for (const [attempt, want] of Object.entries(threat.want)) {
            const one = wanted(want, isolation, user);
            if (!isOutcome(one)) {
              t.diagnostic(`${user}: "${attempt}" not checked: ${one.skip} (got ${JSON.stringify(got[attempt])})`);
              continue;
            }
            expected[attempt] = one;
            actual[attempt] = got[attempt] ?? 'not reported';
          }
          assert.deepEqual(actual, expected, `as ${user} in a ${isolation} sandbox`);
        }
      });
    }

    test("a sandbox's writes to its cgroup files leave the host's limits around it as they were", () => {
      assert.deepEqual(run.after.limits, run.before.limits);
    });

    test("a sandbox's writes to the stdout its init inherited count against its own disk cap, never the host's", async () => {
      // PID 1's stdout is a host file the sandbox's root can append to (/proc/1/fd/1): it lives
      // on the sandbox's layer image, so it fills that (64 MiB here), not the host's disk.
      const small = await sandbox({ isolation, diskMiB: 64 });
      const r = await small.commands.run('head -c 100M /dev/zero >> /proc/1/fd/1; echo "rc=$?"', { user: 'root' });
      assert.match(r.stdout + r.stderr, /No space left on device/);
      const { size } = await stat(initLogOf(small.id));
      assert.ok(size <= 64 * 1024 * 1024, `the init's log grew to ${size} bytes, past the 64 MiB cap`);
      assert.equal((await small.commands.run('echo alive')).stdout, 'alive\n', 'the agent lives on');
    });
  });
}

test('control: outside any sandbox the same syscall and socket probes succeed', async () => {
  const { stdout } = await promisify(execFile)('/usr/bin/python3', [PROBES, '--host']);
  const report = JSON.parse(stdout) as Report;
  for (const [probe, attempts] of Object.entries(report)) {
    for (const [attempt, outcome] of Object.entries(attempts)) {
      assert.equal(outcome, 'ok', `${probe}: ${attempt} on the host`);
    }
  }
  assert.deepEqual(Object.keys(report), ['kernel surface', 'user namespaces', 'raw sockets']);
});

import { type ChildProcess, spawn } from 'node:child_process';
import { readlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { UID_BASE, UID_COUNT } from '../runtime/uid-map.js';
import { type ProcessResult, runProcess } from './process.js';

export interface RootfsCommand {
  /** An already uid-shifted root filesystem. */
  rootfs: string;
  /** Program and arguments, resolved inside the rootfs. */
  argv: readonly string[];
  /** The command's whole environment. */
  env: Readonly<Record<string, string>>;
  stdin?: Uint8Array;
  /** Working directory inside the rootfs (must exist); `/` by default. */
  cwd?: string;
  /**
   * A network namespace to run in (a build network, see steps/build-network.ts) and the
   * resolv.conf of its resolver; without it the command has loopback only.
   */
  network?: { netnsPath: string; resolvConf: string } | undefined;
  /** A host dir bound read-only at /dev/.paddock-tools (the build tools: setpriv and its libraries). */
  tools?: string;
  signal?: AbortSignal | undefined;
  onLine?: (line: string) => void;
}

/**
 * Runs an untrusted command as root *inside* `rootfs`, never as host root: in a user
 * namespace that maps 0..65535 to UID_BASE.., with its own pid, mount, network (loopback
 * only, no route out), IPC and UTS namespaces, and the rootfs as the real root of its mount
 * namespace (bubblewrap pivots into it; a plain chroot can be left by root in the
 * namespace). /dev is a fresh minimal tmpfs and /proc belongs to the new pid namespace.
 *
 * util-linux's `unshare --map-users` needs /etc/subuid entries for root, so the mapping is
 * written here instead: a holder process enters a new user namespace, host root writes its
 * uid_map/gid_map, and bubblewrap runs inside that namespace through nsenter.
 */
export async function runInRootfs(command: RootfsCommand): Promise<ProcessResult> {
  command.signal?.throwIfAborted();
  const holder = await startUserNamespace();
  try {
    // Root of the namespace cannot walk a path through host dirs that only host root may
    // enter (e.g. a data dir with mode 0700), so host root binds what bwrap needs into the
    // holder's private mount namespace: the rootfs onto /mnt, the step's tools and resolv.conf
    // onto a tmpfs over /run (the host's /run is untouched), and bwrap starts from there.
    const bind = await runProcess({
      file: '/usr/bin/nsenter',
      args: [
        `--target=${holder.pid}`,
        '--mount',
        '--',
        '/bin/sh',
        '-c',
        BIND_SCRIPT,
        'sh',
        command.rootfs,
        SANDBOX_ROOT,
        command.tools ?? '',
        command.network?.resolvConf ?? '',
      ],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      signal: command.signal,
    });
    if (bind.exitCode !== 0) throw new Error(`bind-mounting ${command.rootfs} failed: ${bind.tail.join('\n')}`);
    const network = command.network;
    // Host root joins the build network first: from inside the user namespace, joining a
    // network namespace of the host's user namespace is not allowed.
    const viaNetwork = network === undefined ? [] : [`--net=${network.netnsPath}`, '--', '/usr/bin/nsenter'];
    const options = {
      file: '/usr/bin/nsenter',
      args: [
        ...viaNetwork,
        `--target=${holder.pid}`,
        '--user',
        '--mount',
        '--',
        '/usr/bin/bwrap',
        '--bind',
        SANDBOX_ROOT,
        '/',
        '--dev',
        '/dev',
        ...(command.tools === undefined ? [] : ['--ro-bind', `${HOLDER_BINDS}/tools`, '/dev/.paddock-tools']),
        '--proc',
        '/proc',
        '--unshare-pid',
        ...(network === undefined
          ? ['--unshare-net']
          : ['--ro-bind', `${HOLDER_BINDS}/resolv.conf`, '/etc/resolv.conf']),
        '--unshare-ipc',
        '--unshare-uts',
        '--hostname',
        'paddock-build',
        '--die-with-parent',
        '--new-session',
        '--chdir',
        command.cwd ?? '/',
        '--',
        ...command.argv,
      ],
      env: command.env,
      signal: command.signal,
      ...(command.stdin === undefined ? {} : { stdin: command.stdin }),
      ...(command.onLine === undefined ? {} : { onLine: command.onLine }),
    };
    return await runProcess(options);
  } finally {
    holder.stop();
  }
}

interface NamespaceHolder {
  pid: number;
  stop: () => void;
}

/** Where the rootfs is bound in the holder's mount namespace (the host's /mnt is untouched). */
const SANDBOX_ROOT = '/mnt';
/** A tmpfs in the holder's mount namespace for the other host paths a step sees. */
const HOLDER_BINDS = '/run';
/** $1 rootfs → $2; $3 tools dir and $4 resolv.conf (each optional) onto a tmpfs at /run. */
const BIND_SCRIPT = [
  'set -e',
  'mount --bind -- "$1" "$2"',
  'if [ -n "$3$4" ]; then mount -t tmpfs -o mode=0755,size=1m paddock-build /run; fi',
  'if [ -n "$3" ]; then mkdir /run/tools; mount --bind -- "$3" /run/tools; fi',
  'if [ -n "$4" ]; then : > /run/resolv.conf; mount --bind -- "$4" /run/resolv.conf; fi',
].join('\n');

/** Longest wait for the holder to enter its new user namespace. */
const HOLDER_READY_MS = 5_000;

async function startUserNamespace(): Promise<NamespaceHolder> {
  // `cat` waits on a pipe from us: it exits when we close it or when the server dies,
  // so a crash never leaves a holder behind.
  // --mount: a private copy of the host's mounts (unshare makes it private), for the bind.
  const child = spawn('/usr/bin/unshare', ['--user', '--mount', '--', '/usr/bin/cat'], {
    stdio: ['pipe', 'ignore', 'ignore'],
    env: {},
  });
  const stop = (): void => {
    child.stdin?.end();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  try {
    const pid = await waitForNewUserNamespace(child);
    const map = `0 ${UID_BASE} ${UID_COUNT}\n`;
    await writeFile(`/proc/${pid}/uid_map`, map);
    await writeFile(`/proc/${pid}/gid_map`, map);
    return { pid, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

async function waitForNewUserNamespace(child: ChildProcess): Promise<number> {
  const own = await readlink('/proc/self/ns/user');
  const deadline = Date.now() + HOLDER_READY_MS;
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => {});
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) break;
    const ns = await readlink(`/proc/${child.pid}/ns/user`).catch(() => own);
    if (ns !== own) return child.pid;
    await Promise.race([sleep(2), spawnError]);
  }
  throw new Error('could not create a user namespace for the build step (unshare --user failed)');
}

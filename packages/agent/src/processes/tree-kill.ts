import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { executable } from '../fs-checks.js';

/**
 * Finds and signals everything a command started. A command leads its own session and
 * process group (spawned detached), but a daemon that double-forks and calls setsid()
 * leaves both, and once its middle process exits it is re-parented to PID 1, so no
 * ancestry links it to the command either. What it keeps is its environment: every
 * command gets `PADDOCK_PROCESS_ID=<id>` and descendants inherit it. The agent may not read
 * another user's environment (sandboxes grant no CAP_SYS_PTRACE), so those are checked by
 * `grep` run as their owner. A process belongs to
 * the command when any of these holds: its pgid or sid is the command's pid, it descends
 * from the command, or its environment carries the command's marker.
 */

/** The environment variable naming the process id of the command a process belongs to. */
export const PROCESS_MARKER_ENV = 'PADDOCK_PROCESS_ID';

interface ProcStat {
  pid: number;
  ppid: number;
  pgid: number;
  sid: number;
  zombie: boolean;
}

/** The command whose processes are wanted: its leader's pid and its process id. */
export interface ProcessTreeRoot {
  pid: number;
  id: string;
}

/** How many scan-and-signal rounds a SIGKILL gets: each round catches forks of the last. */
const KILL_ROUNDS = 20;

/** Pids (live, not zombies) that belong to the command, the leader included if alive. */
export function treeMembers(root: ProcessTreeRoot): number[] {
  const procs = readProcs();
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const members = new Set<number>();
  const descend = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      if (!members.has(child)) {
        members.add(child);
        descend(child);
      }
    }
  };
  const marker = Buffer.from(`${PROCESS_MARKER_ENV}=${root.id}\0`);
  const unreadable: number[] = [];
  const add = (pid: number) => {
    members.add(pid);
    descend(pid);
  };
  for (const p of procs) {
    if (p.pid === root.pid || p.pgid === root.pid || p.sid === root.pid) add(p.pid);
    else {
      const marked = hasMarker(p.pid, marker);
      if (marked === true) add(p.pid);
      else if (marked === 'unreadable') unreadable.push(p.pid);
    }
  }
  for (const pid of markedAsOwner(unreadable, `${PROCESS_MARKER_ENV}=${root.id}`)) add(pid);
  const live = new Set(procs.filter((p) => !p.zombie).map((p) => p.pid));
  // Never the agent or init, whatever a command did to its environment.
  return [...members].filter((pid) => live.has(pid) && pid !== process.pid && pid !== 1);
}

/**
 * Sends `signal` to every member. SIGKILL repeats until no member is left (or the rounds
 * run out), so processes forked between a scan and the kill are caught by the next scan.
 * Returns how many processes were signalled.
 */
export function signalTree(root: ProcessTreeRoot, signal: NodeJS.Signals): number {
  let signalled = 0;
  const rounds = signal === 'SIGKILL' ? KILL_ROUNDS : 1;
  for (let round = 0; round < rounds; round++) {
    // The group first: one syscall reaches every member that stayed in it.
    trySignal(-root.pid, signal);
    const members = treeMembers(root);
    if (members.length === 0) break;
    for (const pid of members) if (trySignal(pid, signal)) signalled++;
  }
  return signalled;
}

function trySignal(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    // ESRCH: gone already.
    return false;
  }
}

function readProcs(): ProcStat[] {
  const procs: ProcStat[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.push({
        pid: Number(name),
        zombie: fields[0] === 'Z' || fields[0] === 'X',
        ppid: Number(fields[1]),
        pgid: Number(fields[2]),
        sid: Number(fields[3]),
      });
    } catch {
      // Exited while we looked.
    }
  }
  return procs;
}

function hasMarker(pid: number, marker: Buffer): boolean | 'unreadable' {
  try {
    const environ = readFileSync(`/proc/${pid}/environ`);
    return environ.indexOf(marker) === 0 || environ.indexOf(Buffer.concat([Buffer.from([0]), marker])) >= 0;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? 'unreadable' : false;
  }
}

const GREP = ['/usr/bin/grep', '/bin/grep'];

/** Pids among `pids` whose environment holds the `line`, read by `grep` as each owner. */
function markedAsOwner(pids: number[], line: string): number[] {
  const grep = GREP.find(executable);
  if (grep === undefined || pids.length === 0) return [];
  const byOwner = new Map<string, string[]>();
  for (const pid of pids) {
    try {
      const { uid, gid } = statSync(`/proc/${pid}`);
      const key = `${uid}:${gid}`;
      byOwner.set(key, [...(byOwner.get(key) ?? []), `/proc/${pid}/environ`]);
    } catch {
      // Exited while we looked.
    }
  }
  const found: number[] = [];
  for (const [key, files] of byOwner) {
    const [uid, gid] = key.split(':').map(Number);
    // -z: NUL-separated entries; -x: the whole entry; -l: name the files that match.
    const run = spawnSync(grep, ['-lzxF', '--', line, ...files], { uid, gid, encoding: 'utf8', timeout: 2_000 });
    for (const name of (run.stdout ?? '').split('\n')) {
      const match = /^\/proc\/(\d+)\/environ$/.exec(name);
      if (match) found.push(Number(match[1]));
    }
  }
  return found;
}

import { chown, mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The cpu child cgroup that the agent starts commands in (the agent's own `workload-cgroup.ts`). */
export const WORKLOAD_CGROUP = 'workload';

/**
 * cpu.shares of a sandbox's workload against each of its own agent's threads (1024 each, nice
 * 0), inside the sandbox's cgroup: while commands keep the sandbox's CPUs busy the agent still
 * gets ~8/9 of them when it has work (requests, file reads and writes, output streams), however
 * many processes the workload runs. Alone, the workload gets all of the sandbox's quota. A new
 * command is forked inside the workload, so under a fork bomb its start still waits its turn
 * there (bench/README.md, noisy neighbour).
 */
export const WORKLOAD_CPU_SHARES = 128;

/**
 * cgroup v1 helpers for sandboxes placed at `<parent>/<id>` in every hierarchy (the OCI
 * `cgroupsPath` `/<parent>/<id>`; the runtimes create the dirs and write the limits).
 */
export class SandboxCgroups {
  constructor(private readonly parent: string) {}

  /** The OCI `linux.cgroupsPath` of a sandbox. */
  ociPath(id: string): string {
    return `/${this.parent}/${id}`;
  }

  dir(controller: string, id: string): string {
    return join(CGROUP_ROOT, controller, this.parent, id);
  }

  async usage(id: string): Promise<{ memoryBytes: number; oomKills: number }> {
    const dir = this.dir('memory', id);
    const [usage, oomControl] = await Promise.all([
      readFile(join(dir, 'memory.usage_in_bytes'), 'utf8'),
      readFile(join(dir, 'memory.oom_control'), 'utf8'),
    ]);
    const oomKill = /^oom_kill (\d+)$/m.exec(oomControl)?.[1];
    return { memoryBytes: Number(usage.trim()), oomKills: oomKill === undefined ? 0 : Number(oomKill) };
  }

  /**
   * Makes the sandbox's cpu cgroup before the runtime does (crun uses an existing one), with a
   * `workload` child of low weight, and gives the sandbox's root (`ownerUid` on the host) the
   * two `tasks` files: the agent moves its own thread into the child around each spawn (the
   * child inherits it) and back. Sandbox root can move its own processes between the two and
   * nothing else: cpu.shares, the quota and the dirs stay the host's, so this changes only how
   * the sandbox's CPU is split inside it, never its share of the host.
   */
  async prepareWorkload(id: string, ownerUid: number): Promise<string> {
    const dir = this.dir('cpu', id);
    const workload = join(dir, WORKLOAD_CGROUP);
    await mkdir(workload, { recursive: true });
    await writeFile(join(workload, 'cpu.shares'), String(WORKLOAD_CPU_SHARES));
    await chown(join(dir, 'tasks'), ownerUid, ownerUid);
    await chown(join(workload, 'tasks'), ownerUid, ownerUid);
    return dir;
  }

  /** CPU time the sandbox used so far, in nanoseconds. */
  async cpuUsageNs(id: string): Promise<number> {
    return Number((await readFile(join(this.dir('cpuacct', id), 'cpuacct.usage'), 'utf8')).trim());
  }

  /**
   * Freezes (or thaws) the sandbox through the v1 freezer: ~2 ms / ~0.2 ms measured here,
   * against ~3 ms each for `crun pause`/`resume` (a fork+exec). Freezing waits until the
   * kernel reports FROZEN, so that the caller knows nothing runs any more.
   */
  async setFrozen(id: string, frozen: boolean, signal?: AbortSignal): Promise<void> {
    const file = join(this.dir('freezer', id), 'freezer.state');
    await writeFile(file, frozen ? 'FROZEN' : 'THAWED');
    if (!frozen) return;
    for (let attempt = 0; (await readFile(file, 'utf8')).trim() !== 'FROZEN'; attempt++) {
      if (attempt >= 200) throw new Error(`sandbox ${id} did not freeze (freezer.state stays FREEZING)`);
      // A task in uninterruptible sleep delays freezing; re-writing FROZEN retries it.
      await delay(Math.min(2 ** attempt, 20), undefined, signal ? { signal } : undefined);
      await writeFile(file, 'FROZEN');
    }
  }

  /** Host pids of every process in the sandbox's cgroup. */
  pids(id: string): Promise<number[]> {
    return procs(this.dir('pids', id));
  }

  /** Every hierarchy dir that holds this sandbox's cgroup. */
  async existing(id: string): Promise<string[]> {
    const dirs: string[] = [];
    for (const controller of await hierarchies()) {
      const dir = this.dir(controller, id);
      if (await isDir(dir)) dirs.push(dir);
    }
    return dirs;
  }

  /** Ids that have a cgroup under the parent in any hierarchy. */
  async ids(): Promise<string[]> {
    const ids = new Set<string>();
    for (const controller of await hierarchies()) {
      try {
        for (const entry of await readdir(join(CGROUP_ROOT, controller, this.parent), { withFileTypes: true })) {
          if (entry.isDirectory()) ids.add(entry.name);
        }
      } catch {
        // no parent dir in this hierarchy
      }
    }
    return [...ids];
  }

  /** SIGKILLs every task in the sandbox's cgroups (all hierarchies): immediate, no runtime fork. */
  async killAll(id: string): Promise<void> {
    for (const controller of await hierarchies()) {
      for (const pid of await procs(this.dir(controller, id))) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }

  /**
   * Kills whatever still runs in the sandbox's cgroups and removes them in every hierarchy.
   * The runtimes remove their cgroups on delete; this covers a crash or a runtime that lost
   * track. A cgroup can only be removed once its last task is gone, so it waits (bounded).
   */
  async remove(id: string, signal?: AbortSignal): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await this.killAll(id);
      const left: string[] = [];
      for (const dir of await this.existing(id)) {
        try {
          // Children first (the cpu hierarchy's `workload`): a cgroup with children stays.
          for (const child of await subdirs(dir)) await rmdir(join(dir, child));
          await rmdir(dir);
        } catch {
          left.push(dir);
        }
      }
      if (left.length === 0) return;
      if (attempt >= 100) throw new Error(`cgroups still busy after kill: ${left.join(', ')}`);
      await delay(Math.min(2 ** attempt, 50), undefined, signal ? { signal } : undefined);
    }
  }
}

async function hierarchies(): Promise<string[]> {
  return (await readdir(CGROUP_ROOT, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
}

async function procs(dir: string): Promise<number[]> {
  try {
    const text = await readFile(join(dir, 'cgroup.procs'), 'utf8');
    return text
      .split('\n')
      .filter((line) => line.length > 0)
      .map(Number);
  } catch {
    return [];
  }
}

async function subdirs(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
}

async function isDir(path: string): Promise<boolean> {
  try {
    await readdir(path);
    return true;
  } catch {
    return false;
  }
}

import { writeFileSync } from 'node:fs';
import { log } from './log.js';
import { withWorkloadOomScore } from './workload-oom.js';

/**
 * The sandbox's cpu cgroup as a crun sandbox sees it: the host binds it read-write here and
 * makes a `workload` child of low weight (the server's runtime/cgroups.ts, oci-spec.ts).
 * Absent under gVisor and when the agent runs on a host (tests): then commands start beside
 * the agent.
 */
const CPU_CGROUP = '/dev/paddock-cpu';
const WORKLOAD_TASKS = `${CPU_CGROUP}/workload/tasks`;
const AGENT_TASKS = `${CPU_CGROUP}/tasks`;

let usable = true;

/**
 * Runs `start` (a synchronous spawn) with this thread in the workload cgroup, so the child
 * is born there and everything it forks stays there, out-weighed by the agent: a CPU hog or
 * fork bomb in the sandbox does not starve the agent that must answer the next request. In
 * cgroup v1 `tasks` moves one thread and "0" means the writer; the main thread forks for
 * every spawn (libuv, node-pty), so no child can start in between. ~60 µs for both moves.
 * The spawn itself (fork, then waiting for the child's exec) runs at the workload's weight:
 * moving the child after its exec would let what it forks first escape.
 */
export function spawnInWorkload<T>(spawn: () => T): T {
  // Born with the workload's OOM score too (workload-oom.ts), whatever the cgroup says.
  const start = () => withWorkloadOomScore(spawn);
  if (!usable || !move(WORKLOAD_TASKS)) return start();
  try {
    return start();
  } finally {
    if (!move(AGENT_TASKS)) log.error('cannot leave the workload cgroup; the agent now shares its CPU weight');
  }
}

function move(tasksFile: string): boolean {
  try {
    writeFileSync(tasksFile, '0');
    return true;
  } catch {
    usable = false;
    return false;
  }
}

import { readdirSync, readFileSync } from 'node:fs';

/**
 * SIGKILLs every process of the terminal session led by `sid`: the shell's own process
 * group, and the other groups job control made (`sleep 100 &` runs in a group of its own,
 * so killing the shell's group alone would leave it running). A process that left the
 * session with setsid (a daemon) is not followed.
 */
export function killSession(sid: number): void {
  signal(-sid);
  for (const pid of sessionMembers(sid)) signal(pid);
}

/** Pids whose session id (field 6 of /proc/PID/stat) is `sid`. */
function sessionMembers(sid: number): number[] {
  const members: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return members;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[3]) === sid) members.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return members;
}

function signal(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // ESRCH: already gone.
  }
}

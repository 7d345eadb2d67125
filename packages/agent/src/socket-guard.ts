import { lstatSync } from 'node:fs';

/** How often the socket file is checked; also how long the host waits at most after a replacement. */
const CHECK_INTERVAL_MS = 1_000;

export interface SocketGuard {
  /** Call once listening: the inode at `socketPath` now is the agent's. */
  listening(): void;
  /** Call before the agent closes its socket on purpose (quiesce): no checks until `listening`. */
  pause(): void;
}

/**
 * Keeps the agent reachable when user code (root in its sandbox) removes or replaces the
 * socket file in `/run/paddock`: the host connects only to the socket file itself, never
 * through a link (see the server's agent-socket.ts), so a replaced file cuts the host off.
 * Once a second the file is compared with the inode the agent listens on; when it is gone or
 * another file, `relisten` makes a fresh socket (connections in flight carry on). An lstat a
 * second costs nothing measurable.
 */
export function guardSocket(socketPath: string, relisten: () => void): SocketGuard {
  let inode: number | undefined;
  const current = (): number | undefined => {
    try {
      const stat = lstatSync(socketPath);
      return stat.isSocket() ? stat.ino : undefined;
    } catch {
      return undefined;
    }
  };
  const timer = setInterval(() => {
    if (inode === undefined || current() === inode) return;
    inode = undefined;
    relisten();
  }, CHECK_INTERVAL_MS);
  timer.unref();
  return {
    listening: () => {
      inode = current();
    },
    pause: () => {
      inode = undefined;
    },
  };
}

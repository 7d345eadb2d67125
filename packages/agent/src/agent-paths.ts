import { realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import { PaddockError } from '@paddock/protocol';

/**
 * The agent's own places: its control socket's directory (`/run/paddock`, bound from the
 * host) and its read-only runtime (`/opt/paddock`). A file written, renamed or removed there
 * through the files API would cut the host off from the sandbox for good, so those calls are
 * refused. (User code running as root can still do it; the agent then listens anew, see
 * socket-guard.ts.)
 */
function agentDirs(): string[] {
  const socket = process.env.PADDOCK_SOCKET;
  const dirs = ['/opt/paddock'];
  if (socket) dirs.push(posix.dirname(posix.resolve(socket)));
  return dirs;
}

/** `path` with every existing directory above its last component resolved (links followed). */
async function resolvedParent(path: string): Promise<string> {
  const tail: string[] = [posix.basename(path)];
  for (let dir = posix.dirname(path); ; dir = posix.dirname(dir)) {
    try {
      return posix.join(await realpath(dir), ...tail);
    } catch {
      if (dir === '/') return path;
      tail.unshift(posix.basename(dir));
    }
  }
}

const within = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

/**
 * Throws PERMISSION_DENIED when changing `path` would touch an agent directory: a path in one
 * (links in the directories above it followed, as the change would), or, with `subtree`
 * (remove, rename), a directory that holds one.
 */
export async function refuseAgentPath(path: string, options: { field: string; subtree: boolean }): Promise<void> {
  const target = await resolvedParent(path);
  for (const dir of agentDirs()) {
    if (within(target, dir) || (options.subtree && within(dir, target))) {
      throw new PaddockError(
        'PERMISSION_DENIED',
        `\`${options.field}\`: ${path} is in or holds ${dir}, the sandbox agent's own directory; ` +
          'choose a path outside it',
        { field: options.field, path },
      );
    }
  }
}

import { existsSync, unlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import { dirname, join } from 'node:path';
import { log } from '../log.js';

/** How often a quiesced agent looks for the host's wake file (also bounds the delay after a restore). */
const WAKE_POLL_MS = 5;

/**
 * `POST /quiesce`: stop listening and drop every connection, so that a gVisor checkpoint
 * can be taken (gVisor refuses to save a bound or connected host Unix socket), then listen
 * again once the host creates `<socket dir>/wake` (after the restore, in the original or in
 * a forked sandbox). The poll runs inside the checkpointed process, so it resumes with it.
 */
export function quiesce(server: Server, socketPath: string, relisten: () => void): void {
  const wakeFile = join(dirname(socketPath), 'wake');
  // The socket file goes last, once every handle is closed: its absence is the host's signal.
  server.close(() => {
    try {
      unlinkSync(socketPath);
    } catch {
      // Node may have unlinked it already.
    }
    log.info('quiesced for a checkpoint', { wakeFile });
  });
  server.closeAllConnections();
  const timer = setInterval(() => {
    if (!existsSync(wakeFile)) return;
    clearInterval(timer);
    try {
      unlinkSync(wakeFile);
    } catch {
      // The host removes it too.
    }
    relisten();
  }, WAKE_POLL_MS);
}

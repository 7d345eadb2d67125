import { mkdir, open, rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { failpoint } from '../core/failpoints.js';
import { RuntimeError } from '../core/seams/runtime-error.js';
import { quiesceAgent } from './agent-health.js';
import { hostCommand } from './host-command.js';
import { logTail } from './log-tail.js';
import type { OciCli } from './oci-cli.js';
import { RUN_MOUNT } from './oci-spec.js';
import { withLog } from './sandbox-death.js';
import type { SandboxLayout } from './sandbox-layout.js';
import { createMarkerFile, socketsBoundIn } from './sandbox-writable.js';

/**
 * Quiesces the agent (gVisor cannot save a bound host socket), then checkpoints the sandbox
 * into the new dir `image`, synced to disk; the sandbox stops. On failure the agent listens
 * again if the sandbox still runs (`stillRunning`).
 */
export async function checkpointTo(
  cli: OciCli,
  target: { layout: SandboxLayout; image: string; stillRunning: () => Promise<boolean> },
  signal?: AbortSignal,
): Promise<void> {
  const { layout, image } = target;
  const checkpoint = cli.checkpoint;
  if (!checkpoint) throw new RuntimeError('not-supported', `${cli.flavor} cannot checkpoint`);
  const sockets = await socketsBoundIn(layout.runDir, basename(layout.agentSocket));
  if (sockets.length > 0) {
    throw new RuntimeError(
      'conflict',
      `cannot save the sandbox's memory: a process in it listens on the Unix socket ${RUN_MOUNT}/${sockets[0]}, ` +
        `which is on a host directory and cannot be checkpointed; close it or bind it elsewhere (e.g. /tmp), ` +
        'or hibernate with keepMemory: false',
      { details: { sandboxId: layout.id, sockets: sockets.slice(0, 10).map((s) => `${RUN_MOUNT}/${s}`) } },
    );
  }
  await rm(image, { recursive: true, force: true });
  await mkdir(image, { mode: 0o700 });
  await rm(layout.wakeFile, { force: true });
  await quiesceAgent(layout.agentSocket, signal);
  failpoint('checkpoint.quiesced');
  const log = await open(layout.log, 'a', 0o600);
  try {
    await checkpoint.call(cli, layout, image, log.fd, signal);
    await hostCommand('sync', ['--file-system', image], { signal });
  } catch (error) {
    await rm(image, { recursive: true, force: true });
    if (await target.stillRunning()) await createMarkerFile(layout.wakeFile);
    throw withLog(error, await logTail(layout.log));
  } finally {
    await log.close();
  }
}

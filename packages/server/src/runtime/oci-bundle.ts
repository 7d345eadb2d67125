import { chown, mkdir, open, rm, writeFile } from 'node:fs/promises';
import { failpoint } from '../core/failpoints.js';
import type { SandboxLaunch } from '../core/seams/runtime.js';
import type { AgentRoot } from './agent-root.js';
import type { SandboxCgroups } from './cgroups.js';
import { logTail } from './log-tail.js';
import type { OciCli } from './oci-cli.js';
import { ociSpec } from './oci-spec.js';
import { waitForAgent, withLog } from './sandbox-death.js';
import type { SandboxLayout } from './sandbox-layout.js';
import { createMarkerFile } from './sandbox-writable.js';
import { UID_BASE } from './uid-map.js';
import { mountWritableLayer } from './writable-layer.js';

/** How an OCI bundle is made and started: the steps that create, wake and fork share. */
export class OciBundles {
  constructor(
    private readonly deps: { cli: OciCli; cgroups: SandboxCgroups; agentRoot: AgentRoot; startTimeoutMs: number },
  ) {}

  /** Writable layer (seeded from `seedUpper` for forks), runtime resources, agent config and OCI spec. */
  async prepare(
    layout: SandboxLayout,
    launch: SandboxLaunch,
    seedUpper: string | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const { cli, cgroups } = this.deps;
    await mkdir(layout.runDir, { mode: 0o700 });
    await chown(layout.runDir, UID_BASE, UID_BASE);
    const lowerDirs = [...(launch.layers ?? []), launch.rootfs];
    const [agentRoot] = await Promise.all([
      this.deps.agentRoot.prepare(signal),
      mountWritableLayer(layout, { lowerDirs, diskMiB: launch.diskMiB, seedUpper }, signal),
      cli.prepare(layout, signal, launch.network),
      writeFile(layout.agentConfig, JSON.stringify(launch.agent), { mode: 0o644 }),
    ]);
    const spec = ociSpec({
      launch,
      agentRoot,
      runDir: layout.runDir,
      cgroupsPath: cgroups.ociPath(launch.id),
      flavor: cli.flavor,
      // gVisor's sandboxes see the sentry's own cgroupfs; the host cgroup holds only the sentry.
      ...(cli.flavor === 'crun' ? { cpuCgroupDir: cgroups.dir('cpu', launch.id) } : {}),
    });
    await writeFile(layout.ociConfig, JSON.stringify(spec));
    await chown(layout.agentConfig, UID_BASE, UID_BASE);
  }

  /**
   * Starts the prepared bundle (fresh, or from the checkpoint `image`) and waits for its agent.
   * `bounded` limits the runtime command, `signal` (the caller's) the wait for the agent.
   */
  async start(
    layout: SandboxLayout,
    signals: { signal: AbortSignal | undefined; bounded: AbortSignal },
    image?: string,
  ): Promise<void> {
    const { cli } = this.deps;
    // O_APPEND: runsc writes the container's stdio at its own offsets; '>' would clobber.
    const log = await open(layout.log, 'a', 0o600);
    try {
      if (image !== undefined && cli.restore) {
        await rm(layout.wakeFile, { force: true });
        await cli.restore(layout, image, log.fd, signals.bounded);
        failpoint('wake.restored');
        // The restored agent sits quiesced until this file appears (see the agent's quiesce.ts).
        await createMarkerFile(layout.wakeFile);
      } else {
        await cli.start(layout, log.fd, signals.bounded);
      }
    } catch (error) {
      throw withLog(error, await logTail(layout.log));
    } finally {
      await log.close();
    }
    await waitForAgent(layout, this.deps.startTimeoutMs, signals.signal);
  }
}

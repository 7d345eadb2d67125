import { join } from 'node:path';

/**
 * Where one sandbox's host-side pieces live. Everything a sandbox owns on the host is under
 * `<sandboxes>/<id>/`, so that a crash at any point of create leaves one dir to find and remove.
 */
export interface SandboxLayout {
  id: string;
  dir: string;
  /** OCI bundle config (the bundle dir is `dir`). */
  ociConfig: string;
  /** Sparse ext4 image that holds the overlay upper and work dirs; its size is the disk cap. */
  layerImage: string;
  /** Mount point of `layerImage`. */
  layerMount: string;
  /** The overlay's lower dirs (JSON), kept to mount the layer again after a host reboot. */
  layerSpec: string;
  upperDir: string;
  workDir: string;
  /** Overlay (template lower + upper) mount point: the sandbox's root. */
  rootfs: string;
  /** Host side of `/run/paddock` inside the sandbox. */
  runDir: string;
  agentConfig: string;
  agentSocket: string;
  /**
   * Container stdio (the agent's own output) and runtime errors, appended. It lives on the
   * layer image, beside the upper dir: the sandbox's root can write to its init's stdout
   * (`/proc/1/fd/1`), so the file must count against the sandbox's disk cap, not the host's.
   */
  log: string;
  /** Pid of the container init (crun) or sandbox process (runsc), written by the runtime. */
  pidFile: string;
  /** Bind mount of the sandbox's own network namespace (runsc only). */
  netns: string;
  /** A finished checkpoint image (hibernated with memory). */
  checkpoint: string;
  /** Where a checkpoint is written before the rename that makes it `checkpoint`. */
  checkpointTmp: string;
  /** Created by the host to tell a quiesced agent to listen again (see the agent's quiesce). */
  wakeFile: string;
}

export function sandboxLayout(sandboxesDir: string, id: string): SandboxLayout {
  const dir = join(sandboxesDir, id);
  const layerMount = join(dir, 'layer');
  const runDir = join(dir, 'run');
  return {
    id,
    dir,
    ociConfig: join(dir, 'config.json'),
    layerImage: join(dir, 'layer.img'),
    layerMount,
    layerSpec: join(dir, 'layer.json'),
    upperDir: join(layerMount, 'upper'),
    workDir: join(layerMount, 'work'),
    rootfs: join(dir, 'rootfs'),
    runDir,
    agentConfig: join(runDir, 'config.json'),
    agentSocket: join(runDir, 'agent.sock'),
    log: join(layerMount, 'sandbox.log'),
    pidFile: join(dir, 'init.pid'),
    netns: join(dir, 'netns'),
    checkpoint: join(dir, 'checkpoint'),
    checkpointTmp: join(dir, 'checkpoint.tmp'),
    wakeFile: join(runDir, 'wake'),
  };
}

/** Sandbox ids are 20 lowercase letters/digits; anything else never reaches a path or argv. */
export function isSandboxId(id: string): boolean {
  return /^[a-z0-9]{20}$/.test(id);
}

export function assertSandboxId(id: string): void {
  if (!isSandboxId(id)) throw new Error(`invalid sandbox id ${JSON.stringify(id)}: want 20 of [a-z0-9]`);
}

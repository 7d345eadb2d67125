import { mkdir } from 'node:fs/promises';
import { PaddockError } from '@paddock/protocol';
import { runProcess } from '../process.js';

export interface OverlayMount {
  /** Lower layers, topmost first (the base rootfs last). */
  lower: readonly string[];
  /** Writable layer and overlayfs's work dir (same filesystem); omitted for a read-only view. */
  upper?: { dir: string; work: string };
  target: string;
  /**
   * Lower paths are given relative to this dir (the mount runs there): the option string must
   * fit in a page (4 KiB), and a deep stack of absolute build-cache paths would not.
   */
  cwd?: string;
  signal?: AbortSignal;
}

/**
 * Mounts an overlay as host root. Whiteouts and opaque dirs that RUN steps make in the upper dir
 * are created by the kernel with the mounter's credentials, so a finished upper dir is a proper
 * lower layer for the next step.
 */
export async function mountOverlay(mount: OverlayMount): Promise<void> {
  await mkdir(mount.target, { recursive: true });
  // A read-only overlay needs two lower layers; one lower layer with an empty upper is the same view.
  const options = [`lowerdir=${mount.lower.join(':')}`];
  if (mount.upper !== undefined) options.push(`upperdir=${mount.upper.dir}`, `workdir=${mount.upper.work}`);
  const result = await runProcess({
    file: '/bin/sh',
    args: [
      '-c',
      'cd -- "$1" && exec mount -t overlay -o "$2" overlay "$3"',
      'sh',
      mount.cwd ?? '/',
      `${options.join(',')}${mount.upper === undefined ? ',ro' : ''}`,
      mount.target,
    ],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    signal: mount.signal,
  });
  if (result.exitCode !== 0) {
    throw new PaddockError('TEMPLATE_BUILD_FAILED', `mounting the build overlay failed: ${result.tail.join('\n')}`);
  }
}

export async function unmount(target: string): Promise<void> {
  const result = await runProcess({ file: 'umount', args: [target] });
  if (result.exitCode !== 0) {
    // Busy (a straggling process): detach it so the scratch dir can go; it is freed once idle.
    await runProcess({ file: 'umount', args: ['--lazy', target] });
  }
}

import { readdir, readFile } from 'node:fs/promises';
import { hostCommand } from './host-command.js';

/**
 * Detaches every loop device still backed by a file at or below `prefix`. `mount -o loop`
 * sets autoclear, so an unmount normally frees the device; this covers a crash between
 * losetup and mount, or a lazily unmounted image.
 */
export async function detachLoopDevices(prefix: string, signal?: AbortSignal): Promise<void> {
  for (const device of await loopDevicesUnder(prefix)) {
    await hostCommand('losetup', ['--detach', device], { signal }).catch(() => undefined);
  }
}

/** Loop devices (`/dev/loopN`) whose backing file is at or below `prefix` (read from sysfs, no fork). */
export async function loopDevicesUnder(prefix: string): Promise<string[]> {
  const devices: string[] = [];
  for (const name of await readdir('/sys/block')) {
    if (!name.startsWith('loop')) continue;
    let backing: string;
    try {
      backing = (await readFile(`/sys/block/${name}/loop/backing_file`, 'utf8')).trim();
    } catch {
      continue; // not attached
    }
    const path = backing.replace(/ \(deleted\)$/, '');
    if (path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`)) devices.push(`/dev/${name}`);
  }
  return devices;
}

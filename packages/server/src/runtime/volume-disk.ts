import { existsSync } from 'node:fs';
import { chown, mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { hostCommand } from './host-command.js';
import { detachLoopDevices } from './loop-devices.js';
import { mountsUnder, unmountAll } from './mounts.js';
import { UID_BASE } from './uid-map.js';

/** uid/gid of the templates' `user` (1000) as the host sees it through the sandboxes' uid map. */
const SANDBOX_USER = UID_BASE + 1000;

/**
 * Named volumes on the host: `<dir>/<name>/volume.img`, a sparse ext4 image whose size is the
 * cap, loop-mounted at `<dir>/<name>/mnt` for as long as the volume exists; sandboxes get
 * `mnt/data` as a bind mount (shared by all of them, read-write or read-only). With a
 * journal (unlike the scratch writable layer): a volume's data must survive a crash, and
 * ENOSPC in a full volume fails the write that does not fit, never data already written.
 */
export class VolumeDisks {
  constructor(private readonly dir: string) {}

  /** The host dir that sandboxes bind-mount. */
  dataDir(name: string): string {
    return join(this.dir, name, 'mnt', 'data');
  }

  async create(name: string, sizeMiB: number, signal?: AbortSignal): Promise<void> {
    const base = join(this.dir, name);
    await mkdir(this.dir, { recursive: true });
    // Fails on an existing dir: one volume per name.
    // 0711: the gofer of a gVisor sandbox runs in the sandbox's user namespace and must traverse it.
    await mkdir(base, { mode: 0o711 });
    try {
      const image = await open(join(base, 'volume.img'), 'wx', 0o600);
      try {
        await image.truncate(sizeMiB * 1024 * 1024);
      } finally {
        await image.close();
      }
      await hostCommand('mkfs.ext4', ['-q', '-F', '-m', '0', join(base, 'volume.img')], { signal });
      await this.mount(name, signal);
      await mkdir(this.dataDir(name), { mode: 0o775 });
      await chown(this.dataDir(name), SANDBOX_USER, SANDBOX_USER);
    } catch (error) {
      await this.remove(name).catch(() => undefined);
      throw error;
    }
  }

  /** Names of every volume disk there is, recorded or not. */
  async names(): Promise<string[]> {
    return existsSync(this.dir) ? readdir(this.dir) : [];
  }

  /** Mounts the image if it is not (after a reboot, or at server start). */
  async mount(name: string, signal?: AbortSignal): Promise<void> {
    const mnt = join(this.dir, name, 'mnt');
    if ((await mountsUnder(mnt)).includes(mnt)) return;
    await mkdir(mnt, { recursive: true });
    await hostCommand('mount', ['-o', 'loop,nosuid,nodev', join(this.dir, name, 'volume.img'), mnt], { signal });
  }

  async remove(name: string, signal?: AbortSignal): Promise<void> {
    const base = join(this.dir, name);
    if (!existsSync(base)) return;
    await unmountAll(base, signal);
    await detachLoopDevices(base, signal);
    await rm(base, { recursive: true, force: true });
  }
}

import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeInterface, vethName } from './sandbox-interface.js';

/** Where one sandbox's network lives on the host: its netns mount and the files bound into it. */
export interface SandboxNetworkPaths {
  dir: string;
  netns: string;
  resolvConf: string;
  hosts: string;
}

/** The per-sandbox directories under `<dataDir>/network/`. */
export class NetworkFiles {
  constructor(private readonly dir: string) {}

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
  }

  /** Sandbox ids that have a directory. */
  ids(): Promise<string[]> {
    return readdir(this.dir);
  }

  pathsOf(sandboxId: string): SandboxNetworkPaths {
    const dir = join(this.dir, sandboxId);
    return { dir, netns: join(dir, 'netns'), resolvConf: join(dir, 'resolv.conf'), hosts: join(dir, 'hosts') };
  }

  /** resolv.conf naming the sandbox's resolver, and hosts naming the sandbox itself. */
  async write(sandboxId: string, addresses: { hostAddress: string; sandboxAddress: string }): Promise<void> {
    const paths = this.pathsOf(sandboxId);
    await mkdir(paths.dir, { recursive: true, mode: 0o755 });
    await writeFile(paths.resolvConf, `nameserver ${addresses.hostAddress}\noptions timeout:2 attempts:2\n`, {
      mode: 0o644,
    });
    await writeFile(
      paths.hosts,
      `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${addresses.sandboxAddress}\t${sandboxId}\n`,
      { mode: 0o644 },
    );
  }

  /** Removes the directory, and the interface first when its netns is still mounted. */
  async remove(sandboxId: string): Promise<void> {
    const paths = this.pathsOf(sandboxId);
    if (existsSync(paths.netns)) await removeInterface({ veth: vethName(sandboxId), netnsPath: paths.netns });
    await rm(paths.dir, { recursive: true, force: true });
  }
}

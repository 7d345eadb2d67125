import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetworkAttachment } from '../core/seams/runtime.js';
import { RuntimeError } from '../core/seams/runtime-error.js';
import { HostCommandError, hostCommand } from './host-command.js';
import { isMountPoint } from './mounts.js';
import type { OciCli } from './oci-cli.js';
import { OciRuntime, type OciRuntimeOptions } from './oci-runtime.js';
import type { SandboxLayout } from './sandbox-layout.js';
import { exitOf } from './spawn-exit.js';

/**
 * `isolation: 'gvisor'`: runsc (bookworm-backports 0.0~20240729) on the systrap platform.
 *
 * - Network: every runsc command that talks to the sandbox runs under `nsenter --net` in the
 *   netns bind-mounted at `<sandboxDir>/netns` (its control socket is an abstract socket of
 *   that netns). Egress `none`: an empty netns made here and `--network=none` (gVisor's own
 *   netstack, loopback only). Egress `open`/`allowlist`: the netns the network service made
 *   (veth, firewall) and `--network=host`, because gVisor's own netstack cannot run on this
 *   kernel. runsc refuses to checkpoint a sandbox on hostinet ("checkpoint not supported when
 *   using hostinet"), so only `none` sandboxes hibernate with memory and fork.
 * - `--overlay2=none`: rootfs writes go through the gofer into the host overlay upper, so the
 *   loop-image disk cap applies and the host sees the files.
 * - `--host-uds=create`: lets the agent create its socket in the /run/paddock bind mount as a
 *   real host socket that the server can connect to.
 *
 * create → agent healthy, measured on this 2-vCPU VM (conformance suite, stand-in agent):
 * ~1.0–1.3 s idle, 1.3–2.3 s under load. Most of it is Node starting inside gVisor: `node -e 0`
 * takes 460–690 ms under systrap here (120–140 ms under crun), plus ~170 ms of runsc
 * create+start and the ~55 ms writable layer. The ≤ ~400 ms target is out of reach with a
 * Node agent on this VM.
 *
 * User namespace: runsc honours the spec's uid/gid mappings, so the UID_BASE-shifted template
 * shows its real owners inside (root, user = 1000); host files outside the range show as 65534.
 * Seccomp: `--oci-seccomp` applies the profile inside the sentry (see seccomp-profile.ts).
 * Destroy: SIGKILL to every task of the sandbox's cgroups first (the sandbox is gone at once),
 * then `runsc delete --force` (~1.3–2 s) cleans runsc's state; run destroy off the request path.
 */
export class RunscRuntime extends OciRuntime {
  constructor(options: OciRuntimeOptions) {
    super(options, new RunscCli(options.runtimeBinary ?? 'runsc', join(options.dataDir, 'runtime', 'runsc')));
  }
}

class RunscCli implements OciCli {
  readonly isolation = 'gvisor' as const;
  readonly flavor = 'runsc' as const;

  constructor(
    private readonly binary: string,
    private readonly root: string,
  ) {}

  /**
   * `--network=host` for a sandbox on a host-made network (egress `open`/`allowlist`: gVisor's
   * own netstack cannot run on this kernel, see the class comment), `--network=none` otherwise.
   * The choice is the marker file written by `prepare`, so every later command agrees.
   */
  private globalFlags(layout: SandboxLayout): string[] {
    return [
      '--root',
      this.root,
      '--platform=systrap',
      existsSync(hostNetMarker(layout)) ? '--network=host' : '--network=none',
      '--overlay2=none',
      '--host-uds=create',
      '--oci-seccomp',
    ];
  }

  /**
   * An empty network namespace with loopback up, kept alive by a bind mount on `layout.netns`;
   * or, given a host-made network, that netns bind-mounted there (removed with the sandbox dir,
   * while the network layer keeps its own mount).
   */
  async prepare(layout: SandboxLayout, signal?: AbortSignal, network?: NetworkAttachment): Promise<void> {
    await writeFile(layout.netns, '', { flag: 'wx' });
    if (network) {
      await hostCommand('mount', ['--bind', network.netnsPath, layout.netns], { signal });
      // The marker keeps the path, to bind it again after a host reboot.
      await writeFile(hostNetMarker(layout), network.netnsPath);
      return;
    }
    await hostCommand('unshare', [`--net=${layout.netns}`, 'ip', 'link', 'set', 'lo', 'up'], { signal });
  }

  async reprepare(layout: SandboxLayout, signal?: AbortSignal): Promise<void> {
    if (await isMountPoint(layout.netns)) return;
    if (!existsSync(layout.netns)) await writeFile(layout.netns, '');
    if (existsSync(hostNetMarker(layout))) {
      const netnsPath = (await readFile(hostNetMarker(layout), 'utf8')).trim();
      // The host network service makes the netns again at server start.
      if (netnsPath === '' || !(await isMountPoint(netnsPath))) {
        throw new Error(`the network namespace of ${layout.id} is gone (host reboot?) and cannot be bound again`);
      }
      await hostCommand('mount', ['--bind', netnsPath, layout.netns], { signal });
      return;
    }
    await hostCommand('unshare', [`--net=${layout.netns}`, 'ip', 'link', 'set', 'lo', 'up'], { signal });
  }

  async start(layout: SandboxLayout, logFd: number, signal?: AbortSignal): Promise<void> {
    const args = [
      `--net=${layout.netns}`,
      '--',
      this.binary,
      ...this.globalFlags(layout),
      'run',
      '--detach',
      '--bundle',
      layout.dir,
      '--pid-file',
      layout.pidFile,
      layout.id,
    ];
    // File stdio only: the sandbox inherits these fds, and a pipe it holds would never close.
    const child = spawn('nsenter', args, {
      stdio: ['ignore', logFd, logFd],
      killSignal: 'SIGKILL',
      ...(signal ? { signal } : {}),
    });
    await exitOf(child, 'runsc run', signal);
  }

  async pause(layout: SandboxLayout, signal?: AbortSignal): Promise<void> {
    if ((await this.status(layout.id, signal)) === 'paused') return;
    await this.inNetns(layout, ['pause', layout.id], signal);
  }

  async resume(layout: SandboxLayout, signal?: AbortSignal): Promise<void> {
    if ((await this.status(layout.id, signal)) !== 'paused') return;
    await this.inNetns(layout, ['resume', layout.id], signal);
  }

  /** ~75 ms for a small sandbox; the sandbox stops. File stdio: the sandbox would inherit a pipe. */
  async checkpoint(layout: SandboxLayout, imageDir: string, logFd: number, signal?: AbortSignal): Promise<void> {
    if (existsSync(hostNetMarker(layout))) {
      throw new RuntimeError(
        'not-supported',
        'runsc cannot checkpoint a sandbox on the host network stack (network.egress open/allowlist)',
      );
    }
    const args = [`--net=${layout.netns}`, '--', this.binary, ...this.globalFlags(layout), 'checkpoint'];
    const child = spawn('nsenter', [...args, `--image-path=${imageDir}`, layout.id], {
      stdio: ['ignore', logFd, logFd],
      killSignal: 'SIGKILL',
      ...(signal ? { signal } : {}),
    });
    await exitOf(child, 'runsc checkpoint', signal);
  }

  /** Needs the same rootfs contents and the bundle's mounts in place (~260 ms for a small sandbox). */
  async restore(layout: SandboxLayout, imageDir: string, logFd: number, signal?: AbortSignal): Promise<void> {
    const args = [`--net=${layout.netns}`, '--', this.binary, ...this.globalFlags(layout), 'restore', '--detach'];
    const child = spawn(
      'nsenter',
      [...args, `--image-path=${imageDir}`, '--bundle', layout.dir, '--pid-file', layout.pidFile, layout.id],
      { cwd: layout.dir, stdio: ['ignore', logFd, logFd], killSignal: 'SIGKILL', ...(signal ? { signal } : {}) },
    );
    await exitOf(child, 'runsc restore', signal);
  }

  private async inNetns(layout: SandboxLayout, args: string[], signal?: AbortSignal): Promise<void> {
    await hostCommand('nsenter', [`--net=${layout.netns}`, '--', this.binary, ...this.globalFlags(layout), ...args], {
      signal,
      timeoutMs: 30_000,
    });
  }

  async status(id: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      const out = await hostCommand(this.binary, ['--root', this.root, 'state', id], { signal, timeoutMs: 10_000 });
      const parsed: unknown = JSON.parse(out);
      return typeof parsed === 'object' && parsed !== null && 'status' in parsed ? String(parsed.status) : undefined;
    } catch (error) {
      if (error instanceof HostCommandError && /does not exist|not found|no such file/i.test(error.message)) {
        return undefined;
      }
      throw error;
    }
  }

  async delete(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await hostCommand(this.binary, ['--root', this.root, 'delete', '--force', id], { signal, timeoutMs: 30_000 });
    } catch (error) {
      if (!(error instanceof HostCommandError && /does not exist|not found|no such file/i.test(error.message))) {
        throw error;
      }
    }
    // A start that died early (e.g. SIGKILLed) leaves a lock file and a control socket that
    // `runsc delete` does not know about; they would keep the id listed forever.
    for (const name of await readdir(this.root).catch(() => [] as string[])) {
      if (name.startsWith(`${id}_sandbox:`) || name === `runsc-${id}.sock`) {
        await rm(join(this.root, name), { force: true });
      }
    }
  }

  async ids(): Promise<string[]> {
    try {
      // runsc keeps `<root>/<id>_sandbox:<id>.state` files (and lock files) per container.
      const names = await readdir(this.root);
      return [...new Set(names.map((name) => /^[a-z0-9]{20}/.exec(name)?.[0]).filter((id) => id !== undefined))];
    } catch {
      return [];
    }
  }
}

/** Present when the sandbox runs with `--network=host` in a host-made netns. */
function hostNetMarker(layout: SandboxLayout): string {
  return join(layout.dir, 'hostnet');
}

import type { Isolation } from '@paddock/protocol';
import type { NetworkAttachment } from '../core/seams/runtime.js';
import type { SandboxLayout } from './sandbox-layout.js';

/**
 * What differs between OCI runtimes: how to start a prepared bundle, ask its status and
 * delete its state. Everything else (bundle, writable layer, cgroups, agent, cleanup) is
 * shared in `OciRuntime`.
 */
export interface OciCli {
  readonly isolation: Isolation;
  readonly flavor: 'crun' | 'runsc';
  /** Host resources the runtime needs before start (runsc: the network namespace, or the host-made one). */
  prepare(layout: SandboxLayout, signal?: AbortSignal, network?: NetworkAttachment): Promise<void>;
  /** Makes again what `prepare` made and a host reboot took (mounts), before a stopped sandbox starts. */
  reprepare(layout: SandboxLayout, signal?: AbortSignal): Promise<void>;
  /**
   * Starts the bundle in `layout.dir` detached, container stdio on `logFd`, pid in
   * `layout.pidFile`; resolves when the runtime command returns.
   */
  start(layout: SandboxLayout, logFd: number, signal?: AbortSignal): Promise<void>;
  /** The runtime's status string (`created`, `running`, `paused`, `stopped`), or undefined if it has no such container. */
  status(id: string, signal?: AbortSignal): Promise<string | undefined>;
  /** Removes the runtime's state of a container whose processes are gone (or forces them). */
  delete(id: string, signal?: AbortSignal): Promise<void>;
  /** Ids the runtime keeps state for. */
  ids(): Promise<string[]>;
  /** Freezes / thaws every process of the sandbox (idempotent). */
  pause(layout: SandboxLayout, signal?: AbortSignal): Promise<void>;
  resume(layout: SandboxLayout, signal?: AbortSignal): Promise<void>;
  /** Present when the runtime can checkpoint: writes the image to `imageDir`; the sandbox stops. */
  checkpoint?(layout: SandboxLayout, imageDir: string, logFd: number, signal?: AbortSignal): Promise<void>;
  /** Starts the bundle in `layout.dir` from the image in `imageDir`. */
  restore?(layout: SandboxLayout, imageDir: string, logFd: number, signal?: AbortSignal): Promise<void>;
}

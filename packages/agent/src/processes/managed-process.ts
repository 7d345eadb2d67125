import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { PaddockError, type ProcessInfo, type SignalName, type SignalScope } from '@paddock/protocol';
import type { CommandPlan } from '../command-plan.js';
import { spawnInWorkload } from '../workload-cgroup.js';
import { OutputLog } from './output-log.js';
import { PROCESS_MARKER_ENV, signalTree } from './tree-kill.js';

/**
 * After the command's own process exits, how long its output pipes may stay open. A
 * background job (`server &`) inherits them and may never close them; its later output
 * is then dropped, and it keeps running.
 */
const DRAIN_AFTER_EXIT_MS = 200;

/** How a process ended. */
export interface ExitStatus {
  exitCode: number;
  signal?: string;
  timedOut?: boolean;
}

/** What describes a process besides its plan. */
export interface ProcessLabel {
  id: string;
  cmd: string;
  user: string;
  background: boolean;
  /** Close stdin after the plan's input (else it stays open for `writeStdin`). */
  closeStdin: boolean;
  outputCapacityBytes: number;
}

/**
 * One command started by the agent: its output goes to a bounded {@link OutputLog} that
 * any number of readers follow, its stdin stays writable until closed, and signals reach
 * its process, group or whole tree. It runs independently of any client connection.
 */
export class ManagedProcess {
  readonly log: OutputLog;
  readonly startedAt = new Date();
  /** Resolves once the process exited and its output is complete. */
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;
  private stdinOpen: boolean;
  private readonly child: ChildProcess;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly label: ProcessLabel,
    readonly plan: CommandPlan,
  ) {
    this.log = new OutputLog({ capacityBytes: label.outputCapacityBytes });
    // `detached` makes the child lead a new session and process group; the marker finds
    // descendants that left both (see tree-kill.ts).
    this.child = spawnInWorkload(() =>
      spawn(plan.file, plan.args, {
        cwd: plan.cwd,
        env: { ...plan.env, [PROCESS_MARKER_ENV]: label.id },
        detached: true,
        stdio: 'pipe',
        ...(plan.uid === undefined ? {} : { uid: plan.uid }),
        ...(plan.gid === undefined ? {} : { gid: plan.gid }),
      }),
    );
    this.stdinOpen = this.child.pid !== undefined;
    this.exited = this.child.pid === undefined ? this.failSpawn() : this.supervise();
  }

  /** Spawns the planned command; never throws for a missing program (exit 127, like a shell). */
  static start(plan: CommandPlan, label: ProcessLabel): ManagedProcess {
    return new ManagedProcess(label, plan);
  }

  get id(): string {
    return this.label.id;
  }

  /** 0 when the program could not be executed. */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  get exit(): ExitStatus | undefined {
    return this.exitStatus;
  }

  info(): ProcessInfo {
    const info: ProcessInfo = {
      id: this.id,
      pid: this.pid,
      cmd: this.label.cmd,
      cwd: this.plan.cwd,
      user: this.label.user,
      startedAt: this.startedAt.toISOString(),
      background: this.label.background,
      running: this.exitStatus === undefined,
      endOffset: this.log.endOffset,
    };
    if (this.exitStatus !== undefined) Object.assign(info, this.exitStatus);
    return info;
  }

  /** Writes to stdin (resolves once the pipe took the bytes); `eof` closes it after. */
  async writeStdin(data: Buffer, eof: boolean): Promise<void> {
    if (this.exitStatus !== undefined) {
      throw new PaddockError(
        'CONFLICT',
        `process ${this.id} exited (exit code ${this.exitStatus.exitCode}); it takes no more stdin`,
        { id: this.id, exitCode: this.exitStatus.exitCode },
      );
    }
    if (!this.stdinOpen) {
      throw new PaddockError('CONFLICT', `the stdin of process ${this.id} is closed`, { id: this.id });
    }
    const stdin = this.child.stdin as Writable;
    if (data.length > 0) await new Promise<void>((resolve) => stdin.write(data, () => resolve()));
    if (eof) {
      this.stdinOpen = false;
      stdin.end();
    }
  }

  /** Sends `signal` to the process, its group, or everything it started (`tree`). */
  signal(signal: SignalName, scope: SignalScope): void {
    if (this.pid === 0 || this.exitStatus !== undefined) {
      // The leader is gone, but a tree signal still reaches daemons it left behind.
      if (scope === 'tree' && this.pid !== 0) signalTree({ pid: this.pid, id: this.id }, signal);
      return;
    }
    if (scope === 'tree') {
      signalTree({ pid: this.pid, id: this.id }, signal);
      return;
    }
    try {
      process.kill(scope === 'group' ? -this.pid : this.pid, signal);
    } catch {
      // ESRCH: it exited between the check and the signal.
    }
  }

  /** Stops reading the pipes (the command blocks once they fill): foreground backpressure. */
  pauseOutput(): void {
    this.child.stdout?.pause();
    this.child.stderr?.pause();
  }

  resumeOutput(): void {
    this.child.stdout?.resume();
    this.child.stderr?.resume();
  }

  /**
   * The program could not be executed: answer like a shell does (message on stderr, 127 when
   * missing, 126 when not executable), so `argv` and `cmd` commands fail alike.
   */
  private async failSpawn(): Promise<ExitStatus> {
    const [err] = (await once(this.child, 'error')) as [NodeJS.ErrnoException];
    const missing = err.code === 'ENOENT' || err.code === 'ENOTDIR';
    const why = missing ? 'command not found' : `cannot execute (${err.code ?? err.message})`;
    this.log.append('stderr', Buffer.from(`paddock: ${this.plan.file}: ${why}\n`));
    return this.finish({ exitCode: missing ? 127 : 126 });
  }

  private supervise(): Promise<ExitStatus> {
    const child = this.child;
    const stdout = child.stdout as Readable;
    const stderr = child.stderr as Readable;
    // Errors after a successful spawn concern signalling, which goes through process.kill.
    child.on('error', () => {});
    for (const [stream, name] of [
      [stdout, 'stdout'],
      [stderr, 'stderr'],
    ] as const) {
      stream.on('data', (chunk: Buffer) => this.log.append(name, chunk));
      // The pipe breaks when the drain period ends with a background job still holding it.
      stream.on('error', () => {});
    }
    const stdin = child.stdin as Writable;
    // A command that does not read its stdin must not crash the agent with EPIPE.
    stdin.on('error', () => {});
    if (this.plan.stdin !== undefined) stdin.write(this.plan.stdin);
    // Foreground commands see EOF after their input; background ones keep stdin open for
    // `writeStdin` unless asked not to.
    if (this.label.closeStdin) {
      this.stdinOpen = false;
      stdin.end();
    }

    let timedOut = false;
    if (this.plan.timeoutMs > 0) {
      this.timer = setTimeout(() => {
        timedOut = true;
        this.signal('SIGKILL', 'tree');
      }, this.plan.timeoutMs);
    }
    let drainTimer: NodeJS.Timeout | undefined;
    child.once('exit', () => {
      // The command is done; the timeout no longer applies to what it left running.
      clearTimeout(this.timer);
      drainTimer = setTimeout(() => {
        stdout.destroy();
        stderr.destroy();
      }, DRAIN_AFTER_EXIT_MS);
    });
    return new Promise((resolve) => {
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        clearTimeout(this.timer);
        clearTimeout(drainTimer);
        const status: ExitStatus = { exitCode: code ?? 128 + signalNumber(signal) };
        if (signal !== null) status.signal = signal;
        if (timedOut) status.timedOut = true;
        resolve(this.finish(status));
      });
    });
  }

  private finish(status: ExitStatus): ExitStatus {
    this.exitStatus = status;
    this.stdinOpen = false;
    this.child.stdin?.destroy();
    this.log.close();
    return status;
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : (constants.signals[signal] ?? 0);
}

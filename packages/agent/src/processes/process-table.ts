import { randomBytes } from 'node:crypto';
import { LIMITS, PaddockError, type ProcessInfo, type StartProcessRequest } from '@paddock/protocol';
import { planCommand } from '../command-plan.js';
import type { AgentConfig } from '../config.js';
import { ManagedProcess } from './managed-process.js';
import { DEFAULT_OUTPUT_CAPACITY_BYTES } from './output-log.js';

/** Finished processes kept listed (with their exit status and output) by default. */
export const DEFAULT_MAX_FINISHED_PROCESSES = 64;

export interface ProcessTableOptions {
  outputCapacityBytes?: number | undefined;
  maxFinished?: number | undefined;
}

/**
 * Every process the agent started, by id: running ones, and the newest finished ones
 * (older finished ones are forgotten first, so the table stays bounded).
 */
export class ProcessTable {
  private readonly processes = new Map<string, ManagedProcess>();
  private readonly finished: string[] = [];
  private readonly outputCapacityBytes: number;
  private readonly maxFinished: number;

  constructor(options: ProcessTableOptions = {}) {
    this.outputCapacityBytes = options.outputCapacityBytes ?? DEFAULT_OUTPUT_CAPACITY_BYTES;
    this.maxFinished = options.maxFinished ?? DEFAULT_MAX_FINISHED_PROCESSES;
  }

  /**
   * Plans and starts a command. Throws the caller's errors (unknown user, bad cwd) before
   * anything runs. Background commands have no time limit unless `timeoutMs` is given.
   */
  start(request: StartProcessRequest, config: AgentConfig): ManagedProcess {
    const background = request.background ?? false;
    const timeoutMs = request.timeoutMs ?? (background ? 0 : LIMITS.commandTimeoutMs.default);
    const plan = planCommand({ ...commandPart(request), timeoutMs }, config);
    const proc = ManagedProcess.start(plan, {
      id: newId(),
      cmd: request.cmd ?? (request.argv ?? []).join(' '),
      user: request.user ?? config.defaultUser,
      background,
      closeStdin: request.closeStdin ?? !background,
      outputCapacityBytes: this.outputCapacityBytes,
    });
    this.processes.set(proc.id, proc);
    void proc.exited.then(() => this.retire(proc.id));
    return proc;
  }

  /** The process with this id; NOT_FOUND naming the id otherwise. */
  get(id: string): ManagedProcess {
    const proc = this.processes.get(id);
    if (proc === undefined) {
      throw new PaddockError(
        'NOT_FOUND',
        `no process with id "${id}" in this sandbox (finished processes are kept until ${this.maxFinished} newer ones finished)`,
        { id },
      );
    }
    return proc;
  }

  /** Running and kept finished processes, oldest first. */
  list(): ProcessInfo[] {
    return [...this.processes.values()].map((p) => p.info());
  }

  /** Kills every running process's tree (agent shutdown). */
  killAll(): void {
    for (const proc of this.processes.values()) if (proc.exit === undefined) proc.signal('SIGKILL', 'tree');
  }

  private retire(id: string): void {
    this.finished.push(id);
    while (this.finished.length > this.maxFinished) {
      const oldest = this.finished.shift();
      if (oldest !== undefined) this.processes.delete(oldest);
    }
  }
}

/** The command itself, without how the process is started and answered. */
function commandPart(request: StartProcessRequest): Omit<StartProcessRequest, 'background' | 'follow' | 'closeStdin'> {
  const { background: _b, follow: _f, closeStdin: _c, ...rest } = request;
  return rest;
}

/** 16 lowercase letters and digits (ids appear in URLs and host names; no `-`). */
function newId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(16)].map((b) => alphabet[b % alphabet.length]).join('');
}

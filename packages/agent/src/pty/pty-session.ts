import { chownSync } from 'node:fs';
import { constants } from 'node:os';
import { PaddockError, PTY_LIMITS, type PtyInfo, type PtySize } from '@paddock/protocol';
import type { IPty } from 'node-pty';
import { log } from '../log.js';
import { OutputLog } from '../processes/output-log.js';
import { spawnInWorkload } from '../workload-cgroup.js';
import type { PtyPlan } from './pty-plan.js';
import { killSession } from './session-kill.js';

/** How a session ended. */
export interface PtyExit {
  exitCode: number;
  signal?: string;
}

type NodePty = typeof import('node-pty');
let nodePty: Promise<NodePty> | undefined;

/**
 * node-pty is a native addon shipped beside agent.js (runtime/agent-root.ts), not bundled;
 * it is loaded on the first PTY so that the agent starts without it and a sandbox whose
 * agent root lacks it still runs commands.
 */
function loadNodePty(): Promise<NodePty> {
  nodePty ??= import('node-pty').catch((err: unknown) => {
    nodePty = undefined;
    log.error('cannot load node-pty', { err });
    throw new PaddockError('INTERNAL', 'terminals are not available in this sandbox: node-pty failed to load');
  });
  return nodePty;
}

/**
 * One program on a pseudo-terminal. Its output goes to a bounded log (the scrollback) that
 * any number of clients follow and that outlives their connections: a client that comes
 * back gets the recent screen, then the live output.
 */
export class PtySession {
  readonly output = new OutputLog<'pty'>({ capacityBytes: PTY_LIMITS.scrollbackBytes });
  readonly createdAt = new Date();
  private exitInfo: PtyExit | undefined;
  private readonly exited: Promise<PtyExit>;

  private constructor(
    readonly id: string,
    private readonly term: IPty,
    private readonly plan: PtyPlan,
    private readonly cmd: string | undefined,
  ) {
    term.onData((data: string | Buffer) => {
      this.output.append('pty', typeof data === 'string' ? Buffer.from(data) : data);
    });
    this.exited = new Promise((resolve) => {
      term.onExit(({ exitCode, signal }) => {
        const name = signalName(signal);
        this.exitInfo = name === undefined ? { exitCode } : { exitCode: exitCode || 128 + (signal ?? 0), signal: name };
        this.output.close();
        resolve(this.exitInfo);
      });
    });
  }

  static async start(id: string, plan: PtyPlan, size: PtySize, cmd: string | undefined): Promise<PtySession> {
    const { spawn } = await loadNodePty();
    let term: IPty;
    try {
      term = spawnInWorkload(() =>
        spawn(plan.file, plan.args, {
          name: 'xterm-256color',
          cols: size.cols,
          rows: size.rows,
          cwd: plan.cwd,
          env: plan.env,
          // Buffers, not strings: a UTF-8 sequence split between two reads must reach the client intact.
          encoding: null,
          ...(plan.uid === undefined ? {} : { uid: plan.uid }),
          ...(plan.gid === undefined ? {} : { gid: plan.gid }),
        }),
      );
    } catch (err) {
      log.error('cannot start a pty', { err, file: plan.file });
      throw new PaddockError('INTERNAL', `cannot start a terminal running ${plan.file}: ${(err as Error).message}`);
    }
    giveTerminalTo(term, plan);
    return new PtySession(id, term, plan, cmd);
  }

  get pid(): number {
    return this.term.pid;
  }

  get exit(): PtyExit | undefined {
    return this.exitInfo;
  }

  /** Resolves when the program has exited and its last output is in the log. */
  wait(): Promise<PtyExit> {
    return this.exited;
  }

  info(): PtyInfo {
    const info: PtyInfo = {
      id: this.id,
      pid: this.term.pid,
      cols: this.term.cols,
      rows: this.term.rows,
      user: this.plan.user.name,
      createdAt: this.createdAt.toISOString(),
      outputBytes: this.output.endOffset,
    };
    if (this.cmd !== undefined) info.cmd = this.cmd;
    if (this.exitInfo !== undefined) info.exitCode = this.exitInfo.exitCode;
    return info;
  }

  /** Types `data` into the terminal. */
  write(data: Buffer): void {
    this.assertRunning('send input to');
    this.term.write(data);
  }

  /** Changes the window size; the kernel sends SIGWINCH to the foreground program. */
  resize(size: PtySize): void {
    this.assertRunning('resize');
    this.term.resize(size.cols, size.rows);
  }

  /** Kills the program and everything it started in its terminal session. */
  kill(): void {
    if (this.exitInfo === undefined) killSession(this.term.pid);
  }

  private assertRunning(what: string): void {
    if (this.exitInfo === undefined) return;
    throw new PaddockError(
      'CONFLICT',
      `cannot ${what} PTY session ${this.id}: it exited with code ${this.exitInfo.exitCode}; create a new one`,
      { ptyId: this.id, exitCode: this.exitInfo.exitCode },
    );
  }
}

/**
 * glibc's openpty leaves the terminal owned by the agent (root); programs that check or
 * reopen their terminal (`mesg`, `write`, `script`) expect it to be the user's, group tty.
 */
function giveTerminalTo(term: IPty, plan: PtyPlan): void {
  const ptsName = (term as IPty & { ptsName?: string }).ptsName;
  if (ptsName === undefined || plan.user.uid === process.getuid?.()) return;
  try {
    chownSync(ptsName, plan.user.uid, 5);
  } catch {
    // A devpts without a tty group (gid 5) keeps root's group; the program still has its fds.
  }
}

function signalName(signal: number | undefined): string | undefined {
  if (signal === undefined || signal === 0) return undefined;
  return Object.entries(constants.signals).find(([, n]) => n === signal)?.[0];
}

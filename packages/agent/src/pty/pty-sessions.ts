import { randomBytes } from 'node:crypto';
import { type CreatePtyRequest, PaddockError, type PtyInfo } from '@paddock/protocol';
import type { AgentConfig } from '../config.js';
import { planPty } from './pty-plan.js';
import { PtySession } from './pty-session.js';

/** Exited sessions kept so that a late client still reads the last screen and the exit code. */
const KEPT_EXITED = 16;
/** Live sessions per sandbox; each holds a shell and up to 256 KiB of scrollback. */
const MAX_LIVE = 256;

/**
 * The agent's PTY sessions. They belong to the agent, not to a connection: clients come and
 * go (SDK disconnects, server restarts) while the programs keep running.
 */
export class PtySessions {
  private readonly sessions = new Map<string, PtySession>();
  private readonly exitedOrder: string[] = [];

  constructor() {
    // Terminals die with the agent however it ends (SIGTERM, a crash): on the host, in the
    // agent tests, nothing else would reap them.
    process.once('exit', () => this.killAll());
  }

  async create(request: CreatePtyRequest, config: AgentConfig): Promise<PtySession> {
    if (this.live().length >= MAX_LIVE) {
      throw new PaddockError('RESOURCE_EXHAUSTED', `at most ${MAX_LIVE} PTY sessions may run at once; kill some first`);
    }
    const plan = planPty(request, config);
    const id = randomBytes(8).toString('hex');
    const session = await PtySession.start(id, plan, { cols: request.cols, rows: request.rows }, request.cmd);
    this.sessions.set(id, session);
    void session.wait().then(() => this.retire(id));
    return session;
  }

  /** The session `id`; NOT_FOUND naming the id otherwise. */
  get(id: string): PtySession {
    const session = this.sessions.get(id);
    if (session === undefined) {
      throw new PaddockError('NOT_FOUND', `no PTY session "${id}" in this sandbox (list them with GET /pty)`, {
        ptyId: id,
      });
    }
    return session;
  }

  list(): PtyInfo[] {
    return [...this.sessions.values()].map((s) => s.info());
  }

  /** Kills every live session (agent shutdown). */
  killAll(): void {
    for (const session of this.live()) session.kill();
  }

  private live(): PtySession[] {
    return [...this.sessions.values()].filter((s) => s.exit === undefined);
  }

  private retire(id: string): void {
    this.exitedOrder.push(id);
    while (this.exitedOrder.length > KEPT_EXITED) {
      const oldest = this.exitedOrder.shift();
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
  }
}

/** The one table of this agent process. */
export const ptySessions = new PtySessions();

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type CommandEvent, PaddockError } from '@paddock/protocol';
import { AgentClient } from '../../packages/server/src/agent-client/index.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bundle = join(repo, 'packages', 'agent', 'dist', 'agent.js');

/** A built agent started on the host as a child, with its own temp dir, socket and config. */
export interface AgentFixture {
  client: AgentClient;
  child: ChildProcess;
  pid: number;
  /** Scratch dir for the test's files (also the agent's workdir). */
  dir: string;
  /** Milliseconds from spawn to the agent's "listening" line, and the agent's own count. */
  startupMs: { observed: number; reported: number };
  stop(): Promise<void>;
}

/** Builds the bundle (an atomic rename, so parallel test files are safe) and starts it. */
export async function startAgent(options: { env?: Record<string, string> } = {}): Promise<AgentFixture> {
  execFileSync(process.execPath, [join(repo, 'packages', 'agent', 'build.mjs')], { stdio: 'inherit' });
  const dir = mkdtempSync(join(tmpdir(), 'paddock-agent-test-'));
  // The socket's dir is the agent's own (as /run/paddock in a sandbox): the files API refuses
  // to change it, so it is kept apart from the dir the tests work in.
  const runDir = join(dir, 'run');
  mkdirSync(runDir);
  const socket = join(runDir, 'agent.sock');
  const config = join(runDir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({ env: { FROM_CONFIG: 'yes', ...options.env }, defaultUser: 'root', workdir: dir }),
  );
  const spawnedAt = performance.now();
  // Started from another cwd with a bare env: the bundle must need nothing around it.
  const child = spawn(process.execPath, [bundle], {
    cwd: '/',
    env: { PADDOCK_SOCKET: socket, PADDOCK_CONFIG: config },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  const listening = await new Promise<{ startupMs: number }>((resolve, reject) => {
    const lines = createInterface({ input: child.stderr! });
    child.once('exit', (code) => reject(new Error(`agent exited with ${code} before listening`)));
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; startupMs?: number };
      if (entry.msg === 'listening') resolve({ startupMs: entry.startupMs ?? -1 });
      else if (entry.msg !== undefined && entry.msg !== 'listening') process.stderr.write(`[agent] ${line}\n`);
    });
  });
  const observed = performance.now() - spawnedAt;
  const client = new AgentClient(socket);
  return {
    client,
    child,
    pid: child.pid!,
    dir,
    startupMs: { observed: Math.round(observed), reported: listening.startupMs },
    async stop() {
      client.close();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(child.pid!, 'SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Collected output of a finished command. */
export interface CommandResult {
  events: CommandEvent[];
  stdout: string;
  stderr: string;
  exit: Extract<CommandEvent, { type: 'exit' }> | undefined;
}

export async function collect(events: AsyncIterable<CommandEvent>): Promise<CommandResult> {
  const all: CommandEvent[] = [];
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for await (const event of events) {
    all.push(event);
    if (event.type === 'stdout') out.push(Buffer.from(event.data, 'base64'));
    if (event.type === 'stderr') err.push(Buffer.from(event.data, 'base64'));
  }
  const exit = all.find((e): e is Extract<CommandEvent, { type: 'exit' }> => e.type === 'exit');
  return { events: all, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), exit };
}

/** Gone, or a zombie nobody reaps (on the host the test's PID 1 may not reap orphans). */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/**
 * Waits for a condition that another process makes true (a kill landing, a temp file
 * removed), checking every few ms and failing after `timeoutMs`: the condition is the
 * event, there is no fixed sleep.
 */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Runs `fn` and returns the PaddockError it throws. */
export async function paddockError(fn: () => Promise<unknown>): Promise<PaddockError> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof PaddockError) return err;
    throw err;
  }
  throw new Error('expected a PaddockError');
}

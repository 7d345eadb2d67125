import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants } from 'node:os';
import { type CommandEvent, ndjsonLine, RunCommandRequest } from '@paddock/protocol';
import type { CommandPlan } from './command-plan.js';
import { planCommand } from './command-plan.js';
import type { AgentConfig } from './config.js';
import { parseInput, readJson } from './request-input.js';

/**
 * After the command's own process exits, how long its output pipes may stay open. A
 * background job (`server &`) inherits them and may never close them; its later output
 * is then dropped, and it keeps running.
 */
const DRAIN_AFTER_EXIT_MS = 200;

/** Process groups of running commands, killed when the agent shuts down. */
const running = new Set<number>();

/** Kills every running command's process group (agent shutdown). */
export function killAllCommands(): void {
  for (const pgid of running) killGroup(pgid);
}

/** `POST /exec`: validates, then streams `start`, output chunks and one `exit` as NDJSON. */
export async function handleExec(req: IncomingMessage, res: ServerResponse, config: AgentConfig): Promise<void> {
  const request = parseInput(RunCommandRequest, await readJson(req));
  const plan = planCommand(request, config);
  // `detached` makes the child lead a new process group, so that a timeout or a
  // disconnect can kill everything it started, grandchildren included.
  const child = spawn(plan.file, plan.args, {
    cwd: plan.cwd,
    env: plan.env,
    detached: true,
    stdio: 'pipe',
    ...(plan.uid === undefined ? {} : { uid: plan.uid }),
    ...(plan.gid === undefined ? {} : { gid: plan.gid }),
  });
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  if (child.pid === undefined) {
    await answerSpawnFailure(child, plan, res);
    return;
  }
  await streamCommand(child, child.pid, plan, res);
}

/**
 * The program could not be executed: answer like a shell does (message on stderr, 127 when
 * missing, 126 when not executable), so `argv` and `cmd` commands fail alike. No process
 * exists, so `start` carries pid 0.
 */
async function answerSpawnFailure(child: ChildProcess, plan: CommandPlan, res: ServerResponse): Promise<void> {
  const [err] = (await once(child, 'error')) as [NodeJS.ErrnoException];
  const missing = err.code === 'ENOENT' || err.code === 'ENOTDIR';
  const why = missing ? 'command not found' : `cannot execute (${err.code ?? err.message})`;
  const message = Buffer.from(`paddock: ${plan.file}: ${why}\n`);
  res.write(ndjsonLine({ type: 'start', pid: 0 } satisfies CommandEvent));
  res.write(ndjsonLine({ type: 'stderr', data: message.toString('base64'), offset: 0 } satisfies CommandEvent));
  res.end(ndjsonLine({ type: 'exit', exitCode: missing ? 127 : 126 } satisfies CommandEvent));
}

function streamCommand(child: ChildProcess, pgid: number, plan: CommandPlan, res: ServerResponse): Promise<void> {
  const stdout = child.stdout!;
  const stderr = child.stderr!;
  const stdin = child.stdin!;
  running.add(pgid);
  // Errors after a successful spawn concern signalling, which goes through process.kill.
  child.on('error', () => {});
  let exited = false;
  let timedOut = false;

  const send = (event: CommandEvent): void => {
    // Backpressure: a slow client slows the command down through its pipes, instead of
    // the agent buffering its output without bound.
    if (!res.write(ndjsonLine(event)) && !res.destroyed) {
      stdout.pause();
      stderr.pause();
      res.once('drain', () => {
        stdout.resume();
        stderr.resume();
      });
    }
  };
  send({ type: 'start', pid: pgid });
  forward(stdout, 'stdout', send);
  forward(stderr, 'stderr', send);

  // A command that does not read its stdin must not crash the agent with EPIPE.
  stdin.on('error', () => {});
  stdin.end(plan.stdin);

  const timer =
    plan.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          killGroup(pgid);
        }, plan.timeoutMs)
      : undefined;
  const onDisconnect = () => {
    if (!exited) killGroup(pgid);
  };
  if (res.destroyed) onDisconnect();
  else res.on('close', onDisconnect);

  let drainTimer: NodeJS.Timeout | undefined;
  child.once('exit', () => {
    exited = true;
    // The command is done; the timeout no longer applies to what it left running.
    clearTimeout(timer);
    drainTimer = setTimeout(() => {
      stdout.destroy();
      stderr.destroy();
    }, DRAIN_AFTER_EXIT_MS);
  });

  return new Promise((resolve) => {
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      clearTimeout(drainTimer);
      running.delete(pgid);
      const exit: CommandEvent = { type: 'exit', exitCode: code ?? 128 + signalNumber(signal) };
      if (signal !== null) exit.signal = signal;
      if (timedOut) exit.timedOut = true;
      res.end(ndjsonLine(exit));
      resolve();
    });
  });
}

function forward(stream: NodeJS.ReadableStream, type: 'stdout' | 'stderr', send: (event: CommandEvent) => void): void {
  let offset = 0;
  stream.on('data', (chunk: Buffer) => {
    send({ type, data: chunk.toString('base64'), offset });
    offset += chunk.length;
  });
  // The pipe breaks when the drain period ends with a background job still holding it.
  stream.on('error', () => {});
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone.
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : (constants.signals[signal] ?? 0);
}

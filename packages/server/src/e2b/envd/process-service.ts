import { EnvVars, LIMITS, type ProcessEvent, type PtyEvent, type StartProcessRequest } from '@paddock/protocol';
import type { AgentClient } from '../../agent-client/agent-client.js';
import { AgentPtyClient } from '../../agent-client/pty-client.js';
import { type Commands, commandEnv } from '../../core/commands.js';
import { ConnectError, type ConnectStream } from './connect-protocol.js';
import { type EnvdCall, field, objectField, resolvePath } from './envd-call.js';
import type { PidEntry, PidTable } from './pid-table.js';

/** Go's `ProcessState.String()` words for the signals a sandbox process usually dies of. */
const SIGNAL_WORDS: Record<string, string> = {
  SIGKILL: 'killed',
  SIGTERM: 'terminated',
  SIGINT: 'interrupt',
  SIGHUP: 'hangup',
  SIGQUIT: 'quit',
  SIGPIPE: 'broken pipe',
};

/** Our exit event as envd's `EndEvent`: a signal death is exitCode -1, `exited: false`, `signal: killed`. */
export function endEventOf(exit: { exitCode: number; signal?: string | undefined }) {
  if (exit.signal) {
    const status = `signal: ${SIGNAL_WORDS[exit.signal] ?? exit.signal.toLowerCase()}`;
    return { exitCode: -1, exited: false, status, error: status };
  }
  const status = `exit status ${exit.exitCode}`;
  return { exitCode: exit.exitCode, exited: true, status, ...(exit.exitCode !== 0 ? { error: status } : {}) };
}

const b64 = (value: unknown, what: string): Buffer => {
  if (typeof value !== 'string') throw new ConnectError('invalid_argument', `${what} must be base64 bytes`);
  return Buffer.from(value, 'base64');
};

/** `process.envs`, checked at the boundary: a NUL or a bad name is `invalid_argument` naming the key. */
function envsOf(config: Record<string, unknown> | undefined): Record<string, string> {
  const parsed = EnvVars.safeParse(objectField(config, 'envs') ?? {});
  if (parsed.success) return parsed.data;
  throw new ConnectError('invalid_argument', `process.envs: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'"'"'`)}'`;
}

/**
 * `process.Process` (docs/e2b-protocol.md §3.2) over the agent's durable processes and PTYs. Every
 * process is started in the background on the agent, so that it outlives the Start stream
 * (envd ties a process to `Connect-Timeout-Ms`, never to the request).
 */
export class ProcessService {
  constructor(
    private readonly pids: PidTable,
    private readonly commands: Commands<AgentClient>,
  ) {}

  async start(call: EnvdCall, message: unknown, stream: () => ConnectStream): Promise<void> {
    const config = objectField(message, 'process');
    const cmd = field(config, 'cmd');
    if (typeof cmd !== 'string' || cmd === '') throw new ConnectError('invalid_argument', 'process.cmd is required');
    const args = (field(config, 'args') ?? []) as unknown[];
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) {
      throw new ConnectError('invalid_argument', 'process.args must be a list of strings');
    }
    const envs = envsOf(config);
    const cwdField = field(config, 'cwd');
    const cwd = cwdField === undefined ? undefined : resolvePath(cwdField, call.user, 'process.cwd');
    const tag = field(message, 'tag') as string | undefined;
    const ptyConfig = objectField(message, 'pty');
    const entryConfig = { cmd, args: args as string[], envs, cwd };
    if (ptyConfig) {
      const size = objectField(ptyConfig, 'size') ?? {};
      const pty = new AgentPtyClient(call.agent);
      const loginShell = cmd === '/bin/bash' && args.every((a) => a === '-i' || a === '-l');
      const created = await pty.create(
        {
          cols: Number(field(size, 'cols') ?? 80),
          rows: Number(field(size, 'rows') ?? 24),
          ...(loginShell ? {} : { cmd: [cmd, ...(args as string[])].map(shellQuote).join(' ') }),
          ...(cwd !== undefined ? { cwd } : {}),
          env: commandEnv(call.record, envs),
          ...(call.user !== undefined ? { user: call.user } : {}),
        },
        { signal: call.signal },
      );
      this.pids.set(call.record.id, created.pid, { kind: 'pty', id: created.id, tag, config: entryConfig });
      await this.relayPty(call, created.id, undefined, stream());
      return;
    }
    const timeoutMs = Math.min(call.timeoutMs ?? 0, LIMITS.commandTimeoutMs.max);
    // Started and followed in one agent round trip where the agent can (the command owner asks
    // its handshake); the sandbox's env goes under `envs` there.
    const request: StartProcessRequest = {
      argv: [cmd, ...(args as string[])],
      env: envs,
      background: true,
      follow: true,
      timeoutMs,
      // `stdin: false` (the SDK's default for run) gives the process EOF at once; absent or true keeps the pipe.
      closeStdin: field(message, 'stdin') === false,
      ...(cwd !== undefined ? { cwd } : {}),
      ...(call.user !== undefined ? { user: call.user } : {}),
    };
    const remember = (proc: { id: string; pid: number }) =>
      this.pids.set(call.record.id, proc.pid, { kind: 'process', id: proc.id, tag, config: entryConfig });
    const run = await this.commands.open(call.record.id);
    const events = await this.commands.stream(run, request, { signal: call.signal });
    await this.relayEvents(events, stream(), remember);
  }

  /** Forgets the pids of a sandbox that is gone. */
  forget(sandboxId: string): void {
    this.pids.drop(sandboxId);
  }

  /** Reattaches to a running (or recently finished) process: start, then live output and its end. */
  async connect(call: EnvdCall, message: unknown, stream: () => ConnectStream): Promise<void> {
    const [, entry] = await this.find(call, message);
    if (entry.kind === 'pty') {
      const sessions = await new AgentPtyClient(call.agent).list();
      const offset = sessions.sessions.find((s) => s.id === entry.id)?.outputBytes;
      await this.relayPty(call, entry.id, offset, stream());
      return;
    }
    const processes = call.agent.processes;
    const info = await processes.info(entry.id, { signal: call.signal });
    const run = await this.commands.open(call.record.id);
    const events = await processes.events(entry.id, info.endOffset, { signal: call.signal });
    await this.relayEvents(run.watch(events, call.signal), stream());
  }

  async list(call: EnvdCall): Promise<unknown> {
    const options = { signal: call.signal };
    const processes = (await call.agent.processes.list(options)).processes.filter((p) => p.running);
    const sessions = (await new AgentPtyClient(call.agent).list(options)).sessions.filter(
      (s) => s.exitCode === undefined,
    );
    const describe = (pid: number, fallback: () => NonNullable<PidEntry['config']>) => {
      const known = this.pids.get(call.record.id, pid);
      const config = known?.config ?? fallback();
      return {
        pid,
        config: { cmd: config.cmd, args: config.args, envs: config.envs, ...(config.cwd ? { cwd: config.cwd } : {}) },
        ...(known?.tag !== undefined ? { tag: known.tag } : {}),
      };
    };
    return {
      processes: [
        ...processes.map((p) =>
          describe(p.pid, () => ({ cmd: '/bin/bash', args: ['-l', '-c', p.cmd], envs: {}, cwd: p.cwd })),
        ),
        ...sessions.map((s) =>
          describe(s.pid, () => ({ cmd: '/bin/bash', args: s.cmd ? ['-l', '-c', s.cmd] : ['-i', '-l'], envs: {} })),
        ),
      ],
    };
  }

  async sendInput(call: EnvdCall, message: unknown): Promise<unknown> {
    const [, entry] = await this.find(call, message);
    const input = objectField(message, 'input') ?? {};
    const data = field(input, 'stdin') ?? field(input, 'pty');
    const bytes = b64(data, 'input.stdin or input.pty');
    if (entry.kind === 'pty') await new AgentPtyClient(call.agent).input(entry.id, bytes, { signal: call.signal });
    else
      await call.agent.processes.writeStdin(
        entry.id,
        { dataBase64: bytes.toString('base64') },
        { signal: call.signal },
      );
    return {};
  }

  async closeStdin(call: EnvdCall, message: unknown): Promise<unknown> {
    const [, entry] = await this.find(call, message);
    if (entry.kind === 'pty') throw new ConnectError('failed_precondition', 'a PTY has no stdin to close; send Ctrl-D');
    await call.agent.processes.writeStdin(entry.id, { eof: true }, { signal: call.signal });
    return {};
  }

  async sendSignal(call: EnvdCall, message: unknown): Promise<unknown> {
    const [pid, entry] = await this.find(call, message);
    const raw = field(message, 'signal');
    const signal = raw === 'SIGNAL_SIGTERM' || raw === 15 ? 'SIGTERM' : 'SIGKILL';
    if (entry.kind === 'pty') {
      await new AgentPtyClient(call.agent).kill(entry.id, { signal: call.signal });
      return {};
    }
    if (!(await call.agent.processes.info(entry.id, call)).running)
      throw new ConnectError('not_found', `process with pid ${pid} not found`);
    await call.agent.processes.signal(entry.id, { signal, scope: 'tree' }, { signal: call.signal });
    return {};
  }

  /** `Update`: resizes a PTY. */
  async update(call: EnvdCall, message: unknown): Promise<unknown> {
    const [pid, entry] = await this.find(call, message);
    const size = objectField(objectField(message, 'pty'), 'size');
    if (!size) return {};
    if (entry.kind !== 'pty') throw new ConnectError('invalid_argument', `process ${pid} has no PTY to resize`);
    await new AgentPtyClient(call.agent).resize(
      entry.id,
      { cols: Number(field(size, 'cols')), rows: Number(field(size, 'rows')) },
      { signal: call.signal },
    );
    return {};
  }

  /** The process a `ProcessSelector` names (by pid or tag); the agent is asked when the table does not know it. */
  private async find(call: EnvdCall, message: unknown): Promise<[number, PidEntry]> {
    const selector = objectField(message, 'process') ?? {};
    const tag = field(selector, 'tag');
    const sandboxId = call.record.id;
    if (typeof tag === 'string') {
      const found = this.pids.byTag(sandboxId, tag);
      if (!found) throw new ConnectError('not_found', `process with tag '${tag}' not found`);
      return found;
    }
    const pid = Number(field(selector, 'pid'));
    if (!Number.isInteger(pid) || pid <= 0)
      throw new ConnectError('invalid_argument', 'process.pid or process.tag is required');
    const known = this.pids.get(sandboxId, pid);
    if (known) return [pid, known];
    const processes = await call.agent.processes.list();
    const proc = processes.processes.find((p) => p.pid === pid);
    if (proc) {
      const entry: PidEntry = { kind: 'process', id: proc.id };
      this.pids.set(sandboxId, pid, entry);
      return [pid, entry];
    }
    const sessions = await new AgentPtyClient(call.agent).list();
    const session = sessions.sessions.find((s) => s.pid === pid);
    if (session) {
      const entry: PidEntry = { kind: 'pty', id: session.id };
      this.pids.set(sandboxId, pid, entry);
      return [pid, entry];
    }
    throw new ConnectError('not_found', `process with pid ${pid} not found`);
  }

  /** Relays agent process events as envd's; `onStart` sees the process before the client does. */
  private async relayEvents(
    events: AsyncIterable<ProcessEvent>,
    stream: ConnectStream,
    onStart?: (proc: { id: string; pid: number }) => void,
  ): Promise<void> {
    for await (const event of events) {
      if (event.type === 'start') {
        onStart?.(event);
        stream.send({ event: { start: { pid: event.pid } } });
      } else if (event.type === 'stdout') stream.send({ event: { data: { stdout: event.data } } });
      else if (event.type === 'stderr') stream.send({ event: { data: { stderr: event.data } } });
      else if (event.type === 'exit') stream.send({ event: { end: endEventOf(event) } });
      else if (event.type === 'error') throw new ConnectError('unavailable', event.error.message);
    }
  }

  private async relayPty(call: EnvdCall, id: string, fromOffset: number | undefined, stream: ConnectStream) {
    const pty = new AgentPtyClient(call.agent);
    for await (const event of pty.output(id, fromOffset, { signal: call.signal }) as AsyncGenerator<PtyEvent>) {
      if (event.type === 'start') stream.send({ event: { start: { pid: event.pid } } });
      else if (event.type === 'data') stream.send({ event: { data: { pty: event.data } } });
      else if (event.type === 'exit') stream.send({ event: { end: endEventOf(event) } });
      else throw new ConnectError('unavailable', event.error.message);
    }
  }
}

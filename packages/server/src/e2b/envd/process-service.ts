import type { IncomingMessage } from 'node:http';
import {
  EnvVars,
  LIMITS,
  PaddockError,
  ProcessEvent,
  ProcessInfo,
  ProcessList,
  type PtyEvent,
  PtyList,
  parseNdjson,
  type StartProcessRequest,
} from '@paddock/protocol';
import { AgentPtyClient } from '../../agent-client/pty-client.js';
import { readJsonBody } from '../../agent-client/transport.js';
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
  constructor(private readonly pids: PidTable) {}

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
    const env = { ...call.record.env, ...envs };
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
          env,
          ...(call.user !== undefined ? { user: call.user } : {}),
        },
        { signal: call.signal },
      );
      this.pids.set(call.record.id, created.pid, { kind: 'pty', id: created.id, tag, config: entryConfig });
      await this.relayPty(call, created.id, undefined, stream());
      return;
    }
    const timeoutMs = Math.min(call.timeoutMs ?? 0, LIMITS.commandTimeoutMs.max);
    const request: StartProcessRequest = {
      argv: [cmd, ...(args as string[])],
      env,
      background: true,
      timeoutMs,
      // `stdin: false` (the SDK's default for run) gives the process EOF at once; absent or true keeps the pipe.
      closeStdin: field(message, 'stdin') === false,
      ...(cwd !== undefined ? { cwd } : {}),
      ...(call.user !== undefined ? { user: call.user } : {}),
    };
    const remember = (proc: { id: string; pid: number }) =>
      this.pids.set(call.record.id, proc.pid, { kind: 'process', id: proc.id, tag, config: entryConfig });
    let events: IncomingMessage;
    try {
      // Start and follow in one agent round trip.
      const json = { ...request, follow: true };
      events = await call.agent.raw({ method: 'POST', path: '/processes', json, signal: call.signal });
    } catch (err) {
      if (!(err instanceof PaddockError && err.code === 'INVALID_ARGUMENT')) throw err;
      // An agent from before `follow` (a sandbox paused across a server upgrade) refuses the
      // field; a request that is bad for another reason fails the same way again below.
      events = await this.startThenFollow(call, request, remember);
    }
    await this.relayEvents(events, stream(), remember);
  }

  /** The start in three round trips, for agents that cannot follow or close stdin at start. */
  private async startThenFollow(
    call: EnvdCall,
    request: StartProcessRequest,
    remember: (proc: ProcessInfo) => void,
  ): Promise<IncomingMessage> {
    const { closeStdin, ...older } = request;
    const res = await call.agent.raw({ method: 'POST', path: '/processes', json: older, signal: call.signal });
    const info = ProcessInfo.parse(await readJsonBody(res));
    remember(info);
    if (closeStdin === true) await this.stdin(call, info.id, { eof: true });
    return this.events(call, info.id, 0);
  }

  /** Forgets the pids of a sandbox that is gone. */
  forget(sandboxId: string): void {
    this.pids.drop(sandboxId);
  }

  /** Reattaches to a running (or recently finished) process: start, then live output and its end. */
  async connect(call: EnvdCall, message: unknown, stream: () => ConnectStream): Promise<void> {
    const [, entry] = await this.find(call, message);
    if (entry.kind === 'pty') {
      const sessions = PtyList.parse(await readJsonBody(await call.agent.raw({ method: 'GET', path: '/pty' })));
      const offset = sessions.sessions.find((s) => s.id === entry.id)?.outputBytes;
      await this.relayPty(call, entry.id, offset, stream());
      return;
    }
    const info = await this.info(call, entry.id);
    await this.relayEvents(await this.events(call, entry.id, info.endOffset), stream());
  }

  async list(call: EnvdCall): Promise<unknown> {
    const processes = ProcessList.parse(
      await readJsonBody(await call.agent.raw({ method: 'GET', path: '/processes', signal: call.signal })),
    ).processes.filter((p) => p.running);
    const sessions = PtyList.parse(
      await readJsonBody(await call.agent.raw({ method: 'GET', path: '/pty', signal: call.signal })),
    ).sessions.filter((s) => s.exitCode === undefined);
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
    else await this.stdin(call, entry.id, { dataBase64: bytes.toString('base64') });
    return {};
  }

  async closeStdin(call: EnvdCall, message: unknown): Promise<unknown> {
    const [, entry] = await this.find(call, message);
    if (entry.kind === 'pty') throw new ConnectError('failed_precondition', 'a PTY has no stdin to close; send Ctrl-D');
    await this.stdin(call, entry.id, { eof: true });
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
    if (!(await this.info(call, entry.id)).running)
      throw new ConnectError('not_found', `process with pid ${pid} not found`);
    const res = await call.agent.raw({
      method: 'POST',
      path: `/processes/${entry.id}/signal`,
      json: { signal, scope: 'tree' },
      signal: call.signal,
    });
    res.resume();
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
    const processes = ProcessList.parse(
      await readJsonBody(await call.agent.raw({ method: 'GET', path: '/processes' })),
    );
    const proc = processes.processes.find((p) => p.pid === pid);
    if (proc) {
      const entry: PidEntry = { kind: 'process', id: proc.id };
      this.pids.set(sandboxId, pid, entry);
      return [pid, entry];
    }
    const sessions = PtyList.parse(await readJsonBody(await call.agent.raw({ method: 'GET', path: '/pty' })));
    const session = sessions.sessions.find((s) => s.pid === pid);
    if (session) {
      const entry: PidEntry = { kind: 'pty', id: session.id };
      this.pids.set(sandboxId, pid, entry);
      return [pid, entry];
    }
    throw new ConnectError('not_found', `process with pid ${pid} not found`);
  }

  private async info(call: EnvdCall, id: string): Promise<ProcessInfo> {
    const res = await call.agent.raw({ method: 'GET', path: `/processes/${id}`, signal: call.signal });
    return ProcessInfo.parse(await readJsonBody(res));
  }

  private async stdin(call: EnvdCall, id: string, body: { dataBase64?: string; eof?: boolean }): Promise<void> {
    const res = await call.agent.raw({
      method: 'POST',
      path: `/processes/${id}/stdin`,
      json: body,
      signal: call.signal,
    });
    res.resume();
  }

  private events(call: EnvdCall, id: string, fromOffset: number): Promise<IncomingMessage> {
    return call.agent.raw({
      method: 'GET',
      path: `/processes/${id}/events`,
      query: { fromOffset },
      signal: call.signal,
    });
  }

  /** Relays agent process events as envd's; `onStart` sees the process before the client does. */
  private async relayEvents(
    res: IncomingMessage,
    stream: ConnectStream,
    onStart?: (proc: { id: string; pid: number }) => void,
  ): Promise<void> {
    try {
      for await (const value of parseNdjson(res)) {
        const event = ProcessEvent.parse(value);
        if (event.type === 'start') {
          onStart?.(event);
          stream.send({ event: { start: { pid: event.pid } } });
        } else if (event.type === 'stdout') stream.send({ event: { data: { stdout: event.data } } });
        else if (event.type === 'stderr') stream.send({ event: { data: { stderr: event.data } } });
        else if (event.type === 'exit') stream.send({ event: { end: endEventOf(event) } });
        else if (event.type === 'error') throw new ConnectError('unavailable', event.error.message);
      }
    } finally {
      if (!res.complete) res.destroy();
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

import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { LIMITS, PaddockError, type RunCommandRequest } from '@paddock/protocol';
import type { AgentConfig } from './config.js';
import { executable, isDirectory } from './fs-checks.js';
import { type SandboxUser, UserDb } from './users.js';

/** Everything `spawn` needs for one command, decided before anything starts. */
export interface CommandPlan {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Set only when the command runs as another user than the agent. */
  uid?: number;
  gid?: number;
  timeoutMs: number;
  stdin: Buffer | undefined;
}

const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const USER_PATH = '/usr/local/bin:/usr/bin:/bin';
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'];

/**
 * Resolves user, working directory, environment and program of a command. Throws the
 * errors a caller can fix (unknown user, missing cwd) before any process exists.
 */
export function planCommand(request: RunCommandRequest, config: AgentConfig): CommandPlan {
  const user = UserDb.load().resolve(request.user ?? config.defaultUser);
  const cwd = request.cwd === undefined ? defaultCwd(config, user) : checkedCwd(request.cwd);
  const env = commandEnv(config, user, request.env);
  const [file, ...args] = request.argv ?? shellArgv(request.cmd ?? '');
  const plan: CommandPlan = {
    file: file ?? '',
    args,
    cwd,
    env,
    timeoutMs: request.timeoutMs ?? LIMITS.commandTimeoutMs.default,
    stdin: request.stdinBase64 === undefined ? undefined : Buffer.from(request.stdinBase64, 'base64'),
  };
  return asUser(plan, user);
}

/**
 * Switches to the user only when it differs from the agent's own (on the host, in tests,
 * the agent runs unprivileged as the requested user). Node's spawn sets uid/gid but clears
 * supplementary groups (libuv calls setgroups(0)); `setpriv` from util-linux, which is
 * Essential in Debian and so in every Debian rootfs, sets them too. Without it the command
 * gets its primary group only.
 */
function asUser(plan: CommandPlan, user: SandboxUser): CommandPlan {
  if (user.uid === process.getuid?.() && user.gid === process.getgid?.()) return plan;
  const setpriv = user.groups.length > 0 ? SETPRIV.find(executable) : undefined;
  if (setpriv === undefined) return { ...plan, uid: user.uid, gid: user.gid };
  const ids = [`--reuid=${user.uid}`, `--regid=${user.gid}`, `--groups=${user.groups.join(',')}`];
  return { ...plan, file: setpriv, args: [...ids, '--', plan.file, ...plan.args] };
}

/**
 * Precedence, lowest first: PATH and SHELL defaults, the sandbox's env (templates may set
 * PATH), the user's identity (HOME, USER, LOGNAME always describe who runs), the request.
 */
function commandEnv(
  config: AgentConfig,
  user: SandboxUser,
  requestEnv: Record<string, string> | undefined,
): Record<string, string> {
  return {
    PATH: user.uid === 0 ? ROOT_PATH : USER_PATH,
    SHELL: user.shell,
    ...config.env,
    HOME: user.home,
    USER: user.name,
    LOGNAME: user.name,
    ...requestEnv,
  };
}

/**
 * `--norc`: Node gives children socketpairs, not pipes, for stdio, and bash takes a socket
 * on stdin for an rshd/sshd login and sources ~/.bashrc, which is slow, noisy and may
 * block (seen here: a pyenv rehash lock). A plain `bash -c` should not read it.
 */
function shellArgv(cmd: string): string[] {
  return executable('/bin/bash') ? ['/bin/bash', '--norc', '-c', cmd] : ['/bin/sh', '-c', cmd];
}

function defaultCwd(config: AgentConfig, user: SandboxUser): string {
  return [config.workdir, user.home].find(isDirectory) ?? '/';
}

function checkedCwd(cwd: string): string {
  if (!isAbsolute(cwd)) {
    throw new PaddockError('INVALID_ARGUMENT', `\`cwd\`: must be an absolute path, got "${cwd}"`, { field: 'cwd' });
  }
  let stats: ReturnType<typeof statSync>;
  try {
    stats = statSync(cwd);
  } catch {
    throw new PaddockError('NOT_FOUND', `\`cwd\`: no such directory in the sandbox: ${cwd}`, {
      field: 'cwd',
      path: cwd,
    });
  }
  if (!stats?.isDirectory()) {
    throw new PaddockError('NOT_A_DIRECTORY', `\`cwd\`: not a directory: ${cwd}`, { field: 'cwd', path: cwd });
  }
  return cwd;
}

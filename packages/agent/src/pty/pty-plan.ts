import type { CreatePtyRequest } from '@paddock/protocol';
import { type CommandPlan, planCommand } from '../command-plan.js';
import type { AgentConfig } from '../config.js';
import { executable } from '../fs-checks.js';
import { type SandboxUser, UserDb } from '../users.js';

/** What node-pty's spawn needs for one session, decided before anything starts. */
export interface PtyPlan {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
  user: SandboxUser;
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'];
/** Shells that refuse a login: a PTY for such a user gets a real shell instead. */
const NO_LOGIN = /\/(nologin|false)$/;

/**
 * Resolves program, user, working directory and environment like a command (same errors for
 * a bad `user` or `cwd`), with a terminal's TERM. Without `cmd` the program is the user's
 * login shell run with `-l`, so profile files set up the environment as on a console.
 */
export function planPty(request: CreatePtyRequest, config: AgentConfig): PtyPlan {
  const user = UserDb.load().resolve(request.user ?? config.defaultUser);
  const argv = request.cmd === undefined ? [loginShell(user), '-l'] : [commandShell(), '-c', request.cmd];
  const plan = planCommand(
    {
      argv,
      env: { TERM: 'xterm-256color', COLORTERM: 'truecolor', ...request.env },
      user: String(user.uid),
      ...(request.cwd === undefined ? {} : { cwd: request.cwd }),
    },
    config,
  );
  return { ...withoutRootGroups(plan), user };
}

/**
 * node-pty sets uid and gid but, unlike Node's spawn, keeps the agent's supplementary
 * groups (root's); `setpriv --clear-groups` drops them where planCommand did not already
 * hand the groups to setpriv.
 */
function withoutRootGroups(plan: CommandPlan): Omit<PtyPlan, 'user'> {
  const base = { file: plan.file, args: plan.args, cwd: plan.cwd, env: plan.env };
  if (plan.uid === undefined || plan.gid === undefined) return base;
  const setpriv = SETPRIV.find(executable);
  if (setpriv === undefined) return { ...base, uid: plan.uid, gid: plan.gid };
  const ids = [`--reuid=${plan.uid}`, `--regid=${plan.gid}`, '--clear-groups'];
  return { ...base, file: setpriv, args: [...ids, '--', plan.file, ...plan.args] };
}

function loginShell(user: SandboxUser): string {
  if (!NO_LOGIN.test(user.shell) && executable(user.shell)) return user.shell;
  return commandShell();
}

function commandShell(): string {
  return executable('/bin/bash') ? '/bin/bash' : '/bin/sh';
}

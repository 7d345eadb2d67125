import type { SandboxInfo } from '@paddock/protocol';
import type { ConnectionOptions } from '../connection.js';
import { SandboxPausedError } from '../errors.js';
import { PAUSED_STATES, Sandbox } from '../sandbox.js';

/**
 * How a command treats a paused sandbox:
 * - `never`: it reads (get, ps, logs, port ls, net) or changes the expiry (set-timeout) and
 *   never wakes the sandbox, even one created with `autoResume`;
 * - `auto`: it needs the sandbox running (exec, run-code, cp, sync, shell, kill-process) and
 *   lets the server resume one created with `autoResume` — the creator's choice; others fail.
 */
export type ResumePolicy = 'never' | 'auto';

/**
 * A handle on an existing sandbox for a CLI command. The CLI never calls `Sandbox.connect`: its
 * resume replaces a paused sandbox's retention (7 days by default) with a fresh 5-minute
 * timeout, after which the sandbox is gone — too much for a command that only looks. A resume
 * is `paddock sandbox resume ID`, said so in the error. Throws NotFoundError for an unknown id.
 */
export async function attach(id: string, conn: ConnectionOptions, policy: ResumePolicy): Promise<Sandbox> {
  const sbx = Sandbox.handle(id, conn);
  const info = await sbx.getInfo();
  if (PAUSED_STATES.includes(info.state) && (policy === 'never' || !info.autoResume)) throw pausedError(info);
  return sbx;
}

function pausedError(info: SandboxInfo): SandboxPausedError {
  return new SandboxPausedError(
    'SANDBOX_PAUSED',
    `sandbox '${info.id}' is ${info.state} (kept until ${info.expiresAt}); this command does not resume it: run \`paddock sandbox resume ${info.id}\` first`,
    { details: { sandboxId: info.id, state: info.state } },
  );
}

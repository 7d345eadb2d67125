import { PaddockError } from '@paddock/protocol';
import type { DataPaths } from '../../paths.js';
import { DEFAULT_PATH } from '../build-steps.js';
import type { BuildStep } from '../plan.js';
import { runInRootfs } from '../sandbox-exec.js';
import type { BuildNetworks } from './build-network.js';
import { asUserArgv, buildTools } from './build-tools.js';
import { makeDirInside, resolveUser } from './rootfs-files.js';
import type { StageState } from './stage-state.js';

type RunStep = Extract<BuildStep, { kind: 'run' }>;

export interface RunJob {
  paths: DataPaths;
  merged: string;
  step: RunStep;
  state: StageState;
  /** `step 3/7` for messages. */
  label: string;
  signal: AbortSignal;
  onLine: (line: string) => void;
  /** Networks for `RUN --network` steps; without it they are refused. */
  networks?: BuildNetworks | undefined;
}

/**
 * Runs a RUN step in the build sandbox (bubblewrap in a user namespace; no network unless the
 * step asks, `RUN --network=default`, and then a sandbox-like one with open egress) on the merged
 * overlay, in the stage's WORKDIR (made when missing, as Docker does) and as its USER.
 */
export async function runStep(job: RunJob): Promise<void> {
  const { step, state } = job;
  if (step.network === true && job.networks === undefined) {
    throw new PaddockError('INVALID_ARGUMENT', `${job.label}: RUN --network is not available on this server`, {
      step: job.label,
    });
  }
  makeDirInside(job.merged, state.workdir);
  const command = typeof step.command === 'string' ? ['/bin/sh', '-c', step.command] : step.command;
  const user = state.user === undefined ? undefined : resolveUser(job.merged, state.user);
  const asUser = user !== undefined && user.uid !== 0;
  // bwrap needs root of the namespace to set the sandbox up; the host's setpriv (with its own
  // libraries and loader, mounted in bwrap's /dev) then drops to the user for the command, so
  // files it makes belong to that user, in any image.
  const argv = asUser ? asUserArgv(user, command) : command;
  const env = {
    PATH: DEFAULT_PATH,
    HOME: user?.home ?? '/root',
    ...step.args,
    ...state.env,
  };
  const network = step.network === true ? await job.networks?.(job.signal) : undefined;
  let result: Awaited<ReturnType<typeof runInRootfs>>;
  try {
    result = await runInRootfs({
      rootfs: job.merged,
      argv,
      env,
      cwd: state.workdir,
      network,
      ...(asUser ? { tools: await buildTools(job.paths) } : {}),
      signal: job.signal,
      onLine: job.onLine,
    });
  } finally {
    await network?.release();
  }
  if (result.exitCode !== 0) {
    const status = result.exitCode === null ? `signal ${result.exitSignal}` : `exit code ${result.exitCode}`;
    const shown = typeof step.command === 'string' ? step.command : JSON.stringify(step.command);
    throw new PaddockError(
      'TEMPLATE_BUILD_FAILED',
      `${job.label} RUN failed with ${status}: ${shown}\n${result.tail.slice(-15).join('\n')}`,
      { step: job.label, exitCode: result.exitCode, output: result.tail },
    );
  }
}

import { PaddockError } from '@paddock/protocol';
import { DEFAULT_PATH } from '../build-steps.js';
import type { BuildStep } from '../plan.js';
import { runInRootfs } from '../sandbox-exec.js';
import { makeDirInside, resolveUser } from './rootfs-files.js';
import type { StageState } from './stage-state.js';

type RunStep = Extract<BuildStep, { kind: 'run' }>;

export interface RunJob {
  merged: string;
  step: RunStep;
  state: StageState;
  /** `step 3/7` for messages. */
  label: string;
  signal: AbortSignal;
  onLine: (line: string) => void;
}

/**
 * Runs a RUN step in the build sandbox (bubblewrap in a user namespace, no network) on the merged
 * overlay, in the stage's WORKDIR (made when missing, as Docker does) and as its USER.
 */
export async function runStep(job: RunJob): Promise<void> {
  const { step, state } = job;
  if (step.network === true) {
    throw new PaddockError('INVALID_ARGUMENT', 'network in build steps is not supported yet (RUN --network)', {
      step: job.label,
    });
  }
  makeDirInside(job.merged, state.workdir);
  const command = typeof step.command === 'string' ? ['/bin/sh', '-c', step.command] : step.command;
  const user = state.user === undefined ? undefined : resolveUser(job.merged, state.user);
  const asUser = user !== undefined && user.uid !== 0;
  // bwrap needs root of the namespace to set the sandbox up; setpriv (util-linux, in the image)
  // drops to the user for the command itself, so files it makes belong to that user. An image
  // without it fails with bwrap's "execvp /usr/bin/setpriv" in the step's output.
  const argv = asUser
    ? [
        '/usr/bin/setpriv',
        `--reuid=${user.uid}`,
        `--regid=${user.gid}`,
        user.known ? '--init-groups' : '--clear-groups',
        '--',
        ...command,
      ]
    : command;
  const env = {
    PATH: DEFAULT_PATH,
    HOME: user?.home ?? '/root',
    ...step.args,
    ...state.env,
  };
  const result = await runInRootfs({
    rootfs: job.merged,
    argv,
    env,
    cwd: state.workdir,
    signal: job.signal,
    onLine: job.onLine,
  });
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

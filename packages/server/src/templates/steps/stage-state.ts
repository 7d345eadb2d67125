import type { ImageConfig } from '../images/image-types.js';
import type { BuildStep } from '../plan.js';

/** What metadata steps change: the defaults of later steps and of the template's sandboxes. */
export interface StageState {
  env: Record<string, string>;
  workdir: string;
  /** `USER` as given (`name`, `uid` or `uid:gid`); undefined: root for steps. */
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
}

export function initialState(config: ImageConfig): StageState {
  return {
    env: { ...config.env },
    workdir: config.workdir ?? '/',
    ...(config.user === undefined ? {} : { user: config.user }),
    ...(config.entrypoint === undefined ? {} : { entrypoint: config.entrypoint }),
    ...(config.cmd === undefined ? {} : { cmd: config.cmd }),
  };
}

/** Applies a metadata step; returns false for steps that change files (they need a layer). */
export function applyMetadata(state: StageState, step: BuildStep): boolean {
  switch (step.kind) {
    case 'env':
      Object.assign(state.env, step.vars);
      return true;
    case 'workdir':
      state.workdir = step.path;
      return true;
    case 'user':
      state.user = step.user;
      return true;
    case 'entrypoint':
      state.entrypoint = step.argv;
      // As in Docker: a new ENTRYPOINT drops the CMD inherited from the base.
      delete state.cmd;
      return true;
    case 'cmd':
      state.cmd = step.argv;
      return true;
    default:
      return false;
  }
}

/** A step in the words of a Dockerfile, for progress messages. */
export function describeStep(step: BuildStep): string {
  const short = (text: string): string => (text.length > 120 ? `${text.slice(0, 117)}…` : text);
  switch (step.kind) {
    case 'run':
      return `RUN ${short(typeof step.command === 'string' ? step.command : JSON.stringify(step.command))}`;
    case 'copy':
      return `${step.add ? 'ADD' : 'COPY'}${step.fromStage === undefined ? '' : ` --from=${step.fromStage}`} ${short(step.sources.join(' '))} ${step.dest}`;
    case 'write':
      return `WRITE ${step.dest}`;
    case 'env':
      return `ENV ${short(Object.keys(step.vars).join(' '))}`;
    case 'workdir':
      return `WORKDIR ${step.path}`;
    case 'user':
      return `USER ${step.user}`;
    case 'entrypoint':
      return `ENTRYPOINT ${short(JSON.stringify(step.argv))}`;
    case 'cmd':
      return `CMD ${short(JSON.stringify(step.argv))}`;
  }
}

/**
 * The first pass of a plan build: resolve every stage's base and compute every step's cache key
 * without running anything, so that a plan whose template is already published costs only this
 * (one hash of each context file a COPY reads).
 */
import { PaddockError } from '@paddock/protocol';
import { selectContextFiles } from '../dockerfile/build-context.js';
import type { ImageConfig } from '../images/image-types.js';
import type { BuildBase, BuildContext, BuildPlan, BuildStep } from '../plan.js';
import { applyMetadata, initialState, type StageState } from './stage-state.js';
import { baseKey, ContextHashes, stepKey } from './step-key.js';

/** What `resolveBase` gives for an image or template base. */
export interface ResolvedBase {
  /** A read-only root filesystem (uid-shifted). */
  rootfs: string;
  config: ImageConfig;
  /** Identifies the content (a template's hash, an image's manifest digest). */
  key: string;
  /** A template's default sandbox user: kept as the result's user unless a USER step sets one. */
  sandboxUser?: string;
}

export type ExternalBase = Extract<BuildBase, { kind: 'image' | 'template' }>;
export type ResolveBase = (base: ExternalBase, signal: AbortSignal) => Promise<ResolvedBase>;

export interface PlannedStep {
  step: BuildStep;
  key: string;
  /** The stage state the step runs with (after the metadata steps before it). */
  state: StageState;
  /** For `COPY --from`: the index of the source stage. */
  fromStage?: number;
}

export interface PlannedStage {
  index: number;
  /** The base rootfs (absolute), absent for stage and scratch bases. */
  baseRootfs?: string;
  /** The stage this one starts from. */
  baseStage?: number;
  sandboxUser?: string;
  steps: PlannedStep[];
  finalKey: string;
  finalState: StageState;
}

export async function planKeys(options: {
  plan: BuildPlan;
  context: BuildContext;
  resolveBase: ResolveBase;
  signal: AbortSignal;
}): Promise<PlannedStage[]> {
  const { plan } = options;
  const hashes = new ContextHashes(options.context);
  const stages: PlannedStage[] = [];
  const stageIndex = (ref: string, from: number): number => {
    const i = plan.stages.findIndex((s, j) => j < from && (s.name === ref || String(j) === ref));
    if (i < 0) throw new PaddockError('INVALID_ARGUMENT', `stage "${ref}" is not an earlier stage of the plan`);
    return i;
  };
  for (const [index, stage] of plan.stages.entries()) {
    options.signal.throwIfAborted();
    const planned: Omit<PlannedStage, 'steps' | 'finalKey' | 'finalState'> = { index };
    let key: string;
    let config: ImageConfig;
    if (stage.base.kind === 'stage') {
      const from = stages[stageIndex(stage.base.stage, index)] as PlannedStage;
      planned.baseStage = from.index;
      if (from.sandboxUser !== undefined) planned.sandboxUser = from.sandboxUser;
      key = from.finalKey;
      config = { ...from.finalState, env: { ...from.finalState.env } };
    } else if (stage.base.kind === 'scratch') {
      key = baseKey('scratch');
      config = { env: {} };
    } else {
      const base = await options.resolveBase(stage.base, options.signal);
      planned.baseRootfs = base.rootfs;
      if (base.sandboxUser !== undefined) planned.sandboxUser = base.sandboxUser;
      key = baseKey(`${stage.base.kind}:${base.key}`);
      config = base.config;
    }
    const state = initialState(config);
    const steps: PlannedStep[] = [];
    for (const step of stage.steps) {
      const snapshot = { ...state, env: { ...state.env } };
      if (applyMetadata(state, step)) {
        key = stepKey(key, { step });
        steps.push({ step, key, state: snapshot });
        continue;
      }
      if (step.kind === 'copy' && step.fromStage !== undefined) {
        const from = stageIndex(step.fromStage, index);
        key = stepKey(key, { step, state: { workdir: state.workdir }, reads: (stages[from] as PlannedStage).finalKey });
        steps.push({ step, key, state: snapshot, fromStage: from });
        continue;
      }
      const reads =
        step.kind === 'copy'
          ? selectContextFiles(options.context, step.sources, true).files.map((f) => ({
              ...f,
              mode: options.context.get(f.source)?.mode,
              sha256: hashes.of(f.source),
            }))
          : undefined;
      const runState = step.kind === 'run' ? { env: state.env, workdir: state.workdir, user: state.user } : undefined;
      key = stepKey(key, { step, state: runState, reads });
      steps.push({ step, key, state: snapshot });
    }
    stages.push({ ...planned, steps, finalKey: key, finalState: state });
  }
  return stages;
}

/** Stages the last one needs (its base chain and COPY --from sources), in plan order. */
export function neededStages(stages: readonly PlannedStage[]): PlannedStage[] {
  const needed = new Set<number>();
  const visit = (i: number): void => {
    if (needed.has(i)) return;
    needed.add(i);
    const stage = stages[i] as PlannedStage;
    if (stage.baseStage !== undefined) visit(stage.baseStage);
    for (const step of stage.steps) if (step.fromStage !== undefined) visit(step.fromStage);
  };
  visit(stages.length - 1);
  return stages.filter((s) => needed.has(s.index));
}

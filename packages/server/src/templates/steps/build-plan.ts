/**
 * The one executor of BuildPlans (Dockerfiles, E2B's builder, image specs). Each file-changing
 * step runs on an overlay of the layers so far and its upper dir is cached by the step's key
 * (`layer-cache.ts`); metadata steps only change the stage state. The last stage is flattened
 * into a template named by its final key; a plan whose template exists runs nothing.
 */
import { chown, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TemplateBuildEvent, TemplateSource } from '@paddock/protocol';
import type { DataPaths } from '../../paths.js';
import { UID_BASE } from '../../runtime/uid-map.js';
import type { BuiltTemplate } from '../layout.js';
import { readBuiltTemplate } from '../layout.js';
import { throttleLines } from '../log-throttle.js';
import type { BuildContext, BuildPlan } from '../plan.js';
import type { BuildNetworks } from './build-network.js';
import { copyStep } from './copy-step.js';
import { cachedLayer } from './layer-cache.js';
import { buildLayer } from './layer-step.js';
import { withLayerView } from './layer-view.js';
import { neededStages, type PlannedStage, type PlannedStep, planKeys, type ResolveBase } from './plan-keys.js';
import { publishPlan, templateHash } from './publish-plan.js';
import { runStep } from './run-step.js';
import { describeStep } from './stage-state.js';

export type { ResolveBase, ResolvedBase } from './plan-keys.js';

export interface BuildPlanOptions {
  paths: DataPaths;
  plan: BuildPlan;
  context: BuildContext;
  /** Image and template bases (stages and scratch are the executor's own). */
  resolveBase: ResolveBase;
  /** Recorded in the template's meta (e.g. `{ kind: 'dockerfile' }`). */
  source: TemplateSource;
  /** Networks for `RUN --network` steps. */
  networks?: BuildNetworks | undefined;
  signal: AbortSignal;
  emit: (event: TemplateBuildEvent) => void;
}

export async function buildPlan(options: BuildPlanOptions): Promise<{ info: BuiltTemplate; cached: boolean }> {
  const { paths, signal } = options;
  const progress = (step: string, message: string): void => options.emit({ type: 'progress', step, message });
  const stages = await planKeys(options);
  const last = stages.at(-1) as PlannedStage;
  const hash = templateHash({ finalKey: last.finalKey, start: options.plan.start, source: options.source });
  const existing = await readBuiltTemplate(paths, hash);
  if (existing !== undefined) {
    progress('cached', `template ${hash} is already built`);
    return { info: existing, cached: true };
  }

  const needed = neededStages(stages);
  const total = needed.reduce((n, s) => n + s.steps.length, 0);
  const log = throttleLines((line) => options.emit({ type: 'log', line }));
  /** Lower layers of each built stage, topmost first. */
  const lowers = new Map<number, string[]>();
  let counter = 0;
  try {
    for (const stage of needed) {
      let layers = await stageBase(paths, stage, lowers);
      for (const planned of stage.steps) {
        const label = `step ${++counter}/${total}`;
        const text = `${label} ${describeStep(planned.step)}`;
        signal.throwIfAborted();
        if (isMetadata(planned)) {
          progress('metadata', text);
          continue;
        }
        const hit = await cachedLayer(paths, planned.key);
        if (hit !== undefined) {
          progress('cached', `${text} (cached)`);
        } else {
          progress(planned.step.kind, text);
          await buildLayer({
            paths,
            key: planned.key,
            lowers: layers,
            signal,
            apply: (merged) => applyStep({ options, planned, merged, label, lowers, onLine: log.push }),
          });
          log.flush();
        }
        layers = [`${planned.key}/layer`, ...layers];
      }
      lowers.set(stage.index, layers);
    }
    progress('finalize', 'flattening the layers into the template');
    const info = await publishPlan({
      paths,
      hash,
      lowers: lowers.get(last.index) as string[],
      state: last.finalState,
      sandboxUser: last.sandboxUser,
      start: options.plan.start,
      source: options.source,
      signal,
    });
    return { info, cached: false };
  } finally {
    log.flush();
  }
}

function isMetadata(planned: PlannedStep): boolean {
  return ['env', 'workdir', 'user', 'entrypoint', 'cmd'].includes(planned.step.kind);
}

async function applyStep(job: {
  options: BuildPlanOptions;
  planned: PlannedStep;
  merged: string;
  label: string;
  lowers: Map<number, string[]>;
  onLine: (line: string) => void;
}): Promise<void> {
  const { options, planned, merged, label } = job;
  const { step } = planned;
  const { signal } = options;
  if (step.kind === 'run') {
    await runStep({
      paths: options.paths,
      merged,
      step,
      state: planned.state,
      label,
      signal,
      onLine: job.onLine,
      networks: options.networks,
    });
  } else if (step.kind === 'copy' && planned.fromStage !== undefined) {
    const from = job.lowers.get(planned.fromStage) as string[];
    await withLayerView({ paths: options.paths, lowers: from, signal }, (fromRoot) =>
      copyStep({ merged, step, context: options.context, fromRoot, label, signal }),
    );
  } else if (step.kind === 'copy') {
    await copyStep({ merged, step, context: options.context, label, signal });
  } else if (step.kind === 'write') {
    const context: BuildContext = new Map([['content', { data: step.content, mode: step.mode ?? 0o644 }]]);
    await copyStep({ merged, step: { kind: 'copy', sources: ['content'], dest: step.dest }, context, label, signal });
  }
}

/** The lower layers a stage starts with: its base rootfs, an earlier stage's layers, or an empty root. */
async function stageBase(paths: DataPaths, stage: PlannedStage, lowers: Map<number, string[]>): Promise<string[]> {
  if (stage.baseStage !== undefined) return [...(lowers.get(stage.baseStage) as string[])];
  if (stage.baseRootfs !== undefined) return [stage.baseRootfs];
  const empty = join(paths.buildCache, 'empty-root');
  await mkdir(empty, { recursive: true, mode: 0o755 });
  await chown(empty, UID_BASE, UID_BASE);
  return [empty];
}

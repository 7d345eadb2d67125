import type { TemplateBuildEvent, TemplateInfo, TemplateSource } from '@paddock/protocol';
import type { BuildContext, BuildPlan } from '../../templates/plan.js';

/**
 * What the E2B builder needs of the template executor: build a plan under a name (the name
 * points at the result only when the build succeeds). `TemplateRegistry.buildPlan` is the real
 * one; tests of the routes pass a fake.
 */
export interface PlanExecutor {
  buildPlan(options: {
    name: string;
    plan: BuildPlan;
    context: BuildContext;
    source: TemplateSource;
    onEvent: (event: TemplateBuildEvent) => void;
    signal: AbortSignal;
  }): Promise<{ info: TemplateInfo; cached: boolean }>;
}

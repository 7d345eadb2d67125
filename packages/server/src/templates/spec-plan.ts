import { PaddockError, type TemplateSpec } from '@paddock/protocol';
import type { ImageOverrides } from './image-template.js';
import type { BuildContext, BuildPlan } from './plan.js';
import type { ExternalBase } from './steps/plan-keys.js';

/** The spec fields that a template from an image sets over the image's own config. */
export function imageOverrides(spec: TemplateSpec): ImageOverrides {
  return {
    ...(Object.keys(spec.env).length > 0 ? { env: spec.env } : {}),
    ...(spec.workdir ? { workdir: spec.workdir } : {}),
    ...(spec.user ? { user: spec.user } : {}),
    ...(spec.start ? { start: spec.start } : {}),
  };
}

/**
 * A spec over an image or a template as a plan: its files and run steps as root (what specs
 * promise), then its env, workdir, user and start command as the template's defaults.
 */
export function specPlan(
  spec: TemplateSpec,
  options: { base: ExternalBase; files: Record<string, string>; user: string },
): { plan: BuildPlan; context: BuildContext } {
  const context = new Map<string, { data: Uint8Array; mode: number }>();
  const steps: BuildPlan['stages'][number]['steps'] = [{ kind: 'user', user: 'root' }];
  if (Object.keys(spec.env).length > 0) steps.push({ kind: 'env', vars: spec.env });
  spec.files.forEach((file, i) => {
    const mode = file.mode ?? 0o644;
    if (file.content !== undefined) {
      steps.push({ kind: 'write', dest: file.dest, content: new TextEncoder().encode(file.content), mode });
      return;
    }
    const b64 = file.src === undefined ? undefined : options.files[file.src];
    if (b64 === undefined) {
      throw new PaddockError('INVALID_ARGUMENT', `files[${i}].src: context file "${file.src}" was not provided`);
    }
    steps.push({ kind: 'write', dest: file.dest, content: Buffer.from(b64, 'base64'), mode });
  });
  for (const command of spec.run) steps.push({ kind: 'run', command });
  if (spec.workdir) steps.push({ kind: 'workdir', path: spec.workdir });
  steps.push({ kind: 'user', user: options.user });
  return {
    plan: { stages: [{ base: options.base, steps }], ...(spec.start ? { start: spec.start } : {}) },
    context,
  };
}

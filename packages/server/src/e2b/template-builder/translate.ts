import { envEntryProblem, PaddockError } from '@paddock/protocol';
import type { BuildBase, BuildContext, BuildPlan, BuildStep } from '../../templates/plan.js';
import { type E2bBuildStart, type E2bStep, FILES_HASH } from './requests.js';
import { storeNameOfRef } from './template-tags.js';

/** Where a COPY's uploaded files sit in the build context: its own folder, so uploads never mix. */
export const UPLOADS_DIR = 'e2b-files';

/** The image `Template()` starts from unless told otherwise: E2B's base, which is our `base` template. */
const E2B_BASE_IMAGE = /^(?:docker\.io\/)?e2bdev\/base(?::latest)?$/;

export interface TranslateOptions {
  /** The files of an upload by its `filesHash` (paths relative to the SDK's context), if uploaded. */
  uploadOf: (filesHash: string) => BuildContext | undefined;
  /** Whether a template exists, by store name. */
  templateExists: (name: string) => boolean;
  /** The default user of a template base (to restore after a `RUN` as another user). */
  userOf: (templateName: string) => string | undefined;
}

export interface Translated {
  plan: BuildPlan;
  context: BuildContext;
  /** For each plan step, the E2B step number (1-based, as the SDK's `reason.step` counts). */
  e2bStepOf: number[];
}

/**
 * E2B's `TemplateBuildStartV2` → a BuildPlan of one stage and its context. Pure: the uploads and
 * the template catalogue come in through `options`, so every refusal is unit-testable.
 */
export function translateBuild(body: E2bBuildStart, options: TranslateOptions): Translated {
  const base = baseOf(body, options);
  const files = new Map<string, { data: Uint8Array; mode: number }>();
  const steps: BuildStep[] = [];
  const e2bStepOf: number[] = [];
  let user = base.kind === 'template' ? options.userOf(base.name) : undefined;
  body.steps.forEach((step, i) => {
    const field = `steps[${i}]`;
    const push = (s: BuildStep) => {
      steps.push(s);
      e2bStepOf.push(i + 1);
    };
    switch (step.type) {
      case 'RUN': {
        const [command, runAs] = [arg(step, 0, field), step.args[1]];
        if (runAs && runAs !== user) {
          push({ kind: 'user', user: runAs });
          push({ kind: 'run', command });
          // A RUN's user applies to that step only; images start as root (Docker's default).
          push({ kind: 'user', user: user ?? 'root' });
        } else push({ kind: 'run', command });
        break;
      }
      case 'COPY': {
        const hash = filesHashOf(step, field);
        const upload = options.uploadOf(hash);
        if (!upload) {
          throw invalid(
            `${field}.filesHash`,
            `no files were uploaded for '${hash}' (GET /templates/{id}/files/{hash})`,
          );
        }
        for (const [path, file] of upload) files.set(`${UPLOADS_DIR}/${hash}/${path}`, file);
        push(copyStep(step, { field, hash }));
        break;
      }
      case 'ENV':
        push({ kind: 'env', vars: envOf(step, field) });
        break;
      case 'WORKDIR':
        push({ kind: 'workdir', path: arg(step, 0, field) });
        break;
      case 'USER':
        user = arg(step, 0, field);
        push({ kind: 'user', user });
        break;
      default:
        throw invalid(
          `${field}.type`,
          `unknown step type '${step.type}' (Paddock takes RUN, COPY, ENV, WORKDIR, USER)`,
        );
    }
  });
  const plan: BuildPlan = { stages: [{ base, steps }] };
  const start = startOf(body);
  if (start) plan.start = start;
  return { plan, context: files, e2bStepOf };
}

function baseOf(body: E2bBuildStart, options: TranslateOptions): BuildBase {
  if (body.fromImage !== undefined && body.fromTemplate !== undefined) {
    throw invalid('fromTemplate', 'give exactly one of fromImage or fromTemplate');
  }
  if (body.fromTemplate !== undefined) {
    if (body.fromImageRegistry) throw invalid('fromImageRegistry', 'registry credentials go with fromImage only');
    const name = storeNameOfRef(body.fromTemplate, 'fromTemplate');
    if (!options.templateExists(name)) {
      throw invalid('fromTemplate', `template '${body.fromTemplate}' does not exist`);
    }
    return { kind: 'template', name };
  }
  if (body.fromImage === undefined) throw invalid('fromImage', 'give one of fromImage or fromTemplate');
  if (E2B_BASE_IMAGE.test(body.fromImage) && !body.fromImageRegistry) return { kind: 'template', name: 'base' };
  const registry = body.fromImageRegistry;
  if (!registry) return { kind: 'image', ref: body.fromImage };
  if (registry.type !== 'registry') {
    throw invalid(
      'fromImageRegistry.type',
      `'${registry.type}' registries are not supported by Paddock; use type 'registry' (username and password)`,
    );
  }
  if (!registry.username || !registry.password) {
    throw invalid('fromImageRegistry', 'give both username and password');
  }
  return {
    kind: 'image',
    ref: body.fromImage,
    credentials: { username: registry.username, password: registry.password },
  };
}

function copyStep(step: E2bStep, where: { field: string; hash: string }): BuildStep {
  const src = arg(step, 0, where.field).replace(/^(?:\.\/)+/, '');
  const dest = arg(step, 1, where.field);
  if (src.startsWith('/') || src.split('/').includes('..')) {
    throw invalid(`${where.field}.args[0]`, `copy source '${src}' must be a path inside the build context`);
  }
  const copy: Extract<BuildStep, { kind: 'copy' }> = {
    kind: 'copy',
    sources: [`${UPLOADS_DIR}/${where.hash}/${src === '' || src === '.' ? '.' : src}`],
    dest,
  };
  const [user, mode] = [step.args[2], step.args[3]];
  if (user) copy.chown = user;
  if (mode) {
    if (!/^[0-7]{1,4}$/.test(mode)) throw invalid(`${where.field}.args[3]`, `mode '${mode}' is not an octal file mode`);
    copy.mode = Number.parseInt(mode, 8);
  }
  return copy;
}

function envOf(step: E2bStep, field: string): Record<string, string> {
  if (step.args.length === 0 || step.args.length % 2 !== 0) {
    throw invalid(`${field}.args`, 'ENV takes name, value pairs');
  }
  const vars: Record<string, string> = {};
  for (let i = 0; i < step.args.length; i += 2) {
    const [name, value] = [step.args[i] as string, step.args[i + 1] as string];
    const problem = envEntryProblem(name, value);
    if (problem) throw invalid(`${field}.args`, problem);
    vars[name] = value;
  }
  return vars;
}

function startOf(body: E2bBuildStart): BuildPlan['start'] {
  const command = body.startCmd?.trim() ? body.startCmd : undefined;
  const ready = body.readyCmd?.trim() ? body.readyCmd : undefined;
  if (!command) {
    if (ready) throw invalid('readyCmd', 'a readyCmd needs a startCmd (setStartCmd)');
    return undefined;
  }
  return ready ? { command, ready: { command: ready } } : { command };
}

function filesHashOf(step: E2bStep, field: string): string {
  if (step.filesHash === undefined || !FILES_HASH.test(step.filesHash)) {
    throw invalid(`${field}.filesHash`, 'a COPY needs the filesHash of its upload (64 hex digits)');
  }
  return step.filesHash;
}

function arg(step: E2bStep, index: number, field: string): string {
  const value = step.args[index];
  if (value === undefined || value === '') throw invalid(`${field}.args[${index}]`, `${step.type} needs this argument`);
  return value;
}

function invalid(field: string, message: string): PaddockError {
  return new PaddockError('INVALID_ARGUMENT', `${field}: ${message}`, { field });
}

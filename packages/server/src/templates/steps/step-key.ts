import { createHash } from 'node:crypto';
import type { BuildContext, BuildStep } from '../plan.js';

/** Bumped when a change to the executor makes old cache entries wrong. */
export const STEP_CACHE_VERSION = 1;

/**
 * The cache key of a step: its parent's key, the step as the plan gives it (ARG/ENV already
 * expanded by the parser), the stage state it runs with, and what it reads (context file bytes,
 * modes and paths, or a source stage's key).
 */
export function stepKey(parent: string, parts: { step: BuildStep; state?: unknown; reads?: unknown }): string {
  const step =
    parts.step.kind === 'write'
      ? { ...parts.step, content: createHash('sha256').update(parts.step.content).digest('hex') }
      : parts.step;
  return createHash('sha256')
    .update(
      JSON.stringify({ v: STEP_CACHE_VERSION, parent, step, state: parts.state ?? null, reads: parts.reads ?? null }),
    )
    .digest('hex');
}

/** The key a base starts a chain with. */
export function baseKey(baseId: string): string {
  return createHash('sha256').update(`paddock-base\0${STEP_CACHE_VERSION}\0${baseId}`).digest('hex');
}

/** Hashes of context files, each computed once per build however many steps read it. */
export class ContextHashes {
  private readonly hashes = new Map<string, string>();

  constructor(private readonly context: BuildContext) {}

  of(path: string): string {
    let hash = this.hashes.get(path);
    if (hash === undefined) {
      const file = this.context.get(path);
      hash = file === undefined ? 'missing' : createHash('sha256').update(file.data).digest('hex');
      this.hashes.set(path, hash);
    }
    return hash;
  }
}

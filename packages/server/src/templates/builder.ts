import type { TemplateBuildEvent } from '@paddock/protocol';
import type { DataPaths } from '../paths.js';
import { runBuild } from './build-steps.js';
import { type BuiltTemplate, readBuiltTemplate, templateDir } from './layout.js';
import { type ContextFiles, type DebianSpec, specHash } from './spec.js';

export interface BuildTemplateOptions {
  paths: DataPaths;
  spec: DebianSpec;
  /** Bytes of the files named by `spec.files[].src`, keyed by `src`. */
  contextFiles?: ContextFiles;
  /** Stops waiting; the build itself stops once every caller sharing it has aborted. */
  signal?: AbortSignal;
  /** Gets `progress` and `log` events; the caller sends `done`/`error` (it knows the name). */
  onEvent?: (event: TemplateBuildEvent) => void;
}

export interface BuildTemplateResult {
  info: BuiltTemplate;
  /** True when the template was already built and nothing ran. */
  cached: boolean;
}

/** One build in progress, shared by every caller that asked for the same spec hash. */
interface SharedBuild {
  promise: Promise<BuildTemplateResult>;
  listeners: Set<(event: TemplateBuildEvent) => void>;
  controller: AbortController;
}

const inProgress = new Map<string, SharedBuild>();

/**
 * Builds the template that `spec` describes, or returns the cached one with the same hash.
 * Concurrent calls for the same hash share one build and all see its events.
 *
 * @example
 * ```ts
 * const { info, cached } = await buildTemplate({ paths, spec, onEvent: (e) => log.info(e) });
 * const rootfs = templateRootfs(paths, info.specHash);
 * ```
 */
export async function buildTemplate(options: BuildTemplateOptions): Promise<BuildTemplateResult> {
  const { paths, spec, signal, onEvent = () => {} } = options;
  const contextFiles = options.contextFiles ?? {};
  const hash = specHash(spec, contextFiles);
  signal?.throwIfAborted();

  // Registered before the first await, so that of concurrent callers exactly the first one
  // starts (the cache look-up and) the build, and every later one joins it.
  const key = templateDir(paths, hash);
  let build = inProgress.get(key);
  if (build === undefined) {
    const controller = new AbortController();
    const listeners = new Set<(event: TemplateBuildEvent) => void>();
    const emit = (event: TemplateBuildEvent): void => {
      for (const listener of listeners) listener(event);
    };
    const promise = (async (): Promise<BuildTemplateResult> => {
      const cached = await readBuiltTemplate(paths, hash);
      if (cached !== undefined) {
        emit({ type: 'progress', step: 'cached', message: `template ${hash} is already built` });
        return { info: cached, cached: true };
      }
      const info = await runBuild({ paths, spec, contextFiles, specHash: hash, signal: controller.signal, emit });
      return { info, cached: false };
    })().finally(() => inProgress.delete(key));
    // Callers that all aborted no longer await the promise; its rejection is expected.
    promise.catch(() => {});
    build = { promise, listeners, controller };
    inProgress.set(key, build);
  } else {
    onEvent({ type: 'progress', step: 'resolve', message: `joining the build of template ${hash} in progress` });
  }
  return follow(build, onEvent, signal);
}

/** Waits for a shared build; an abort detaches this caller and stops the build if it was the last. */
function follow(
  build: SharedBuild,
  onEvent: (event: TemplateBuildEvent) => void,
  signal: AbortSignal | undefined,
): Promise<BuildTemplateResult> {
  build.listeners.add(onEvent);
  return new Promise<BuildTemplateResult>((resolve, reject) => {
    const onAbort = (): void => {
      build.listeners.delete(onEvent);
      if (build.listeners.size > 0) {
        reject(signal?.reason);
        return;
      }
      // The last caller stops the build and returns once its processes and files are gone.
      build.controller.abort(signal?.reason);
      build.promise.then(
        () => reject(signal?.reason),
        () => reject(signal?.reason),
      );
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    build.promise.then(
      (info) => {
        if (signal?.aborted) return;
        signal?.removeEventListener('abort', onAbort);
        build.listeners.delete(onEvent);
        resolve(info);
      },
      (err: unknown) => {
        if (signal?.aborted) return;
        signal?.removeEventListener('abort', onAbort);
        build.listeners.delete(onEvent);
        reject(err);
      },
    );
  });
}

/** Scratch dirs of builds running in this process (for `removeStaleBuilds`'s `keep`). */
export function buildsInProgress(): ReadonlySet<string> {
  return new Set(inProgress.keys());
}

// The registry imports removal from here, next to building.
export { removeTemplateFiles } from './layout.js';

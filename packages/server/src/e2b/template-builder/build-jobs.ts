import { randomUUID } from 'node:crypto';
import { PaddockError, type TemplateBuildEvent } from '@paddock/protocol';
import type { Logger } from '../../core/logger.js';
import { BuildLog, type E2bLogEntry } from './build-log.js';
import type { PlanExecutor } from './plan-executor.js';
import type { Translated } from './translate.js';

export type E2bBuildStatus = 'waiting' | 'building' | 'ready' | 'error';

/** One E2B build: asked for (`waiting`), started with its steps (`building`), then done. */
export interface E2bBuild {
  buildID: string;
  templateID: string;
  /** The store names the result gets: the first is built, the rest are tags pointed at it. */
  names: string[];
  tags: string[];
  status: E2bBuildStatus;
  log: BuildLog;
  createdAt: string;
  reason?: { message: string; step?: string; logEntries: E2bLogEntry[] };
  specHash?: string;
}

/** `TemplateBuildInfo`, the answer of the status call. */
export interface E2bBuildInfo {
  buildID: string;
  templateID: string;
  status: E2bBuildStatus;
  logEntries: E2bLogEntry[];
  logs: string[];
  reason?: E2bBuild['reason'];
}

export interface E2bBuildsOptions {
  executor: PlanExecutor;
  /** Points another store name (a tag) at a built template. */
  putName: (name: string, specHash: string) => void;
  logger: Logger;
  /** Builds kept for status calls; the oldest finished ones go first. */
  maxBuilds?: number;
  maxLogEntries?: number;
}

const REASON_LOG_ENTRIES = 20;

/**
 * E2B builds run in the background (the SDK polls their status); this owns them: their state,
 * their bounded logs, and their cancellation when the server stops.
 */
export class E2bBuilds {
  private readonly builds = new Map<string, E2bBuild>();
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();

  constructor(private readonly options: E2bBuildsOptions) {}

  request(templateID: string, names: string[], tags: string[]): E2bBuild {
    const build: E2bBuild = {
      buildID: randomUUID(),
      templateID,
      names,
      tags,
      status: 'waiting',
      log: new BuildLog(this.options.maxLogEntries ?? 2000),
      createdAt: new Date().toISOString(),
    };
    this.builds.set(build.buildID, build);
    this.trim();
    return build;
  }

  get(templateID: string, buildID: string): E2bBuild {
    const build = this.builds.get(buildID);
    if (!build || build.templateID !== templateID) {
      throw new PaddockError('NOT_FOUND', `build '${buildID}' of template '${templateID}' not found`, {
        field: 'buildID',
      });
    }
    return build;
  }

  /** Whether `templateID` has a build this server knows (uploads belong to one). */
  hasTemplate(templateID: string): boolean {
    for (const b of this.builds.values()) if (b.templateID === templateID) return true;
    return false;
  }

  /** Points a store name (a tag) at a built template. */
  putName(name: string, specHash: string): void {
    this.options.putName(name, specHash);
  }

  /** The id of the last build that made `specHash` (tags list it), if this server made it. */
  buildIdOf(specHash: string): string | undefined {
    let found: string | undefined;
    for (const b of this.builds.values()) if (b.specHash === specHash) found = b.buildID;
    return found;
  }

  start(build: E2bBuild, translated: Translated): void {
    if (build.status !== 'waiting') {
      throw new PaddockError('CONFLICT', `build '${build.buildID}' was already started`, { field: 'buildID' });
    }
    build.status = 'building';
    const abort = new AbortController();
    const done = this.run(build, translated, abort.signal).finally(() => this.running.delete(build.buildID));
    this.running.set(build.buildID, { abort, done });
  }

  status(build: E2bBuild, logsOffset: number): E2bBuildInfo {
    const info: E2bBuildInfo = {
      buildID: build.buildID,
      templateID: build.templateID,
      status: build.status,
      logEntries: build.log.from(logsOffset),
      logs: [],
    };
    if (build.reason) info.reason = build.reason;
    return info;
  }

  /** Aborts running builds and waits for them (the server's shutdown). */
  async close(): Promise<void> {
    const all = [...this.running.values()];
    for (const r of all) r.abort.abort(new PaddockError('UNAVAILABLE', 'the server is stopping'));
    await Promise.all(all.map((r) => r.done));
  }

  private async run(build: E2bBuild, translated: Translated, signal: AbortSignal): Promise<void> {
    const [name, ...tagNames] = build.names as [string, ...string[]];
    build.log.add('info', `Building ${name} (build ${build.buildID})`);
    try {
      const { info, cached } = await this.options.executor.buildPlan({
        name,
        plan: translated.plan,
        context: translated.context,
        source: { kind: 'e2b' },
        signal,
        onEvent: (event) => this.logEvent(build, event),
      });
      for (const tagName of tagNames) this.options.putName(tagName, info.specHash);
      build.specHash = info.specHash;
      build.log.add('info', cached ? `Template ${name} is ready (cached)` : `Template ${name} is ready`);
      build.status = 'ready';
    } catch (err) {
      const pe = err instanceof PaddockError ? err : undefined;
      if (!pe) this.options.logger.error({ err, buildID: build.buildID }, 'E2B template build failed unexpectedly');
      const message = pe?.message ?? 'the build failed for an internal reason (see the server log)';
      const step = e2bStepOf(pe, translated.e2bStepOf);
      build.log.add('error', message, step);
      build.reason = { message, logEntries: build.log.tail(REASON_LOG_ENTRIES), ...(step ? { step } : {}) };
      build.status = 'error';
    }
  }

  private logEvent(build: E2bBuild, event: TemplateBuildEvent): void {
    if (event.type === 'progress') build.log.add('info', event.message);
    else if (event.type === 'log') build.log.add('info', event.line);
    else if (event.type === 'error') build.log.add('error', event.error.message);
  }

  private trim(): void {
    const max = this.options.maxBuilds ?? 200;
    // Finished builds go first; then builds asked for and never started. Running ones stay.
    for (const gone of [['ready', 'error'], ['waiting']]) {
      for (const [id, b] of this.builds) {
        if (this.builds.size <= max) return;
        if (gone.includes(b.status)) this.builds.delete(id);
      }
    }
  }
}

/**
 * The failed plan step as E2B's 1-based step number (the SDK shows the stack of the user's call
 * for it). From `details.stepIndex` when the executor gives one, else from the executor's
 * `step N/M …` label, which counts the steps of a one-stage plan from 1.
 */
function e2bStepOf(pe: PaddockError | undefined, map: number[]): string | undefined {
  const index = pe?.details?.stepIndex;
  const labelled = /^step (\d+)\/\d+ /.exec(pe?.message ?? '');
  const planIndex = typeof index === 'number' ? index : labelled ? Number(labelled[1]) - 1 : undefined;
  const e2b = planIndex === undefined ? undefined : map[planIndex];
  return e2b === undefined ? undefined : String(e2b);
}

import type { TemplateStart } from '@paddock/protocol';
import type { RegistryCredentials } from './images/image-types.js';

/**
 * A template build as ordered steps over a base: what Dockerfiles, E2B's template builder and
 * image-based specs all become, so that one executor (with one step cache) builds them all.
 */
export interface BuildPlan {
  /** The last stage is the template; earlier ones exist to be copied from (multi-stage). */
  stages: BuildStage[];
  /** Started when a sandbox from this template boots. */
  start?: TemplateStart;
}

export interface BuildStage {
  /** `FROM … AS name`; stages are also addressable by their index. */
  name?: string;
  base: BuildBase;
  steps: BuildStep[];
}

/** Where a stage starts. */
export type BuildBase =
  | { kind: 'image'; ref: string; insecure?: boolean; credentials?: RegistryCredentials; authFile?: string }
  /** Another Paddock template, by name. */
  | { kind: 'template'; name: string }
  /** An earlier stage of the same plan, by name or index. */
  | { kind: 'stage'; stage: string }
  | { kind: 'scratch' };

export type BuildStep =
  /** A string is shell form (`/bin/sh -c`); an array is exec form. */
  | {
      kind: 'run';
      command: string | string[];
      network?: boolean;
      /** Build-time variables (Dockerfile `ARG`s in scope) the command sees; not kept in the template. */
      args?: Record<string, string>;
    }
  /** Context paths (or, with `fromStage`, paths in that stage) copied to `dest`. */
  | {
      kind: 'copy';
      sources: string[];
      dest: string;
      fromStage?: string;
      chown?: string;
      mode?: number;
      /** ADD: local tar archives are unpacked at dest. */
      add?: boolean;
    }
  /** Inline bytes written to `dest` (spec `files[].content`). */
  | { kind: 'write'; dest: string; content: Uint8Array; mode?: number }
  | { kind: 'env'; vars: Record<string, string> }
  | { kind: 'workdir'; path: string }
  | { kind: 'user'; user: string }
  | { kind: 'entrypoint'; argv: string[] }
  | { kind: 'cmd'; argv: string[] };

/** Files a plan's COPY steps read, by path relative to the build context (`/`-separated). */
export type BuildContext = ReadonlyMap<string, { data: Uint8Array; mode: number }>;

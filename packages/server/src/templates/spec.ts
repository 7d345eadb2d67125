import { createHash } from 'node:crypto';
import { PaddockError, TemplateSpec } from '@paddock/protocol';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';

/**
 * Part of every spec hash. Bump it whenever the build recipe changes (mmdebstrap options,
 * always-included packages, user creation, file or run-step handling), so that templates
 * built by the old recipe are not reused for the same spec.
 */
export const BUILDER_VERSION = 1;

/** A spec that builds from Debian packages; its workdir and user defaults are filled in by parsing. */
export type DebianSpec = TemplateSpec & { from: 'debian:bookworm'; workdir: string; user: string };

export function isDebianSpec(spec: TemplateSpec): spec is DebianSpec {
  return spec.from === 'debian:bookworm' && spec.workdir !== undefined && spec.user !== undefined;
}

/** The spec as a Debian spec, or INVALID_ARGUMENT for callers that build only those (built-ins). */
export function asDebianSpec(spec: TemplateSpec): DebianSpec {
  if (!isDebianSpec(spec)) {
    throw new PaddockError('INVALID_ARGUMENT', 'from: only debian:bookworm specs can be built here; use the API');
  }
  return spec;
}

/** Bytes of the files that a spec's `files[].src` entries name, keyed by that `src`. */
export type ContextFiles = ReadonlyMap<string, Uint8Array> | Readonly<Record<string, Uint8Array>>;

/**
 * Parses a template spec from YAML or JSON text (JSON is valid YAML).
 * Throws `INVALID_ARGUMENT` with the failing field in the message, e.g.
 * `packages[2]: not a Debian package name`.
 */
export function parseTemplateSpec(text: string): TemplateSpec {
  let raw: unknown;
  try {
    // `uniqueKeys` (on by default) rejects duplicate keys instead of keeping the last one.
    raw = parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const detail = err instanceof YAMLParseError ? err.message.split('\n')[0] : String(err);
    throw new PaddockError('INVALID_ARGUMENT', `template spec is not valid YAML or JSON: ${detail}`);
  }
  return validateTemplateSpec(raw ?? {});
}

/** Validates an already-parsed spec object (e.g. from a JSON request body). */
export function validateTemplateSpec(raw: unknown): TemplateSpec {
  const result = TemplateSpec.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const message = issue === undefined ? 'invalid template spec' : describeIssue(issue);
    throw new PaddockError('INVALID_ARGUMENT', message, {
      issues: result.error.issues.map((i) => ({ path: fieldPath(i.path), message: i.message })),
    });
  }
  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = fieldPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (where === 'spec' ? k : `${where}.${k}`));
    return `${keys.join(', ')}: unknown field${keys.length > 1 ? 's' : ''}`;
  }
  return `${where}: ${issue.message}`;
}

/** `['files', 0, 'dest']` → `files[0].dest`; the empty path is the spec itself. */
function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? 'spec' : out;
}

/** Looks up the bytes of a context file by its `src` key. */
export function contextFile(files: ContextFiles, src: string): Uint8Array | undefined {
  return files instanceof Map ? files.get(src) : (files as Readonly<Record<string, Uint8Array>>)[src];
}

/**
 * The content hash that names a built template: sha256 over a canonical JSON of the
 * normalized spec, the bytes of every `src` file it uses, and {@link BUILDER_VERSION};
 * the first 16 hex chars. Throws `INVALID_ARGUMENT` when a `src` file is missing.
 */
export function specHash(spec: TemplateSpec, contextFiles: ContextFiles = {}): string {
  const hash = createHash('sha256');
  hash.update(`paddock-template-v${BUILDER_VERSION}\n`);
  // Package order and repeats do not change what gets installed.
  hash.update(canonicalJson({ ...spec, packages: [...new Set(spec.packages)].sort() }));
  spec.files.forEach((file, i) => {
    if (file.src === undefined) return;
    const bytes = contextFile(contextFiles, file.src);
    if (bytes === undefined) {
      throw new PaddockError('INVALID_ARGUMENT', `files[${i}].src: context file "${file.src}" was not provided`);
    }
    // Length-prefix each file so that moving bytes between two files changes the hash.
    hash.update(`\nsrc ${JSON.stringify(file.src)} ${bytes.byteLength}\n`);
    hash.update(bytes);
  });
  return hash.digest('hex').slice(0, 16);
}

/** JSON with object keys sorted at every level; arrays keep their order (it is meaningful). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

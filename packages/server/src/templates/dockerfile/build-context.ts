/**
 * The build context: the files a Dockerfile's COPY/ADD may read, filtered by `.dockerignore`,
 * and the selection of sources for one COPY (exact paths, directories, `*`/`?`/`[…]` globs).
 * Context paths are relative and `/`-separated; nothing may climb out with `..`.
 */

import { createRequire } from 'node:module';
import { posix } from 'node:path';
import { PaddockError } from '@paddock/protocol';
import type { BuildContext } from '../plan.js';

// CommonJS (`module.exports = ignore`) whose types claim an ES default export: required directly.
const ignore = createRequire(import.meta.url)('@balena/dockerignore') as () => {
  add(patterns: string[]): { ignores(path: string): boolean };
};

/** Largest context a build accepts (decoded bytes); a bigger one is refused with a clear error. */
export const MAX_CONTEXT_BYTES = 128 * 1024 * 1024;

/** Drops what `.dockerignore` (at the context root) excludes; checks every path and the total size. */
export function filterContext(files: BuildContext): BuildContext {
  let total = 0;
  for (const [path, file] of files) {
    contextPath(path);
    total += file.data.byteLength;
  }
  if (total > MAX_CONTEXT_BYTES) {
    throw new PaddockError(
      'PAYLOAD_TOO_LARGE',
      `the build context is ${total} bytes, more than the ${MAX_CONTEXT_BYTES} allowed: list what the build does not need in .dockerignore`,
      { sizeBytes: total, maxBytes: MAX_CONTEXT_BYTES },
    );
  }
  const rules = files.get('.dockerignore');
  if (rules === undefined) return files;
  const matcher = ignore().add(new TextDecoder().decode(rules.data).split(/\r?\n/));
  return new Map([...files].filter(([path]) => !matcher.ignores(path)));
}

/** A context path made relative and clean; `..` out of the context is an INVALID_ARGUMENT. */
export function contextPath(path: string): string {
  const clean = posix.normalize(`/${path}`).slice(1);
  if (posix.normalize(path.startsWith('/') ? path.slice(1) : path).startsWith('..')) {
    throw new PaddockError('INVALID_ARGUMENT', `"${path}" is outside the build context`, { path });
  }
  return clean.replace(/\/$/, '');
}

/** One context file a COPY writes: where it comes from and where it goes below the dest. */
export interface SelectedFile {
  source: string;
  /** The file's path relative to the COPY's destination directory, or '' when dest is the file. */
  target: string;
}

/**
 * The files that `sources` select. A source naming a file copies it; naming a directory (or a glob
 * matching one) copies that directory's contents, as Docker does. `intoDir` is true when the dest
 * must be a directory (several files, a directory source, or a dest ending in `/`).
 */
export function selectContextFiles(
  context: BuildContext,
  sources: readonly string[],
  destIsDir: boolean,
): { files: SelectedFile[]; intoDir: boolean } {
  const files: SelectedFile[] = [];
  let dirSource = false;
  for (const raw of sources) {
    const source = contextPath(raw);
    const pattern = source === '' ? [] : source.split('/');
    const matcher = pattern.map(segmentMatcher);
    let matched = false;
    for (const path of [...context.keys()].sort()) {
      const parts = path.split('/');
      if (parts.length < pattern.length || !matcher.every((m, i) => m(parts[i] as string))) continue;
      matched = true;
      if (parts.length === pattern.length) files.push({ source: path, target: parts.at(-1) as string });
      else {
        dirSource = true;
        files.push({ source: path, target: parts.slice(pattern.length).join('/') });
      }
    }
    if (!matched) {
      throw new PaddockError('INVALID_ARGUMENT', `COPY source "${raw}" matches no file in the build context`, {
        source: raw,
      });
    }
  }
  const intoDir = destIsDir || dirSource || files.length > 1 || sources.length > 1;
  return { files: intoDir ? files : files.map((f) => ({ ...f, target: '' })), intoDir };
}

/** A glob segment (`*`, `?`, `[…]`) as a predicate; a plain segment matches itself. */
function segmentMatcher(segment: string): (name: string) => boolean {
  if (!/[*?[]/.test(segment)) return (name) => name === segment;
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = segment.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${segment
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  const regex = new RegExp(`^${re}$`);
  return (name) => regex.test(name);
}

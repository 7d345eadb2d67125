/**
 * Path patterns shared by the watch filter (agent) and the sync ignore list (CLI). Pure
 * string work on `/`-separated relative paths; no I/O.
 *
 * A pattern is a glob when it has `*`, `?` or `[`: `*` matches within one path segment,
 * `**` across segments, `?` one character, `[abc]` one of a set. Otherwise it is a plain
 * path.
 */

const GLOB_CHARS = /[*?[]/;

/** True when `pattern` uses glob syntax rather than naming a path. */
export function isGlob(pattern: string): boolean {
  return GLOB_CHARS.test(pattern);
}

/**
 * The anchored regular expression of a glob.
 *
 * @example
 * ```ts
 * globToRegExp('src/**\/*.ts').test('src/a/b.ts') // true
 * ```
 */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches zero or more whole segments; a trailing `**` matches everything below.
        const slash = glob[i + 2] === '/';
        source += slash ? '(?:[^/]*(?:/|$))*' : '.*';
        i += slash ? 2 : 1;
      } else {
        source += '[^/]*';
      }
    } else if (c === '?') {
      source += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        source += '\\[';
      } else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        source += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else {
      source += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

/** Strips `./`, a leading `/` and trailing slashes, so patterns and paths compare alike. */
function tidy(path: string): string {
  return path
    .replace(/^(?:\.\/)+/, '')
    .replace(/^\/+/, '')
    .replace(/\/+$/, '');
}

/**
 * A watch filter: a path prefix (`src/app`: that path and everything below it) or a glob
 * matched against the whole relative path (`src/**\/*.ts`), or, when the glob has no `/`,
 * against the last segment (`*.ts`). `relPath` is relative to the watched directory.
 *
 * @example
 * ```ts
 * const matches = pathFilter('src'); matches('src/a.ts') // true; matches('srcx') // false
 * ```
 */
export function pathFilter(pattern: string): (relPath: string) => boolean {
  const tidied = tidy(pattern);
  if (tidied === '') return () => true;
  if (!isGlob(tidied)) return (relPath) => relPath === tidied || relPath.startsWith(`${tidied}/`);
  const regex = globToRegExp(tidied);
  if (tidied.includes('/')) return (relPath) => regex.test(relPath);
  return (relPath) => regex.test(relPath.slice(relPath.lastIndexOf('/') + 1));
}

/**
 * An ignore list in the spirit of `.gitignore`: a pattern without `/` matches any segment
 * (`node_modules`, `*.log`), one with `/` matches from the root (`build/out`); a path is
 * ignored when it or any of its parent directories matches.
 *
 * @example
 * ```ts
 * const ignored = ignoreMatcher(['.git', 'node_modules']); ignored('a/node_modules/x') // true
 * ```
 */
export function ignoreMatcher(patterns: readonly string[]): (relPath: string) => boolean {
  const anySegment: RegExp[] = [];
  const anchored: RegExp[] = [];
  for (const raw of patterns) {
    const pattern = tidy(raw);
    if (pattern === '') continue;
    (pattern.includes('/') ? anchored : anySegment).push(globToRegExp(pattern));
  }
  return (relPath) => {
    const segments = tidy(relPath).split('/');
    let prefix = '';
    for (const segment of segments) {
      prefix = prefix === '' ? segment : `${prefix}/${segment}`;
      if (anySegment.some((r) => r.test(segment))) return true;
      if (anchored.some((r) => r.test(prefix))) return true;
    }
    return false;
  };
}

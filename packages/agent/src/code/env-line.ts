import type { CodeLanguage } from '@paddock/protocol';

/**
 * A running kernel gets a changed environment the way E2B's own server applies a run's
 * `env_vars`: one line that sets (and unsets) variables is put before the cell's code. It is
 * not run as a cell of its own, so the kernel's execution counter stays what the user expects.
 */

/** A variable to set, or to remove (`undefined`). */
export type EnvChange = [name: string, value: string | undefined];

/**
 * What turns a kernel's environment `from` into `to`: variables new or changed in `to`, and
 * those gone from it reset to `base` (the kernel's own environment) or removed.
 */
export function envChanges(
  from: Readonly<Record<string, string>>,
  to: Readonly<Record<string, string>>,
  base: Readonly<Record<string, string>>,
): EnvChange[] {
  const changes: EnvChange[] = [];
  for (const [name, value] of Object.entries(to)) if (from[name] !== value) changes.push([name, value]);
  for (const name of Object.keys(from)) {
    if (Object.hasOwn(to, name)) continue;
    const original = Object.hasOwn(base, name) ? base[name] : undefined;
    if (original !== from[name]) changes.push([name, original]);
  }
  return changes;
}

function bashQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/**
 * One line (no newline inside, so tracebacks move by one line at most) that applies the
 * changes in the language of the context; empty when there is nothing to change. JSON
 * string literals are valid Python and JavaScript string literals.
 */
export function envLine(language: CodeLanguage, changes: EnvChange[]): string {
  if (changes.length === 0) return '';
  const set = Object.fromEntries(changes.filter((c): c is [string, string] => c[1] !== undefined));
  const unset = changes.filter((c) => c[1] === undefined).map((c) => c[0]);
  switch (language) {
    case 'python':
      return `__import__('os').environ.update(${JSON.stringify(set)}); [__import__('os').environ.pop(k, None) for k in ${JSON.stringify(unset)}]`;
    case 'javascript':
      return `void (Object.assign(process.env, ${JSON.stringify(set)}), ${JSON.stringify(unset)}.forEach((k) => delete process.env[k]));`;
    case 'bash': {
      const parts = [
        ...Object.entries(set).map(([k, v]) => `export ${k}=${bashQuote(v)}`),
        ...(unset.length > 0 ? [`unset ${unset.join(' ')}`] : []),
      ];
      return parts.join('; ');
    }
  }
}

/** The code to run: the env line (kept at the code's own indentation, as E2B does), then the code. */
export function withEnvLine(code: string, line: string): string {
  if (line === '') return code;
  const firstLine = code.split('\n').find((l) => l.trim() !== '') ?? '';
  const indent = firstLine.slice(0, firstLine.length - firstLine.trimStart().length);
  return `${indent}${line}\n${code}`;
}

/** Exceptions that mean the cell did not run at all, so neither did the env line before it. */
const NOT_RUN = new Set(['SyntaxError', 'IndentationError', 'TabError']);

export function cellDidNotRun(exceptionName: string | undefined): boolean {
  return exceptionName !== undefined && NOT_RUN.has(exceptionName);
}

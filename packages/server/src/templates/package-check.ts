import { runProcess } from './process.js';

/**
 * Names among `names` that the host's apt lists do not know, or `undefined` when the host's
 * lists cannot tell (never `apt-get update`d, or apt-cache missing): then the build itself
 * finds out, later and slower. The host uses the same sources file as the build, so its
 * lists see the same packages. `probe` must be a package that certainly exists (e.g. bash).
 */
export async function findUnknownPackages(
  names: readonly string[],
  probe: string,
  signal?: AbortSignal,
): Promise<string[] | undefined> {
  let output: string[];
  try {
    const result = await runProcess({
      file: 'apt-cache',
      args: ['policy', '--', probe, ...names],
      signal,
      onLine: () => {},
      tailLines: 1_000_000,
    });
    if (result.exitCode !== 0) return undefined;
    output = result.tail;
  } catch (err) {
    if (signal?.aborted) throw err;
    return undefined;
  }
  const known = parsePolicyHeaders(output);
  if (!known.has(probe)) return undefined;
  return names.filter((name) => !known.has(name));
}

/** `apt-cache policy` prints a `name:` header for each package it knows and nothing for others. */
function parsePolicyHeaders(lines: readonly string[]): Set<string> {
  const known = new Set<string>();
  for (const line of lines) {
    const m = /^([a-z0-9][a-z0-9+.-]*):$/.exec(line);
    if (m?.[1] !== undefined) known.add(m[1]);
  }
  return known;
}

/** Package names that apt, run by mmdebstrap, says it cannot install. */
export function parseMissingPackages(lines: readonly string[]): string[] {
  const missing = new Set<string>();
  for (const line of lines) {
    const m =
      /Unable to locate package ([a-z0-9][a-z0-9+.-]*)/.exec(line) ??
      /Package '([a-z0-9][a-z0-9+.-]*)' has no installation candidate/.exec(line);
    if (m?.[1] !== undefined) missing.add(m[1]);
  }
  return [...missing];
}

/**
 * Matching a host name against the hosts of a secret: exact (`api.example.com`) or
 * `*.suffix` (any name below the suffix, at any depth, but not the suffix itself).
 * Both sides are lowercase; names are compared without a trailing dot.
 */
export function matchesHostPattern(name: string, pattern: string): boolean {
  const host = name.toLowerCase().replace(/\.$/, '');
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1); // ".example.com"
    return host.length > suffix.length && host.endsWith(suffix);
  }
  return host === pattern;
}

/** True when `name` matches any of `patterns`. */
export function matchesAnyHost(name: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => matchesHostPattern(name, p));
}

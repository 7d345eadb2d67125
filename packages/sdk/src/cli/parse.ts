import { InvalidArgumentError } from 'commander';

/** `K=V` pairs collected from repeated options. */
export function collectPairs(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected KEY=VALUE, got '${value}'`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** A duration: plain milliseconds, or a number with ms/s/m/h/d (e.g. `10m`). */
export function parseDurationMs(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`expected a duration like 30000, 30s, 10m or 2h, got '${value}'`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] ?? 'ms'] ?? 1;
  return Math.round(Number(match[1]) * unit);
}

export function parseNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got '${value}'`);
  return n;
}

/** `ID:/path` → sandbox side; anything else is a local path. */
export function parseCopyEndpoint(spec: string): { sandboxId: string; path: string } | { local: string } {
  const match = /^([a-z0-9]{20}):(\/.*)$/.exec(spec);
  return match ? { sandboxId: match[1]!, path: match[2]! } : { local: spec };
}

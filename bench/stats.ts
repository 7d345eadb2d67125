import { mkdirSync, writeFileSync } from 'node:fs';

/** Percentile of `values` (nearest-rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function fmtMs(ms: number): string {
  return Number.isNaN(ms) ? '–' : `${ms.toFixed(1)} ms`;
}

export async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** A markdown table, columns padded (the bench output is pasted into bench/README.md as is). */
export function markdownTable(rows: readonly (readonly string[])[], header: readonly string[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function printTable(rows: readonly (readonly string[])[], header: readonly string[]): void {
  console.log(markdownTable(rows, header));
}

/** Writes `contents` to bench/results/`fileName` (ignored by git), objects as JSON. */
export function saveResult(fileName: string, contents: unknown): void {
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const text = typeof contents === 'string' ? contents : `${JSON.stringify(contents, null, 2)}\n`;
  writeFileSync(new URL(fileName, dir), text);
}

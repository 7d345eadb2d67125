/**
 * Passes on at most `maxLines` lines per `windowMs` and counts the rest, so that a chatty
 * build (apt, a `make` in a run step) cannot flood the NDJSON stream. The count of skipped
 * lines is reported with the next line that gets through, or by `flush()`.
 */
export function throttleLines(
  emit: (line: string) => void,
  options: { maxLines?: number; windowMs?: number; now?: () => number } = {},
): { push: (line: string) => void; flush: () => void } {
  const { maxLines = 20, windowMs = 1_000, now = Date.now } = options;
  let windowStart = Number.NEGATIVE_INFINITY;
  let sent = 0;
  let skipped = 0;
  const flush = (): void => {
    if (skipped > 0) emit(`… ${skipped} line${skipped === 1 ? '' : 's'} not shown`);
    skipped = 0;
  };
  return {
    push(line) {
      const t = now();
      if (t - windowStart >= windowMs) {
        windowStart = t;
        sent = 0;
      }
      if (sent >= maxLines) {
        skipped++;
        return;
      }
      flush();
      sent++;
      emit(line);
    },
    flush,
  };
}

import type { Chart, CodeEvent, CodeResult } from '@paddock/protocol';

/**
 * One line of the E2B code interpreter's `/execute` NDJSON stream, as both E2B SDKs parse it
 * (docs/e2b-protocol.md §4). The Python SDK builds its `Result` dataclass from the result line's
 * keys, so a result line carries only the keys that class knows.
 */
export type E2bExecutionLine =
  | { type: 'stdout' | 'stderr'; text: string; timestamp: string }
  | ({ type: 'result'; is_main_result: boolean } & Record<string, unknown>)
  | { type: 'error'; name: string; value: string; traceback: string }
  | { type: 'number_of_executions'; execution_count: number }
  | { type: 'end_of_execution' };

const SNAKE_BOUNDARY = /[A-Z]/g;

function snakeCase(key: string): string {
  return key.replace(SNAKE_BOUNDARY, (letter) => `_${letter.toLowerCase()}`);
}

function snakeKeys(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [snakeCase(k), v]));
}

/**
 * Our chart (camelCase, `composite` for a figure of several axes) in E2B's shape
 * (snake_case, `superchart`, whose elements are charts).
 */
export function toE2bChart(chart: Chart): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(chart)) {
    if (key === 'elements' || key === 'type') continue;
    out[snakeCase(key)] = value;
  }
  const superchart = chart.type === 'composite';
  out.type = superchart ? 'superchart' : chart.type;
  out.title = chart.title ?? '';
  out.elements = chart.elements.map((element) => (superchart ? toE2bChart(element as Chart) : snakeKeys(element)));
  return out;
}

interface TableData {
  columns: unknown[];
  rows: unknown[][];
}

function isTableData(value: unknown): value is TableData {
  if (value === null || typeof value !== 'object') return false;
  const table = value as Partial<TableData>;
  return Array.isArray(table.columns) && Array.isArray(table.rows);
}

/**
 * A table (`{columns, index, rows}`) as E2B's `e2b/data`: pandas' `to_dict(orient="list")`,
 * one array of values per column name.
 */
export function toE2bData(data: unknown): unknown {
  if (!isTableData(data)) return data;
  return Object.fromEntries(
    data.columns.map((column, i) => [
      Array.isArray(column) ? column.join(',') : String(column),
      data.rows.map((row) => row[i]),
    ]),
  );
}

const PLAIN_FORMATS = ['html', 'markdown', 'svg', 'png', 'jpeg', 'pdf', 'latex', 'json', 'javascript'] as const;

/** A result line. E2B strips the quotes IPython puts around a string's `text/plain`. */
export function toE2bResult(result: CodeResult): E2bExecutionLine {
  const line: Record<string, unknown> = { type: 'result', is_main_result: result.isMainResult };
  if (result.text !== undefined) {
    const quoted = result.text.length >= 2 && result.text.startsWith("'") && result.text.endsWith("'");
    line.text = quoted ? result.text.slice(1, -1) : result.text;
  }
  for (const format of PLAIN_FORMATS) {
    if (result[format] !== undefined) line[format] = result[format];
  }
  if (result.data !== undefined) line.data = toE2bData(result.data);
  if (result.chart !== undefined) line.chart = toE2bChart(result.chart);
  if (result.extra !== undefined) line.extra = result.extra;
  return line as E2bExecutionLine;
}

/**
 * The E2B lines for one of our code events (none for `start`). `end` becomes the cell
 * counter and `end_of_execution`; an API error mid-stream becomes an error line, as E2B's
 * own server reports a lost kernel (`UnexpectedEndOfExecution`).
 */
export function toE2bLines(event: CodeEvent, now: Date): E2bExecutionLine[] {
  switch (event.type) {
    case 'start':
      return [];
    case 'stdout':
    case 'stderr':
      return [{ type: event.type, text: event.text, timestamp: now.toISOString() }];
    case 'result':
      return [toE2bResult(event.result)];
    case 'exception':
      return [{ type: 'error', ...event.error }];
    case 'end': {
      const lines: E2bExecutionLine[] = [];
      if (event.timedOut) {
        lines.push({ type: 'error', name: 'TimeoutError', value: 'the cell ran past its time limit', traceback: '' });
      }
      if (event.executionCount !== null) {
        lines.push({ type: 'number_of_executions', execution_count: event.executionCount });
      }
      lines.push({ type: 'end_of_execution' });
      return lines;
    }
    case 'error':
      return [
        { type: 'error', name: 'UnexpectedEndOfExecution', value: event.error.message, traceback: '' },
        { type: 'end_of_execution' },
      ];
  }
}

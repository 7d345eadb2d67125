import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CodeEvent } from '@paddock/protocol';
import { languageOf } from '../../packages/server/src/e2b/code-interpreter/e2b-requests.js';
import {
  toE2bChart,
  toE2bData,
  toE2bLines,
  toE2bResult,
} from '../../packages/server/src/e2b/code-interpreter/execution-lines.js';

const NOW = new Date('2026-01-02T03:04:05.000Z');

describe('E2B code interpreter: our events as E2B lines', () => {
  it('maps output, results, exceptions and the end', () => {
    const events: CodeEvent[] = [
      { type: 'start', contextId: 'python' },
      { type: 'stdout', text: 'a\n' },
      { type: 'stderr', text: 'b\n' },
      { type: 'result', result: { text: "'s'", isMainResult: true } },
      { type: 'exception', error: { name: 'ValueError', value: 'v', traceback: 't' } },
      { type: 'end', executionCount: 3 },
    ];
    assert.deepEqual(
      events.flatMap((e) => toE2bLines(e, NOW)),
      [
        { type: 'stdout', text: 'a\n', timestamp: '2026-01-02T03:04:05.000Z' },
        { type: 'stderr', text: 'b\n', timestamp: '2026-01-02T03:04:05.000Z' },
        { type: 'result', is_main_result: true, text: 's' },
        { type: 'error', name: 'ValueError', value: 'v', traceback: 't' },
        { type: 'number_of_executions', execution_count: 3 },
        { type: 'end_of_execution' },
      ],
    );
  });

  it('ends without a counter when the kernel has none, and reports a lost stream as an error line', () => {
    assert.deepEqual(toE2bLines({ type: 'end', executionCount: null }, NOW), [{ type: 'end_of_execution' }]);
    assert.deepEqual(toE2bLines({ type: 'error', error: { code: 'UNAVAILABLE', message: 'gone' } }, NOW), [
      { type: 'error', name: 'UnexpectedEndOfExecution', value: 'gone', traceback: '' },
      { type: 'end_of_execution' },
    ]);
  });

  it('keeps only the result keys the Python SDK dataclass accepts', () => {
    const line = toE2bResult({
      isMainResult: false,
      html: '<b/>',
      png: 'iVBO',
      json: { a: 1 },
      extra: { 'application/x-y': 'z' },
    });
    assert.deepEqual(line, {
      type: 'result',
      is_main_result: false,
      html: '<b/>',
      png: 'iVBO',
      json: { a: 1 },
      extra: { 'application/x-y': 'z' },
    });
    assert.equal((toE2bResult({ text: "'", isMainResult: true }) as { text: string }).text, "'");
  });

  it('turns a table into one list per column', () => {
    assert.deepEqual(
      toE2bData({
        columns: ['a', 2],
        index: [0, 1],
        rows: [
          [1, 'x'],
          [2, 'y'],
        ],
      }),
      { a: [1, 2], 2: ['x', 'y'] },
    );
    assert.deepEqual(toE2bData({ other: true }), { other: true });
  });

  it('turns our charts into E2B charts (snake_case, superchart)', () => {
    assert.deepEqual(
      toE2bChart({
        type: 'composite',
        title: 'All',
        elements: [
          {
            type: 'line',
            title: 'L',
            xLabel: 'x',
            xTickLabels: ['1'],
            xScale: 'linear',
            elements: [{ label: 'l', points: [[1, 2]] }],
          },
          {
            type: 'box_and_whisker',
            elements: [{ label: 'b', firstQuartile: 1, thirdQuartile: 3 }],
          },
        ],
      }),
      {
        type: 'superchart',
        title: 'All',
        elements: [
          {
            type: 'line',
            title: 'L',
            x_label: 'x',
            x_tick_labels: ['1'],
            x_scale: 'linear',
            elements: [{ label: 'l', points: [[1, 2]] }],
          },
          { type: 'box_and_whisker', title: '', elements: [{ label: 'b', first_quartile: 1, third_quartile: 3 }] },
        ],
      },
    );
  });
});

describe('E2B code interpreter: languages', () => {
  it('maps E2B language names to ours and names the supported ones otherwise', () => {
    assert.equal(languageOf(undefined), 'python');
    assert.equal(languageOf(null), 'python');
    assert.equal(languageOf(' JS '), 'javascript');
    assert.equal(languageOf('Bash'), 'bash');
    assert.throws(() => languageOf('typescript'), /not supported.*python, javascript \(js\) or bash/);
  });
});

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ExecutionEvent, InvalidArgumentError, NotFoundError, Sandbox, Template } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import { runCli } from '../support/cli.js';
import { startTestServer, type TestConnection } from '../support/server.js';

// Real sandboxes from the `code-interpreter` template (built by scripts/setup.sh).
let server: RunningServer;
let conn: TestConnection;
let sbx: Sandbox;
let skipReason: string | undefined;
const made: Sandbox[] = [];

async function sandbox(opts: Parameters<typeof Sandbox.create>[0] = {}): Promise<Sandbox> {
  const s = await Sandbox.create({ ...conn, template: 'code-interpreter', memoryMiB: 1024, ...opts });
  made.push(s);
  return s;
}

before(async () => {
  ({ server, conn } = await startTestServer());
  try {
    await Template.get('code-interpreter', conn);
  } catch (err) {
    skipReason = `the code-interpreter template is not built (${(err as Error).message}); run scripts/setup.sh`;
    return;
  }
  sbx = await sandbox();
});

after(async () => {
  await Promise.allSettled(made.map((s) => s.kill()));
  await server.close();
});

/** Runs `body` unless the template is missing, in which case the test is skipped with the reason. */
function test(name: string, body: () => Promise<void>, timeoutMs = 60_000): void {
  it(name, { timeout: timeoutMs }, async (t) => {
    if (skipReason !== undefined) {
      t.skip(skipReason);
      return;
    }
    await body();
  });
}

describe('code interpreter: Python', () => {
  test('keeps state across runs, counts executions, shows the last expression', async () => {
    const first = await sbx.runCode('x = 41');
    assert.equal(first.error, undefined);
    assert.equal(first.results.length, 0);
    const second = await sbx.runCode('x + 1');
    assert.equal(second.text, '42');
    assert.ok((second.executionCount ?? 0) > (first.executionCount ?? 0));
    assert.deepEqual(second.results[0]?.formats, ['text']);
    assert.equal(second.results[0]?.isMainResult, true);
    const magic = await sbx.runCode('%timeit -n1 -r1 sum(range(10))');
    assert.match(magic.logs.stdout.join(''), /per loop/);
  });

  test('empty code is an empty execution; syntax errors and exceptions come back as `error`', async () => {
    const empty = await sbx.runCode('   ');
    assert.deepEqual([empty.results, empty.error, empty.executionCount], [[], undefined, null]);
    const syntax = await sbx.runCode('def f(:\n  pass');
    assert.equal(syntax.error?.name, 'SyntaxError');
    const raised = await sbx.runCode('print("before")\n1 / 0');
    assert.equal(raised.error?.name, 'ZeroDivisionError');
    assert.equal(raised.error?.value, 'division by zero');
    assert.match(raised.error?.traceback ?? '', /1 \/ 0/);
    assert.ok(!(raised.error?.traceback ?? '').includes('\u001b['), 'no ANSI colours in tracebacks');
    assert.deepEqual(raised.logs.stdout, ['before\n']);
    assert.equal(typeof raised.executionCount, 'number', 'a failed cell is still counted');
  });

  test('a DataFrame comes back as text, html and JSON-safe data', async () => {
    const ex = await sbx.runCode(
      'import pandas as pd, numpy as np\n' +
        'df = pd.DataFrame({"a": [1, 2], "b": [np.nan, 2.5], "d": pd.to_datetime(["2024-01-02", "2024-03-04"])})\ndf',
    );
    assert.equal(ex.error, undefined, ex.error?.traceback);
    const main = ex.results.find((r) => r.isMainResult);
    assert.ok(main);
    assert.deepEqual(main.formats, ['text', 'html', 'data']);
    assert.match(main.html ?? '', /<table/);
    const data = main.data as { columns: string[]; rows: unknown[][]; index: unknown[] };
    assert.deepEqual(data.columns, ['a', 'b', 'd']);
    assert.deepEqual(data.index, [0, 1]);
    assert.deepEqual(data.rows[0]?.slice(0, 2), [1, null], 'NaN becomes null');
    assert.match(String(data.rows[1]?.[2]), /^2024-03-04T00:00:00/, 'dates become ISO strings');
  });

  test('display() of SVG, HTML, Markdown, LaTeX and JSON objects carries each format', async () => {
    const ex = await sbx.runCode(
      'from IPython.display import SVG, HTML, Markdown, Latex, JSON, display\n' +
        'display(SVG(\'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>\'))\n' +
        'display(HTML("<b>bold</b>"))\n' +
        'display(Markdown("# Title"))\n' +
        'display(Latex(r"$\\alpha$"))\n' +
        'display(JSON({"k": [1, 2]}))',
    );
    assert.equal(ex.error, undefined, ex.error?.traceback);
    const [svg, html, md, latex, json] = ex.results;
    assert.match(svg?.svg ?? '', /<svg/);
    assert.equal(html?.html, '<b>bold</b>');
    assert.equal(md?.markdown, '# Title');
    assert.equal(latex?.latex, '$\\alpha$');
    assert.deepEqual(json?.json, { k: [1, 2] });
    assert.ok(ex.results.every((r) => !r.isMainResult && r.formats.includes('text')));
  });

  test('a figure is shown as png and as chart data (line)', async () => {
    const ex = await sbx.runCode(
      'import matplotlib.pyplot as plt\n' +
        'fig, ax = plt.subplots()\n' +
        'ax.plot([1, 2, 3], [2, 4, 8], label="growth")\n' +
        'ax.set_title("T"); ax.set_xlabel("x"); ax.set_ylabel("y")\n' +
        'plt.show()',
    );
    assert.equal(ex.error, undefined, ex.error?.traceback);
    const fig = ex.results.find((r) => r.png !== undefined);
    assert.ok(fig, `a figure result: ${JSON.stringify(ex.results.map((r) => r.formats))}`);
    assert.ok(
      Buffer.from(fig.png ?? '', 'base64')
        .subarray(1, 4)
        .toString() === 'PNG',
    );
    assert.deepEqual(fig.chart?.type, 'line');
    assert.deepEqual([fig.chart?.title, fig.chart?.xLabel, fig.chart?.yLabel], ['T', 'x', 'y']);
    assert.deepEqual(fig.chart?.elements, [
      {
        label: 'growth',
        points: [
          [1, 2],
          [2, 4],
          [3, 8],
        ],
      },
    ]);
  });

  test('bar, scatter and pie charts are extracted with their values; a cell ending with a figure shows it', async () => {
    const bar = await sbx.runCode(
      'import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar(["a", "b", "c"], [3, 5, 1])\nfig',
    );
    const barChart = bar.results.find((r) => r.chart)?.chart;
    assert.equal(barChart?.type, 'bar');
    assert.deepEqual(
      ((barChart?.elements ?? []) as { label: string; value: number }[]).map((e) => [e.label, e.value]),
      [
        ['a', 3],
        ['b', 5],
        ['c', 1],
      ],
    );
    assert.equal(bar.results.filter((r) => r.png).length, 1, 'the figure is shown once');

    const scatter = await sbx.runCode('fig, ax = plt.subplots()\nax.scatter([1, 2], [3, 4], label="pts")\nplt.show()');
    const scatterChart = scatter.results.find((r) => r.chart)?.chart;
    assert.equal(scatterChart?.type, 'scatter');
    assert.deepEqual(scatterChart?.elements, [
      {
        label: 'pts',
        points: [
          [1, 3],
          [2, 4],
        ],
      },
    ]);

    const pie = await sbx.runCode('fig, ax = plt.subplots()\nax.pie([1, 3], labels=["x", "y"])\nplt.show()');
    const pieChart = pie.results.find((r) => r.chart)?.chart;
    assert.equal(pieChart?.type, 'pie');
    assert.deepEqual(
      ((pieChart?.elements ?? []) as { label: string; fraction: number }[]).map((e) => [
        e.label,
        Number(e.fraction.toFixed(3)),
      ]),
      [
        ['x', 0.25],
        ['y', 0.75],
      ],
    );
  });

  test('streams output and results in order, as they are produced', async () => {
    const seen: string[] = [];
    const times: number[] = [];
    const ex = await sbx.runCode(
      'import time\nfrom IPython.display import HTML, display\n' +
        'print("one", flush=True)\ntime.sleep(0.5)\ndisplay(HTML("<i>two</i>"))\n' +
        'import sys; print("three", file=sys.stderr, flush=True)\ntime.sleep(0.5)\n"four"',
      {
        onStdout: (t) => {
          seen.push(`out:${t.trim()}`);
          times.push(Date.now());
        },
        onStderr: (t) => seen.push(`err:${t.trim()}`),
        onResult: (r) => {
          seen.push(`result:${r.text}`);
          times.push(Date.now());
        },
      },
    );
    assert.deepEqual(seen, ['out:one', 'result:<IPython.core.display.HTML object>', 'err:three', "result:'four'"]);
    assert.ok((times[1] ?? 0) - (times[0] ?? 0) >= 300, 'the first line arrived before the cell ended');
    assert.equal(ex.text, "'four'");

    const events: ExecutionEvent['type'][] = [];
    for await (const event of sbx.streamCode('print(1)\n2')) events.push(event.type);
    assert.deepEqual(events, ['stdout', 'result', 'end']);
  });

  test('timeoutMs interrupts the cell with KeyboardInterrupt and keeps the variables', async () => {
    await sbx.runCode('kept = "still here"');
    const started = Date.now();
    const ex = await sbx.runCode('import time\ntime.sleep(60)', { timeoutMs: 1_000 });
    assert.ok(Date.now() - started < 10_000);
    assert.equal(ex.timedOut, true);
    assert.equal(ex.error?.name, 'KeyboardInterrupt');
    assert.equal((await sbx.runCode('kept')).text, "'still here'");
  });

  test('a kernel that dies is reported and a new one starts on the next run', async () => {
    await sbx.runCode('lost = 1');
    const ex = await sbx.runCode('import os\nos._exit(3)');
    assert.equal(ex.error?.name, 'KernelDied');
    assert.match(ex.error?.value ?? '', /died .*exit status/);
    assert.equal((await sbx.runCode('1 + 1')).text, '2');
    assert.equal((await sbx.runCode('lost')).error?.name, 'NameError', 'the new kernel has fresh state');
  });

  test('output over the cap is truncated with a marker and the kernel stays alive', async () => {
    const ex = await sbx.runCode('print("x" * (200 * 1024 * 1024))', { timeoutMs: 120_000 });
    const stdoutBytes = ex.logs.stdout.reduce((n, s) => n + s.length, 0);
    assert.ok(stdoutBytes <= 8 * 1024 * 1024, `stdout capped (${stdoutBytes} chars)`);
    assert.equal(ex.truncated, true);
    assert.match(ex.logs.stderr.join(''), /output truncated/);
    assert.equal((await sbx.runCode('6 * 7')).text, '42');
  }, 180_000);
});

describe('code interpreter: contexts', () => {
  test('contexts are independent (variables and cwd), restart clears state, remove forgets', async () => {
    const a = await sbx.codeContexts.create({ language: 'python', cwd: '/tmp' });
    const b = await sbx.codeContexts.create({});
    assert.match(a.id, /^[a-z0-9]+$/);
    await sbx.runCode('v = "a"', { context: a });
    assert.equal((await sbx.runCode('v', { context: b })).error?.name, 'NameError');
    assert.equal((await sbx.runCode('import os; os.getcwd()', { context: a })).text, "'/tmp'");
    assert.equal((await sbx.runCode('import os; os.getcwd()', { context: b })).text, "'/home/user'");
    const ids = (await sbx.codeContexts.list()).map((c) => c.id);
    assert.ok(ids.includes(a.id) && ids.includes(b.id));

    await sbx.codeContexts.restart(a);
    assert.equal((await sbx.runCode('v', { context: a })).error?.name, 'NameError');
    await sbx.codeContexts.remove(a);
    await assert.rejects(sbx.runCode('1', { context: a }), NotFoundError);
    await sbx.codeContexts.remove(b);
  });

  test('different contexts run in parallel; one context runs its cells in order', async () => {
    const [a, b] = await Promise.all([sbx.codeContexts.create(), sbx.codeContexts.create()]);
    // Warm both kernels first, so that the timing below measures cells, not kernel starts.
    await Promise.all([sbx.runCode('import time', { context: a }), sbx.runCode('import time', { context: b })]);
    const started = Date.now();
    await Promise.all([sbx.runCode('time.sleep(1.5)', { context: a }), sbx.runCode('time.sleep(1.5)', { context: b })]);
    const elapsedMs = Date.now() - started;
    assert.ok(elapsedMs < 2_800, `two 1.5 s cells in ${elapsedMs} ms`);

    // The second cell is sent once the first one runs (two requests sent at once may arrive in
    // either order): it must wait for the first to finish, not run beside it.
    const order: string[] = [];
    let firstRuns = (): void => {};
    const running = new Promise<void>((resolve) => {
      firstRuns = resolve;
    });
    const first = sbx
      .runCode('print("running", flush=True); time.sleep(0.5); q = "first"', {
        context: a,
        onStdout: () => firstRuns(),
      })
      .then(() => order.push('first'));
    await running;
    const second = sbx.runCode('q', { context: a }).then((ex) => order.push(`second saw ${ex.text}`));
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first', "second saw 'first'"]);
    await Promise.all([sbx.codeContexts.remove(a), sbx.codeContexts.remove(b)]);
  });
});

describe('code interpreter: JavaScript and bash', () => {
  test('JavaScript: console.log, last value, top-level await and persisted bindings', async () => {
    const ex = await sbx.runCode('console.log(1); [1,2,3].map(x => x*2)', { language: 'javascript' });
    assert.deepEqual(ex.logs.stdout, ['1\n']);
    assert.equal(ex.text, '[ 2, 4, 6 ]');
    await sbx.runCode('const a = 40; let b = 1; function f(n) { return n + 1 }', { language: 'javascript' });
    const awaited = await sbx.runCode('const c = await Promise.resolve(a + b); f(c)', { language: 'javascript' });
    assert.equal(awaited.text, '42');
    assert.equal((await sbx.runCode('c', { language: 'javascript' })).text, '41');
    const thrown = await sbx.runCode('null.x', { language: 'javascript' });
    assert.equal(thrown.error?.name, 'TypeError');
    assert.equal((await sbx.runCode('foo bar', { language: 'javascript' })).error?.name, 'SyntaxError');
  });

  test('bash: a persistent shell keeps cwd and variables; a failing command is an error', async () => {
    const ex = await sbx.runCode('ls -la / | wc -l', { language: 'bash' });
    assert.ok(Number(ex.logs.stdout.join('').trim()) > 5);
    await sbx.runCode('cd /tmp && export GREETING=hi', { language: 'bash' });
    assert.equal(
      (await sbx.runCode('echo "$GREETING from $(pwd)"', { language: 'bash' })).logs.stdout.join(''),
      'hi from /tmp\n',
    );
    const failed = await sbx.runCode('echo oops >&2; false', { language: 'bash' });
    assert.equal(failed.error?.value, 'exit status 1');
    assert.deepEqual(failed.logs.stderr, ['oops\n']);
    const interrupted = await sbx.runCode('sleep 30; echo done', { language: 'bash', timeoutMs: 500 });
    assert.equal(interrupted.timedOut, true);
    assert.equal((await sbx.runCode('echo $GREETING', { language: 'bash' })).logs.stdout.join(''), 'hi\n');
  });
});

describe('code interpreter: environment', () => {
  test("every kernel has the sandbox's env and secret placeholders, never the value; env per run", async () => {
    const secret = 'sk-real-value-never-inside';
    const s = await sandbox({
      env: { SBX_VAR: 'from create' },
      secrets: { API_KEY: { value: secret, hosts: ['api.allowed.test'] } },
    });
    // The default Python kernel was started (prewarmed) before the create's env was known.
    const py = await s.runCode(
      "import os\n'|'.join(os.environ.get(k, '') for k in ('SBX_VAR', 'API_KEY', 'SSL_CERT_FILE'))",
    );
    assert.match(py.text ?? '', /^'from create\|paddock-secret-[0-9a-f]{24}\|\/.+'$/);
    assert.equal(py.text?.includes(secret), false);
    // A JavaScript kernel starts with them, so Node reads the sandbox's CA at start.
    const js = await s.runCode(
      "[process.env.SBX_VAR, require('fs').readFileSync('/proc/self/environ', 'utf8').includes('NODE_EXTRA_CA_CERTS=')].join()",
      { language: 'javascript' },
    );
    assert.equal(js.text, "'from create,true'");
    const bash = await s.runCode('echo "$SBX_VAR"', { language: 'bash' });
    assert.deepEqual(bash.logs.stdout, ['from create\n']);

    assert.equal(
      (await s.runCode("os.environ['RUN_VAR'] + os.environ['SBX_VAR']", { env: { RUN_VAR: 'once ', SBX_VAR: 'over' } }))
        .text,
      "'once over'",
    );
    assert.equal((await s.runCode("str(os.environ.get('RUN_VAR')) + os.environ['SBX_VAR']")).text, "'Nonefrom create'");
    await assert.rejects(
      s.runCode('1', { env: { 'BAD-NAME': 'x' } }),
      (err: Error) => err instanceof InvalidArgumentError && /env/.test(err.message),
    );
  });
});

describe('code interpreter: bad input', () => {
  test('unknown language or context, and a language that does not match the context, are typed errors', async () => {
    await assert.rejects(sbx.runCode('1', { language: 'cobol' as never }), InvalidArgumentError);
    await assert.rejects(sbx.runCode('1', { context: 'nosuchcontext' }), NotFoundError);
    await assert.rejects(sbx.runCode('1', { context: 'Bad-Id' }), InvalidArgumentError);
    const ctx = await sbx.codeContexts.create({ language: 'bash' });
    await assert.rejects(sbx.runCode('1', { context: ctx, language: 'python' }), InvalidArgumentError);
    await assert.rejects(sbx.codeContexts.create({ cwd: '/no/such/dir' }), NotFoundError);
    await assert.rejects(sbx.codeContexts.create({ language: 'ruby' as never }), InvalidArgumentError);
    await assert.rejects(sbx.codeContexts.restart('nosuchcontext'), NotFoundError);
    await assert.rejects(sbx.runCode(1 as never), InvalidArgumentError);
  });

  test('a template without ipykernel says which template to use', async () => {
    const base = await Sandbox.create({ ...conn, template: 'base' });
    made.push(base);
    await assert.rejects(base.runCode('1'), (err: Error) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /code-interpreter/);
      return true;
    });
    // JavaScript runs on the agent's own Node, so any template has it.
    assert.equal((await base.runCode('6 * 7', { language: 'javascript' })).text, '42');
  });
});

describe('code interpreter: CLI', () => {
  test('`paddock run-code` prints text results and saves images next to the file; stdin works too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'paddock-run-code-'));
    try {
      const env = { PADDOCK_URL: conn.apiUrl, PADDOCK_API_KEY: conn.apiKey };
      const file = join(dir, 'plot.py');
      await writeFile(file, 'import matplotlib.pyplot as plt\nprint("drawing")\nplt.plot([1, 2])\nplt.show()\n6 * 7\n');
      const r = await runCli(['run-code', sbx.id, file], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'drawing\n42\n');
      const png = await readFile(join(dir, 'plot-1.png'));
      assert.equal(png.subarray(1, 4).toString(), 'PNG');
      const js = await runCli(['run-code', sbx.id, '--language', 'javascript'], { env, stdin: '[1, 2].length' });
      assert.equal(js.stdout, '2\n');
      const failed = await runCli(['run-code', sbx.id], { env, stdin: 'raise ValueError("bad")' });
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /ValueError: bad/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

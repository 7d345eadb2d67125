import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
// The real, unmodified SDK, pinned in the root package.json: @e2b/code-interpreter 2.8.0
// (on e2b 2.51.0). It is configured only by the E2B_* environment variables set below.
import {
  type ExecutionError,
  NotFoundError,
  type OutputMessage,
  type Result,
  Sandbox,
  SandboxError,
  TimeoutError,
} from '@e2b/code-interpreter';
import { Sandbox as PaddockSandbox } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import { httpRequest } from '../support/http-request.js';
import { startTestServer, type TestConnection } from '../support/server.js';

const PINNED = { '@e2b/code-interpreter': '2.8.0', e2b: '2.51.0' } as const;
const API_KEY = `e2b_${randomBytes(20).toString('hex')}`;
// runCode clears its request timer only after a 2xx answer, so a call expected to fail gets a
// short one: otherwise the timer keeps the test process alive for the default 60 s.
const QUICK_MS = 5_000;

let server: RunningServer;
let conn: TestConnection;
let sbx: Sandbox;
const paddockMade: PaddockSandbox[] = [];

before(async () => {
  ({ server, conn } = await startTestServer({ apiKey: API_KEY }));
  const port = new URL(server.url).port;
  process.env.E2B_API_URL = server.url;
  process.env.E2B_SANDBOX_URL = server.url;
  process.env.E2B_DOMAIN = `localhost:${port}`;
  process.env.E2B_API_KEY = API_KEY;
  sbx = await Sandbox.create({ timeoutMs: 600_000, envs: { PADDOCK_E2B_SANDBOX_VAR: 'from create' } });
});

after(async () => {
  await sbx?.kill().catch(() => undefined);
  await Promise.allSettled(paddockMade.map((s) => s.kill()));
  await server?.close();
});

/** A raw request to the code interpreter port of `sandboxId`, as the SDK routes it. */
function ci(path: string, init: RequestInit & { sandboxId?: string; token?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'e2b-sandbox-id': init.sandboxId ?? sbx.sandboxId,
    'e2b-sandbox-port': '49999',
  };
  if (init.token !== undefined) headers['x-access-token'] = init.token;
  return fetch(`${server.url}${path}`, { ...init, headers });
}

function accessToken(): string {
  // The SDK keeps the envdAccessToken of the create response for its /execute calls.
  const token = (sbx as unknown as { envdAccessToken?: string }).envdAccessToken;
  assert.ok(token, 'create returned an envdAccessToken');
  return token;
}

describe(`E2B code interpreter through @e2b/code-interpreter ${PINNED['@e2b/code-interpreter']}`, () => {
  it('runs Python, keeps state across calls and counts executions', { timeout: 120_000 }, async () => {
    const first = await sbx.runCode('x = 1 + 1\nx');
    assert.equal(first.text, '2');
    assert.equal(first.error, undefined);
    const second = await sbx.runCode('x * 21');
    assert.equal(second.text, '42');
    assert.ok((second.executionCount ?? 0) > (first.executionCount ?? 0), 'execution count grows');
    const str = await sbx.runCode("'quoted'");
    assert.equal(str.text, 'quoted', "E2B strips the quotes of a string's text/plain");
  });

  it('streams stdout, stderr, results and errors to the callbacks', { timeout: 60_000 }, async () => {
    const stdout: OutputMessage[] = [];
    const stderr: OutputMessage[] = [];
    const results: Result[] = [];
    const execution = await sbx.runCode("import sys\nprint('to out')\nprint('to err', file=sys.stderr)\n6 * 7", {
      onStdout: (m) => void stdout.push(m),
      onStderr: (m) => void stderr.push(m),
      onResult: (r) => void results.push(r),
    });
    assert.deepEqual(execution.logs.stdout, ['to out\n']);
    assert.deepEqual(execution.logs.stderr, ['to err\n']);
    assert.equal(stdout[0]?.line, 'to out\n');
    assert.equal(stdout[0]?.error, false);
    assert.equal(stderr[0]?.line, 'to err\n');
    assert.equal(stderr[0]?.error, true);
    assert.equal(results[0]?.text, '42');
    assert.equal(results[0]?.isMainResult, true);

    const errors: ExecutionError[] = [];
    const failed = await sbx.runCode('def f():\n    return 1 / 0\nf()', { onError: (e) => void errors.push(e) });
    assert.equal(failed.error?.name, 'ZeroDivisionError');
    assert.match(failed.error?.value ?? '', /division by zero/);
    assert.match(failed.error?.traceback ?? '', /ZeroDivisionError/);
    assert.equal(errors[0]?.name, 'ZeroDivisionError');
  });

  it('returns a matplotlib figure as png and as chart data', { timeout: 120_000 }, async () => {
    const execution = await sbx.runCode(
      [
        'import matplotlib.pyplot as plt',
        'fig, ax = plt.subplots()',
        "ax.plot([1, 2, 3], [2, 4, 8], label='growth')",
        "ax.set_title('Growth')",
        "ax.set_xlabel('day')",
        "ax.set_ylabel('count')",
        'plt.show()',
      ].join('\n'),
    );
    assert.equal(execution.error, undefined);
    const figure = execution.results.find((r) => r.png !== undefined);
    assert.ok(figure, 'a result with a png');
    assert.equal(
      Buffer.from(figure.png ?? '', 'base64')
        .subarray(1, 4)
        .toString(),
      'PNG',
    );
    const chart = figure.chart as unknown as Record<string, unknown> & {
      elements: { label: string; points: unknown }[];
    };
    assert.equal(chart.type, 'line');
    assert.equal(chart.title, 'Growth');
    assert.equal(chart.x_label, 'day');
    assert.equal(chart.y_label, 'count');
    assert.equal(chart.elements[0]?.label, 'growth');
    assert.deepEqual(chart.elements[0]?.points, [
      [1, 2],
      [2, 4],
      [3, 8],
    ]);
    assert.equal(chart.x_scale, 'linear');
    assert.equal(chart.y_scale, 'linear');
    assert.ok(Array.isArray(chart.x_ticks) && Array.isArray(chart.x_tick_labels));

    const pies = await sbx.runCode("import matplotlib.pyplot as plt\nplt.pie([1, 3], labels=['a', 'b'])\nplt.show()");
    const pie = pies.results.find((r) => r.chart !== undefined)?.chart as unknown as {
      type: string;
      elements: { label: string; angle: number; radius: number }[];
    };
    assert.equal(pie.type, 'pie');
    assert.deepEqual(
      pie.elements.map((e) => [e.label, Math.round(e.angle), e.radius]),
      [
        ['a', 90, 1],
        ['b', 270, 1],
      ],
    );

    const bars = await sbx.runCode(
      "import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [3, 5])\nplt.title('Bars')\nplt.show()",
    );
    const bar = bars.results.find((r) => r.chart !== undefined)?.chart as unknown as {
      type: string;
      elements: { label: string; value: number }[];
    };
    assert.equal(bar.type, 'bar');
    assert.deepEqual(
      bar.elements.map((e) => [e.label, e.value]),
      [
        ['a', 3],
        ['b', 5],
      ],
    );
  });

  it('returns a pandas DataFrame as data (one list per column) and html', { timeout: 120_000 }, async () => {
    const execution = await sbx.runCode("import pandas as pd\npd.DataFrame({'a': [1, 2], 'b': ['x', 'y']})");
    assert.equal(execution.error, undefined);
    const main = execution.results.find((r) => r.isMainResult);
    assert.deepEqual(main?.data, { a: [1, 2], b: ['x', 'y'] });
    assert.match(main?.html ?? '', /<table/);
    assert.ok(main?.formats().includes('data'));
  });

  it('returns every MIME type of a displayed object', { timeout: 60_000 }, async () => {
    const execution = await sbx.runCode(
      [
        'from IPython.display import display',
        'class Rich:',
        "    def _repr_html_(self): return '<b>hi</b>'",
        "    def _repr_markdown_(self): return '**hi**'",
        "    def _repr_latex_(self): return r'$x^2$'",
        "    def _repr_json_(self): return {'k': 1}",
        "    def _repr_javascript_(self): return 'console.log(1)'",
        "    def _repr_svg_(self): return '<svg></svg>'",
        "    def _repr_mimebundle_(self, include=None, exclude=None): return {'application/x-paddock-test': 'extra'}",
        'display(Rich())',
      ].join('\n'),
    );
    assert.equal(execution.error, undefined);
    const shown = execution.results[0];
    assert.ok(shown);
    assert.equal(shown.isMainResult, false);
    assert.equal(shown.html, '<b>hi</b>');
    assert.equal(shown.markdown, '**hi**');
    assert.equal(shown.latex, '$x^2$');
    assert.deepEqual(shown.json, { k: 1 });
    assert.equal(shown.javascript, 'console.log(1)');
    assert.equal(shown.svg, '<svg></svg>');
    // Like E2B's own server, other MIME types travel under `extra` (the JS SDK keeps them in `raw`).
    assert.deepEqual((shown.raw as unknown as { extra: unknown }).extra, { 'application/x-paddock-test': 'extra' });
  });

  it('creates, uses, lists, restarts and removes contexts', { timeout: 120_000 }, async () => {
    const context = await sbx.createCodeContext({ cwd: '/tmp' });
    assert.equal(context.language, 'python');
    assert.equal(context.cwd, '/tmp');
    assert.match(context.id, /^[a-z0-9]+$/);

    const cwd = await sbx.runCode('import os\nos.getcwd()', { context });
    assert.equal(cwd.text, '/tmp');
    const isolated = await sbx.runCode('x', { context });
    assert.equal(isolated.error?.name, 'NameError', 'a new context has its own variables');
    await sbx.runCode('y = 5', { context });
    assert.equal((await sbx.runCode('y', { context })).text, '5');

    const listed = await sbx.listCodeContexts();
    assert.ok(listed.some((c) => c.id === context.id && c.language === 'python' && c.cwd === '/tmp'));

    await sbx.restartCodeContext(context);
    assert.equal((await sbx.runCode('y', { context })).error?.name, 'NameError', 'restart drops the state');

    await sbx.removeCodeContext(context.id);
    assert.ok(!(await sbx.listCodeContexts()).some((c) => c.id === context.id));
    await assert.rejects(sbx.runCode('1', { context, requestTimeoutMs: QUICK_MS }), NotFoundError);
    await assert.rejects(sbx.restartCodeContext(context.id), NotFoundError);
    await assert.rejects(sbx.removeCodeContext(context.id), NotFoundError);

    const js = await sbx.createCodeContext({ language: 'js' });
    assert.equal(js.language, 'javascript');
    assert.equal((await sbx.runCode('const z = 3; z * 3', { context: js })).text, '9');
    await sbx.removeCodeContext(js);
  });

  it('runs JavaScript and bash', { timeout: 120_000 }, async () => {
    const js = await sbx.runCode('const a = 40; a + 2', { language: 'js' });
    assert.equal(js.text, '42');
    const again = await sbx.runCode('a * 2', { language: 'javascript' });
    assert.equal(again.text, '80', 'the default JavaScript context keeps its state');
    const jsErr = await sbx.runCode("throw new TypeError('nope')", { language: 'js' });
    assert.equal(jsErr.error?.name, 'TypeError');

    const bash = await sbx.runCode('echo hi; echo oops >&2', { language: 'bash' });
    assert.deepEqual(bash.logs.stdout.join(''), 'hi\n');
    assert.deepEqual(bash.logs.stderr.join(''), 'oops\n');

    await assert.rejects(sbx.runCode('1', { language: 'r', requestTimeoutMs: QUICK_MS }), (err: unknown) => {
      assert.ok(err instanceof SandboxError);
      assert.match((err as Error).message, /^400 .*language 'r' is not supported.*python, javascript/);
      return true;
    });
  });

  it('passes envVars to one run only', { timeout: 60_000 }, async () => {
    const withEnv = await sbx.runCode("import os\nos.environ.get('PADDOCK_E2B_VAR')", {
      envs: { PADDOCK_E2B_VAR: "it's set" },
    });
    assert.equal(withEnv.text, '"it\'s set"');
    const after = await sbx.runCode("print(os.environ.get('PADDOCK_E2B_VAR'))");
    assert.deepEqual(after.logs.stdout, ['None\n'], 'the variable is gone in the next run');
    // The create's envs are every kernel's; a run's envs win for that run only.
    const fromCreate = "os.environ['PADDOCK_E2B_SANDBOX_VAR']";
    assert.equal((await sbx.runCode(fromCreate)).text, 'from create');
    const over = await sbx.runCode(fromCreate, { envs: { PADDOCK_E2B_SANDBOX_VAR: 'run' } });
    assert.equal(over.text, 'run');
    assert.equal((await sbx.runCode(fromCreate)).text, 'from create');

    const js = await sbx.runCode('process.env.PADDOCK_E2B_VAR', { language: 'js', envs: { PADDOCK_E2B_VAR: 'js' } });
    assert.equal(js.text, 'js', 'quotes stripped, as for Python');
    const bash = await sbx.runCode('echo "$PADDOCK_E2B_VAR"', { language: 'bash', envs: { PADDOCK_E2B_VAR: 'b a' } });
    assert.deepEqual(bash.logs.stdout, ['b a\n']);
    const bashAfter = await sbx.runCode('echo "[$PADDOCK_E2B_VAR]"', { language: 'bash' });
    assert.deepEqual(bashAfter.logs.stdout, ['[]\n']);
  });

  it('stops a run at timeoutMs, interrupting the cell but keeping the context', { timeout: 60_000 }, async () => {
    await sbx.runCode('kept = 7');
    const startedMs = Date.now();
    await assert.rejects(sbx.runCode('import time\ntime.sleep(120)', { timeoutMs: 1_500 }), TimeoutError);
    assert.ok(Date.now() - startedMs < 20_000);
    // The next run is not queued behind the sleep: the cell was interrupted.
    const next = await sbx.runCode('kept', { timeoutMs: 20_000 });
    assert.equal(next.text, '7');
  });

  it("keeps a silent cell's stream alive with keepalive lines, which the SDK skips", { timeout: 60_000 }, async () => {
    const code = "import time\ntime.sleep(6)\nprint('done')";
    const res = await ci('/execute', { method: 'POST', body: JSON.stringify({ code }), token: accessToken() });
    const types = (await res.text())
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { type: string }).type);
    // At least one (more if the kernel is still starting) before the output of the sleeping cell.
    assert.equal(types[0], 'keepalive');
    assert.ok(types.indexOf('stdout') > 0);
    assert.ok(types.slice(types.indexOf('stdout')).every((t) => t !== 'keepalive'));
    assert.equal(types.at(-1), 'end_of_execution');
    const viaSdk = await sbx.runCode('time.sleep(6)\n1');
    assert.equal(viaSdk.text, '1');
  });

  it('checks X-Access-Token on /execute and answers bad input with the status the SDK expects', async () => {
    const body = JSON.stringify({ code: '1' });
    assert.equal((await ci('/execute', { method: 'POST', body })).status, 401);
    assert.equal((await ci('/execute', { method: 'POST', body, token: 'wrong' })).status, 401);
    const token = accessToken();
    const ok = await ci('/execute', { method: 'POST', body, token });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), 'application/x-ndjson');
    const lines = (await ok.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    assert.equal(lines.at(-1)?.type, 'end_of_execution');
    assert.ok(lines.some((l) => l.type === 'number_of_executions'));

    const bad = async (init: RequestInit & { token?: string }, path = '/execute') => {
      const res = await ci(path, { method: 'POST', token, ...init });
      return [res.status, await res.text()] as const;
    };
    assert.deepEqual(await bad({ body: '{' }), [400, 'request body is not valid JSON']);
    const [noCode, noCodeText] = await bad({ body: '{}' });
    assert.equal(noCode, 400);
    assert.match(noCodeText, /code/);
    assert.deepEqual(await bad({ body: JSON.stringify({ code: '1', context_id: 'python', language: 'python' }) }), [
      400,
      'Only one of context_id or language can be provided',
    ]);
    const [badEnv, badEnvText] = await bad({ body: JSON.stringify({ code: '1', env_vars: { 'A-B': 'x' } }) });
    assert.equal(badEnv, 400);
    assert.match(badEnvText, /env_vars/);
    assert.deepEqual(await bad({ body: JSON.stringify({ code: '1', context_id: 'not-a-context' }) }), [
      404,
      'Context not-a-context not found',
    ]);
    assert.equal((await bad({ body: JSON.stringify({ language: 7 }) }, '/contexts'))[0], 400);
    assert.equal((await bad({ body: JSON.stringify({ language: 'java' }) }, '/contexts'))[0], 400);
    assert.equal((await ci('/contexts/nosuchcontext', { method: 'DELETE', token })).status, 404);
    assert.equal((await ci('/nope', { method: 'GET', token })).status, 404);

    // Routed by Host (`49999-<id>.<domain>`, what the SDKs use without E2B_SANDBOX_URL) too.
    const url = new URL(server.url);
    const byHost = await httpRequest({
      host: url.hostname,
      port: url.port,
      path: '/contexts',
      headers: { host: `49999-${sbx.sandboxId}.localhost`, 'x-access-token': token },
    });
    assert.equal(byHost.status, 200);
    assert.ok((JSON.parse(byHost.body) as { id: string }[]).some((c) => c.id === 'python'));

    const gone = await ci('/contexts', { sandboxId: 'nosuchsandbox0000000' });
    assert.equal(gone.status, 502);
    assert.equal(((await gone.json()) as { code: number }).code, 502);
  });

  it("shares kernels with Paddock's own code API: one sandbox, two SDKs", { timeout: 120_000 }, async () => {
    const paddock = await PaddockSandbox.create({ ...conn, template: 'code-interpreter', autoResume: true });
    paddockMade.push(paddock);
    const set = await paddock.runCode("shared = 'from paddock'");
    assert.equal(set.error, undefined);
    const e2b = await Sandbox.connect(paddock.id);
    assert.equal((await e2b.runCode('shared')).text, 'from paddock');
    await e2b.runCode("shared = 'from e2b'");
    assert.equal((await paddock.runCode('shared')).text, "'from e2b'");
    const context = await e2b.createCodeContext();
    assert.ok((await paddock.codeContexts.list()).some((c) => c.id === context.id));

    // Paused with autoResume: the code interpreter resumes it, and the kernel's state is there.
    await paddock.pause();
    assert.equal((await e2b.runCode('shared')).text, 'from e2b');
  });

  it('runs code in a gVisor sandbox the same way', { timeout: 180_000 }, async () => {
    const paddock = await PaddockSandbox.create({ ...conn, template: 'code-interpreter', isolation: 'gvisor' });
    paddockMade.push(paddock);
    const e2b = await Sandbox.connect(paddock.id);
    const execution = await e2b.runCode("print('up')\n6 * 7");
    assert.equal(execution.text, '42');
    assert.deepEqual(execution.logs.stdout, ['up\n']);
    // gVisor's own kernel answers uname, with its fixed version: the cell did run under runsc.
    assert.equal((await e2b.runCode('import platform\nplatform.release()')).text, '4.4.0');
  });

  it('answers 502 for a paused sandbox; after connect resumes it, state is kept', { timeout: 60_000 }, async () => {
    await sbx.runCode('before_pause = 11');
    assert.equal(await sbx.pause(), true);
    await assert.rejects(sbx.runCode('1', { requestTimeoutMs: QUICK_MS }), TimeoutError);
    await assert.rejects(sbx.listCodeContexts(), TimeoutError);
    const resumed = await Sandbox.connect(sbx.sandboxId);
    assert.equal((await resumed.runCode('before_pause')).text, '11');
  });

  it('reports a killed sandbox as the timeout error E2B gives', { timeout: 60_000 }, async () => {
    const other = await Sandbox.connect(sbx.sandboxId);
    await other.kill();
    await assert.rejects(sbx.runCode('1', { requestTimeoutMs: QUICK_MS }), TimeoutError);
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CodeEvent, PaddockError, RunCodeRequest } from '@paddock/protocol';
import { CodeClient } from '../../packages/server/src/agent-client/code-client.js';
import { type AgentFixture, startAgent, waitFor } from './fixture.js';

// The agent on the host: JavaScript (the agent's own Node) and bash kernels need nothing
// else; the Python kernel needs ipykernel and is covered by test/e2e/code-interpreter.test.ts.
let agent: AgentFixture;
let code: CodeClient;

before(async () => {
  agent = await startAgent();
  code = new CodeClient(agent.client);
});
after(async () => agent.stop());

async function run(request: RunCodeRequest): Promise<CodeEvent[]> {
  const signal = new AbortController().signal;
  const events: CodeEvent[] = [];
  for await (const event of code.events(await code.start(request, signal), signal)) events.push(event);
  return events;
}

describe('agent code routes', () => {
  it('runs JavaScript cells with persisted bindings and top-level await', async () => {
    await run({ code: 'const a = 41; let g = (n) => n + 1', language: 'javascript' });
    const events = await run({ code: 'console.log("hi"); await Promise.resolve(g(a))', language: 'javascript' });
    assert.deepEqual(
      events.map((e) => e.type),
      ['start', 'stdout', 'result', 'end'],
    );
    const result = events.find((e) => e.type === 'result');
    assert.equal(result?.type === 'result' && result.result.text, '42');
    const timedOut = await run({ code: 'while (true) {}', language: 'javascript', timeoutMs: 300 });
    assert.equal(timedOut.at(-1)?.type === 'end' && timedOut.at(-1)?.type, 'end');
    assert.equal((await run({ code: 'a', language: 'javascript' }))[1]?.type, 'result', 'state survives a timeout');
  });

  it('runs bash cells in one persistent shell', async () => {
    await run({ code: 'cd /tmp; X=5', language: 'bash' });
    const events = await run({
      code: 'echo "$X $(pwd)"; echo err >&2; exit_code_test() { return 3; }; exit_code_test',
      language: 'bash',
    });
    const out = events.filter((e) => e.type === 'stdout').map((e) => (e.type === 'stdout' ? e.text : ''));
    assert.equal(out.join(''), '5 /tmp\n');
    assert.ok(events.some((e) => e.type === 'exception' && e.error.value === 'exit status 3'));
    const quoted = await run({ code: "echo 'it'\\''s' \"a\\tb\"\nprintf 'x\\n'", language: 'bash' });
    assert.equal(
      quoted
        .filter((e) => e.type === 'stdout')
        .map((e) => (e.type === 'stdout' ? e.text : ''))
        .join(''),
      "it's a\\tb\nx\n",
    );
    const died = await run({ code: 'exit 4', language: 'bash' });
    assert.ok(died.some((e) => e.type === 'exception' && e.error.name === 'KernelDied'));
    assert.equal((await run({ code: 'echo back', language: 'bash' }))[1]?.type, 'stdout');
  });

  it('rejects unknown contexts and languages before streaming', async () => {
    const signal = new AbortController().signal;
    await assert.rejects(
      code.start({ code: '1', contextId: 'nope' }, signal),
      (e: PaddockError) => e.code === 'NOT_FOUND',
    );
    await assert.rejects(
      code.start({ code: '1', language: 'cobol' } as unknown as RunCodeRequest, signal),
      (e: PaddockError) => e.code === 'INVALID_ARGUMENT',
    );
    const ctx = await code.createContext({ language: 'javascript' });
    assert.equal(
      (await code.listContexts()).contexts.some((c) => c.id === ctx.id),
      true,
    );
    await code.removeContext(ctx.id);
  });
});

describe("agent code runs: the run's env", () => {
  // Its own agent, whose template env prewarms the JavaScript kernel as a code template does.
  let warm: AgentFixture;
  let client: CodeClient;
  before(async () => {
    warm = await startAgent({ env: { PADDOCK_KERNEL_PREWARM: 'javascript' } });
    client = new CodeClient(warm.client);
  });
  after(async () => warm?.stop());

  async function value(request: RunCodeRequest): Promise<string | undefined> {
    const signal = new AbortController().signal;
    let text: string | undefined;
    for await (const event of client.events(await client.start(request, signal), signal)) {
      if (event.type === 'result') text = event.result.text;
      if (event.type === 'exception') throw new Error(`${event.error.name}: ${event.error.value}`);
    }
    return text;
  }
  const startEnv = "require('fs').readFileSync('/proc/self/environ', 'utf8').split('\\0')";

  it('restarts a prewarmed kernel that has run nothing for a variable read at start', async () => {
    await waitFor('the prewarmed kernel', async () =>
      (await client.listContexts()).contexts.some((c) => c.id === 'javascript' && c.running),
    );
    const env = { NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem', SANDBOX_VAR: 'from create' };
    const seen = await value({
      code: `${startEnv}.filter((v) => /^(NODE_EXTRA|SANDBOX_VAR)/.test(v)).sort().join(' ')`,
      language: 'javascript',
      env,
    });
    assert.equal(seen, "'NODE_EXTRA_CA_CERTS=/nonexistent/ca.pem SANDBOX_VAR=from create'");
  });

  it('sets a changed environment in a used kernel without losing its state, and resets per-run variables', async () => {
    const sandboxEnv = { SANDBOX_VAR: 'from create' };
    await value({ code: 'globalThis.kept = 41', language: 'javascript', env: sandboxEnv });
    assert.equal(
      await value({
        code: 'kept + 1 + process.env.RUN_VAR + process.env.FROM_CONFIG',
        language: 'javascript',
        env: { ...sandboxEnv, RUN_VAR: '!', FROM_CONFIG: 'over' },
      }),
      "'42!over'",
    );
    // The next run without them: RUN_VAR is gone, FROM_CONFIG is the template's again.
    assert.equal(
      await value({
        code: '[kept, process.env.RUN_VAR, process.env.FROM_CONFIG, process.env.SANDBOX_VAR].join()',
        language: 'javascript',
        env: sandboxEnv,
      }),
      "'41,,yes,from create'",
    );
    // A variable read at start reaches a used kernel's env without a restart (state kept).
    assert.equal(
      await value({
        code: 'kept + process.env.NODE_OPTIONS',
        language: 'javascript',
        env: { ...sandboxEnv, NODE_OPTIONS: '--no-warnings' },
      }),
      "'41--no-warnings'",
    );
  });

  it('a cell that does not parse leaves the environment to the next cell', async () => {
    const ctx = await client.createContext({ language: 'javascript' });
    await assert.rejects(value({ code: 'let = = 1', contextId: ctx.id, env: { LATER: 'x' } }), /SyntaxError/);
    assert.equal(await value({ code: 'process.env.LATER', contextId: ctx.id, env: { LATER: 'x' } }), "'x'");
    assert.equal(await value({ code: 'String(process.env.LATER)', contextId: ctx.id, env: {} }), "'undefined'");
    await client.removeContext(ctx.id);
  });

  it('bash: a started shell sees the sandbox env, and per-run variables are unset after', async () => {
    const signal = new AbortController().signal;
    const stdout = async (request: RunCodeRequest) => {
      let out = '';
      for await (const event of client.events(await client.start(request, signal), signal)) {
        if (event.type === 'stdout') out += event.text;
      }
      return out;
    };
    assert.equal(
      await stdout({
        code: 'echo "[$SANDBOX_VAR][$RUN_VAR]"',
        language: 'bash',
        env: { SANDBOX_VAR: 's', RUN_VAR: "it's" },
      }),
      "[s][it's]\n",
    );
    assert.equal(
      await stdout({ code: 'echo "[$SANDBOX_VAR][$RUN_VAR]"', language: 'bash', env: { SANDBOX_VAR: 's' } }),
      '[s][]\n',
    );
  });
});

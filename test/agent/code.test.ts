import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CodeEvent, PaddockError, RunCodeRequest } from '@paddock/protocol';
import { CodeClient } from '../../packages/server/src/agent-client/code-client.js';
import { type AgentFixture, startAgent } from './fixture.js';

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

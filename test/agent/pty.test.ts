import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PtyEvent } from '@paddock/protocol';
import { AgentPtyClient } from '../../packages/server/src/agent-client/index.js';
import { type AgentFixture, paddockError, processGone, startAgent, waitFor } from './fixture.js';

/** Follows one output stream in the background and keeps what it got, as the screen's text. */
class Screen {
  text = '';
  offsets: number[] = [];
  exit: Extract<PtyEvent, { type: 'exit' }> | undefined;
  readonly done: Promise<void>;
  private readonly controller = new AbortController();

  constructor(pty: AgentPtyClient, id: string, fromOffset?: number) {
    this.done = (async () => {
      for await (const event of pty.output(id, fromOffset, { signal: this.controller.signal })) {
        if (event.type === 'data') {
          this.offsets.push(event.offset);
          this.text += Buffer.from(event.data, 'base64').toString('utf8');
        } else if (event.type === 'exit') {
          this.exit = event;
        }
      }
    })().catch((err: unknown) => {
      if (!this.controller.signal.aborted) throw err;
    });
  }

  /** Waits until the screen shows `pattern` (output is the event; the wait is bounded). */
  async shows(pattern: RegExp | string, timeoutMs = 10_000): Promise<void> {
    const test = () => (typeof pattern === 'string' ? this.text.includes(pattern) : pattern.test(this.text));
    await waitFor(
      `the terminal to show ${pattern}; it shows ${JSON.stringify(this.text.slice(-300))}`,
      test,
      timeoutMs,
    );
  }

  detach(): void {
    this.controller.abort(new Error('detached'));
  }
}

/** An interactive bash without rc files, and its default prompt (bash ignores an inherited PS1). */
const SHELL = { cmd: 'exec bash --norc --noprofile -i' };
const PROMPT = /bash-[\d.]+[$#] $/;

describe('agent pty', () => {
  let agent: AgentFixture;
  let pty: AgentPtyClient;
  const created: string[] = [];
  const create: AgentPtyClient['create'] = async (request, options) => {
    const session = await pty.create(request, options);
    created.push(session.id);
    return session;
  };

  before(async () => {
    agent = await startAgent();
    pty = new AgentPtyClient(agent.client);
  });
  after(async () => {
    for (const id of created) await pty?.kill(id).catch(() => {});
    await agent?.stop();
  });

  it('runs an interactive program driven by input, on a real terminal', async () => {
    const { id, pid } = await create({ cols: 80, rows: 24, cmd: 'tty; read x; echo got:$x; exit 4' });
    assert.ok(pid > 0);
    const screen = new Screen(pty, id);
    await screen.shows(/\/dev\/pts\/\d+/);
    await pty.input(id, Buffer.from('hello\r'));
    await screen.done;
    // The terminal echoes the typed line and turns \n into \r\n, as a real one does.
    assert.match(screen.text, /hello\r\ngot:hello\r\n/);
    assert.deepEqual(screen.exit, { type: 'exit', exitCode: 4 });
    const listed = (await pty.list()).sessions.find((s) => s.id === id);
    assert.equal(listed?.exitCode, 4);
  });

  it('gives the shell job control and TERM=xterm-256color; kill ends the whole session', async () => {
    const { id } = await create({ cols: 80, rows: 24, ...SHELL });
    const screen = new Screen(pty, id);
    await screen.shows(PROMPT);
    await pty.input(id, Buffer.from('echo term=$TERM; sleep 100 & echo bg=$!; jobs\r'));
    await screen.shows(/\[1\]\+\s+Running\s+sleep 100 &/);
    assert.match(screen.text, /term=xterm-256color/);
    const sleepPid = Number(/bg=(\d+)/.exec(screen.text)?.[1]);
    assert.ok(sleepPid > 0);
    await pty.kill(id);
    await screen.done;
    assert.equal(screen.exit?.signal, 'SIGKILL');
    assert.equal(screen.exit?.exitCode, 137);
    // The background job had its own process group; it went with the session.
    await waitFor('the background sleep to be killed', () => processGone(sleepPid));
  });

  it('passes colors through as raw escape sequences', async () => {
    const { id } = await create({ cols: 80, rows: 24, cmd: "printf '\\033[31mred\\033[0m\\n'; tput colors" });
    const screen = new Screen(pty, id);
    await screen.done;
    assert.ok(screen.text.includes('\x1b[31mred\x1b[0m'), JSON.stringify(screen.text));
    assert.match(screen.text, /256/);
  });

  it('resizes: the program sees the new size (SIGWINCH, tput cols)', async () => {
    const { id } = await create({ cols: 80, rows: 24, ...SHELL });
    const screen = new Screen(pty, id);
    await screen.shows(PROMPT);
    await pty.input(id, Buffer.from("trap 'echo winch' WINCH; echo cols=$(tput cols)\r"));
    await screen.shows('cols=80');
    await pty.resize(id, { cols: 123, rows: 40 });
    await pty.input(id, Buffer.from('echo size=$(tput cols)x$(tput lines)\r'));
    await screen.shows('size=123x40');
    await screen.shows('winch');
    const listed = (await pty.list()).sessions.find((s) => s.id === id);
    assert.deepEqual([listed?.cols, listed?.rows], [123, 40]);
    await pty.kill(id);
    await screen.done;
  });

  it('replays the recent screen to a client that reconnects, then follows', async () => {
    const { id } = await create({ cols: 80, rows: 24, ...SHELL });
    const first = new Screen(pty, id);
    await first.shows(PROMPT);
    await pty.input(id, Buffer.from('echo before-$((6*7))\r'));
    await first.shows('before-42');
    first.detach();
    await first.done;
    // Detaching kept the session: a new client gets the earlier output first, then new output.
    const again = new Screen(pty, id);
    await again.shows('before-42');
    assert.equal(again.offsets[0], 0);
    await pty.input(id, Buffer.from('echo after-$((7*7))\r'));
    await again.shows('after-49');
    // fromOffset resumes exactly where a client stopped.
    const end = (await pty.list()).sessions.find((s) => s.id === id)?.outputBytes ?? 0;
    const tail = new Screen(pty, id, end);
    await pty.input(id, Buffer.from('echo tail-1\r'));
    await tail.shows('tail-1');
    assert.ok(!tail.text.includes('before-42'));
    await pty.kill(id);
    await Promise.all([again.done, tail.done]);
  });

  it('runs as the requested user, without the agent’s groups', async () => {
    const { id } = await create({ cols: 80, rows: 24, user: 'nobody', cmd: 'id -u; id -G; stat -c %U $(tty)' });
    const screen = new Screen(pty, id);
    await screen.done;
    assert.match(screen.text, /^65534\r\n65534\r\nnobody\r\n/);
  });

  it('refuses bad sizes naming the field', async () => {
    for (const [size, field] of [
      [{ cols: 0, rows: 24 }, 'cols'],
      [{ cols: 80, rows: 5000 }, 'rows'],
      [{ cols: 80.5, rows: 24 }, 'cols'],
    ] as const) {
      const err = await paddockError(() => pty.create(size));
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, new RegExp(`\`${field}\``));
    }
    const { id } = await create({ cols: 80, rows: 24, ...SHELL });
    const err = await paddockError(() => pty.resize(id, { cols: 80, rows: 0 }));
    assert.equal(err.code, 'INVALID_ARGUMENT');
    assert.match(err.message, /`rows`/);
    const offset = await paddockError(() => pty.output(id, 1_000_000).next());
    assert.equal(offset.code, 'INVALID_ARGUMENT');
    assert.match(offset.message, /`fromOffset`/);
    await pty.kill(id);
  });

  it('answers NOT_FOUND for an unknown session and CONFLICT for input to an exited one', async () => {
    for (const call of [
      () => pty.input('nosuchpty', Buffer.from('x')),
      () => pty.resize('nosuchpty', { cols: 10, rows: 10 }),
      () => pty.kill('nosuchpty'),
      () => pty.output('nosuchpty').next(),
    ]) {
      assert.equal((await paddockError(call)).code, 'NOT_FOUND');
    }
    const { id } = await create({ cols: 80, rows: 24, cmd: 'exit 0' });
    await new Screen(pty, id).done;
    const err = await paddockError(() => pty.input(id, Buffer.from('ls\r')));
    assert.equal(err.code, 'CONFLICT');
    assert.match(err.message, /exited with code 0/);
    // Killing an exited session is fine.
    await pty.kill(id);
  });
});

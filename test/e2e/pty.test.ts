import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  type PtyCreateOptions,
  type PtyHandle,
  type Sandbox,
} from '@paddock/sdk';
import { useTestServer, waitFor } from '../support/server.js';

const fixture = useTestServer();

/** The text a terminal has shown so far, and a bounded wait for what it should show. */
class Screen {
  text = '';
  readonly onData = (data: Uint8Array) => {
    this.text += Buffer.from(data).toString('utf8');
  };

  async shows(pattern: RegExp | string, timeoutMs = 15_000): Promise<void> {
    const test = () => (typeof pattern === 'string' ? this.text.includes(pattern) : pattern.test(this.text));
    await waitFor(
      `the terminal to show ${pattern}; it shows ${JSON.stringify(this.text.slice(-400))}`,
      async () => (test() ? true : undefined),
      timeoutMs,
    );
  }
}

async function open(sbx: Sandbox, opts: Omit<PtyCreateOptions, 'onData'>): Promise<[PtyHandle, Screen]> {
  const screen = new Screen();
  const term = await sbx.pty.create({ ...opts, onData: screen.onData });
  return [term, screen];
}

/** The default prompt of the template user's login shell ends in `$ `. */
const PROMPT = /\$ $/;

for (const isolation of ['container', 'gvisor'] as const) {
  describe(`terminals through the TypeScript SDK (${isolation})`, () => {
    let sbx: Sandbox;
    before(async () => {
      sbx = await fixture.sandbox({ isolation, timeoutMs: 900_000 });
    });

    it('runs the login shell: input, job control, colors, exit code', async () => {
      const [term, screen] = await open(sbx, { cols: 120, rows: 40 });
      assert.ok(term.pid > 0);
      await screen.shows(PROMPT);
      // Typed once `read` runs: gVisor's terminal, unlike Linux's, does not turn a line typed
      // ahead while readline had it raw into a complete line when `read` makes it canonical.
      await term.sendInput('echo reading; read x; echo got:$x\r');
      await screen.shows('reading\r\n');
      await term.sendInput('hello\r');
      await screen.shows('got:hello');
      await term.sendInput('echo $TERM $(whoami) $(pwd); sleep 100 & jobs\r');
      await screen.shows('xterm-256color user /home/user');
      await screen.shows(/\[1\]\+\s+Running\s+sleep 100 &/);
      await term.sendInput("kill %1; printf '\\033[1;32mgreen\\033[0m\\n'\r");
      await screen.shows('\x1b[1;32mgreen\x1b[0m');
      await term.sendInput('exit 3\r');
      assert.equal(await term.wait(), 3);
    });

    it('resizes: tput cols shows the new width', async () => {
      const [term, screen] = await open(sbx, { cols: 120, rows: 40 });
      await screen.shows(PROMPT);
      await term.sendInput('echo cols=$(tput cols)\r');
      await screen.shows('cols=120');
      await term.resize({ cols: 80, rows: 24 });
      await term.sendInput('echo now=$(tput cols)x$(tput lines)\r');
      await screen.shows('now=80x24');
      await term.kill();
      assert.equal(await term.wait(), 137);
    });

    it('attaches at once to a program that prints nothing, and kills it', async () => {
      const [term, screen] = await open(sbx, { cols: 80, rows: 24, cmd: 'sleep 600' });
      const listed = (await sbx.pty.list()).find((s) => s.id === term.id);
      assert.equal(listed?.cmd, 'sleep 600');
      assert.equal(listed?.exitCode, undefined);
      await term.kill();
      assert.equal(await term.wait(), 137);
      assert.equal(screen.text, '');
    });

    it('runs full-screen programs (top)', async () => {
      const [term, screen] = await open(sbx, { cols: 100, rows: 30, cmd: 'top -d 0.5' });
      await screen.shows(/load average/);
      await term.sendInput('q');
      assert.equal(await term.wait(), 0);
    });

    it('reconnects: the recent screen first, then live output; list shows the session', async () => {
      const [term, screen] = await open(sbx, { cols: 80, rows: 24 });
      await screen.shows(PROMPT);
      await term.sendInput('echo marker-$((6*7))\r');
      await screen.shows('marker-42');
      term.disconnect();
      await assert.rejects(term.wait());
      const again = new Screen();
      const attached = await sbx.pty.connect(term.id, { onData: again.onData });
      assert.equal(attached.pid, term.pid);
      await again.shows('marker-42');
      await attached.sendInput('echo live-$((7*7))\r');
      await again.shows('live-49');
      const listed = (await sbx.pty.list()).find((s) => s.id === term.id);
      assert.equal(listed?.cols, 80);
      assert.equal(listed?.exitCode, undefined);
      await attached.kill();
      assert.equal(await attached.wait(), 137);
      await assert.rejects(attached.sendInput('ls\r'), ConflictError);
    });
  });
}

describe('terminal errors', () => {
  let sbx: Sandbox;
  before(async () => {
    sbx = await fixture.sandbox({ timeoutMs: 900_000 });
  });

  it('refuses bad sizes naming the field', async () => {
    const noop = () => {};
    await assert.rejects(sbx.pty.create({ cols: 0, rows: 24, onData: noop }), (err: Error) => {
      assert.ok(err instanceof InvalidArgumentError);
      assert.match(err.message, /`cols`/);
      return true;
    });
    await assert.rejects(sbx.pty.create({ cols: 80, rows: 100_000, onData: noop }), /`rows`/);
    const term = await sbx.pty.create({ cols: 80, rows: 24, onData: noop });
    await assert.rejects(term.resize({ cols: 1001, rows: 24 }), InvalidArgumentError);
    await assert.rejects(term.resize({ cols: 10.5, rows: 24 }), /`cols`/);
    await term.kill();
  });

  it('answers NotFoundError for an unknown session or sandbox', async () => {
    await assert.rejects(sbx.pty.connect('nosuchsession', { onData: () => {} }), NotFoundError);
    await assert.rejects(sbx.pty.sendInput('nosuchsession', 'x'), NotFoundError);
    await assert.rejects(sbx.pty.resize('nosuchsession', { cols: 10, rows: 10 }), NotFoundError);
    await assert.rejects(sbx.pty.kill('nosuchsession'), NotFoundError);
    const res = await fetch(`${fixture.conn.apiUrl}/v1/sandboxes/${'z'.repeat(20)}/pty`, {
      headers: { authorization: `Bearer ${fixture.conn.apiKey}` },
    });
    assert.equal(res.status, 404);
  });

  it('refuses a bad body, an unknown field and a bad fromOffset', async () => {
    const headers = { authorization: `Bearer ${fixture.conn.apiKey}`, 'content-type': 'application/json' };
    const base = `${fixture.conn.apiUrl}/v1/sandboxes/${sbx.id}/pty`;
    const unknown = await fetch(base, { method: 'POST', headers, body: JSON.stringify({ cols: 80, rows: 24, x: 1 }) });
    assert.equal(unknown.status, 400);
    assert.match(((await unknown.json()) as { message: string }).message, /`x`/);
    const missing = await fetch(base, { method: 'POST', headers, body: '{}' });
    assert.equal(missing.status, 400);
    const term = await sbx.pty.create({ cols: 80, rows: 24, onData: () => {} });
    const badOffset = await fetch(`${base}/${term.id}/output?fromOffset=-1`, { headers });
    assert.equal(badOffset.status, 400);
    const jsonInput = await fetch(`${base}/${term.id}/input`, { method: 'POST', headers, body: '{"data":"x"}' });
    assert.equal(jsonInput.status, 400);
    await term.kill();
  });
});

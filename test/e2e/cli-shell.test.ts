import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Sandbox } from '@paddock/sdk';
import type { RunningServer } from '@paddock/server';
import { CLI } from '../support/cli.js';
import { startTestServer, type TestConnection, waitFor } from '../support/server.js';

const run = promisify(execFile);

/**
 * `paddock shell` run the way a person runs it: in a real terminal (a tmux pane, on its own
 * tmux server socket), typed into with send-keys and read with capture-pane.
 */
class TmuxPane {
  private readonly socket = `paddock-test-${process.pid}`;

  async start(command: string, size: { cols: number; rows: number }): Promise<void> {
    await this.tmux('new-session', '-d', '-s', 'shell', '-x', String(size.cols), '-y', String(size.rows), command);
  }

  async type(...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', 'shell', ...keys);
  }

  async resize(size: { cols: number; rows: number }): Promise<void> {
    await this.tmux('resize-window', '-t', 'shell', '-x', String(size.cols), '-y', String(size.rows));
  }

  async screen(): Promise<string> {
    return (await this.tmux('capture-pane', '-p', '-t', 'shell')).stdout;
  }

  async shows(pattern: RegExp): Promise<void> {
    let last = '';
    await waitFor(
      `the pane to show ${pattern}`,
      async () => {
        last = await this.screen().catch(() => last);
        return pattern.test(last) ? true : undefined;
      },
      20_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; it shows:\n${last}`);
    });
  }

  /** Ends this test's tmux server (and what still runs in it); absent is fine. */
  async close(): Promise<void> {
    await this.tmux('kill-server').catch(() => {});
  }

  private tmux(...args: string[]): Promise<{ stdout: string }> {
    return run('tmux', ['-L', this.socket, '-f', '/dev/null', ...args]);
  }
}

let server: RunningServer;
let conn: TestConnection;
let sbx: Sandbox;
let work: string;
const pane = new TmuxPane();

before(async () => {
  ({ server, conn } = await startTestServer());
  sbx = await Sandbox.create({ ...conn, timeoutMs: 900_000 });
  work = await mkdtemp(join(tmpdir(), 'paddock-shell-'));
});

after(async () => {
  await pane.close();
  await sbx?.kill();
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('paddock shell', () => {
  it('is an interactive terminal: keys in, screen out, resize, exit status, terminal restored', async () => {
    const status = join(work, 'status');
    const stty = join(work, 'stty');
    const env = `PADDOCK_URL=${conn.apiUrl} PADDOCK_API_KEY=${conn.apiKey}`;
    // After the CLI exits, the local terminal's mode is recorded: it must be cooked again.
    // The status file is written last, so that once it exists the mode is complete.
    await pane.start(
      `env ${env} ${process.execPath} ${CLI} shell ${sbx.id}; rc=$?; stty -a > ${stty}; echo $rc > ${status}; sleep 600`,
      { cols: 100, rows: 30 },
    );
    await pane.shows(/^user@\S+:~\$/m);
    await pane.type('echo hi-$((6*7)) $TERM', 'Enter');
    await pane.shows(/^hi-42 xterm-256color$/m);

    await pane.type('tput cols', 'Enter');
    await pane.shows(/^100$/m);
    await pane.resize({ cols: 73, rows: 20 });
    await pane.type('clear; tput cols', 'Enter');
    await pane.shows(/^73$/m);

    // Ctrl-C reaches the program in the sandbox, not the CLI.
    await pane.type('echo sleeping; sleep 100', 'Enter');
    await pane.shows(/^sleeping$/m);
    await pane.type('C-c');
    await pane.type('echo after-ctrl-c', 'Enter');
    await pane.shows(/^after-ctrl-c$/m);

    await pane.type('exit 3', 'Enter');
    await waitFor('the CLI to exit', async () => ((await readFile(status, 'utf8').catch(() => '')) ? true : undefined));
    assert.equal((await readFile(status, 'utf8')).trim(), '3');
    const mode = await readFile(stty, 'utf8');
    assert.match(mode, /(^|\s)icanon(\s|$)/);
    assert.match(mode, /(^|\s)echo(\s|$)/);
  });
});

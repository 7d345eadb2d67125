import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { CODE_LIMITS } from '@paddock/protocol';
import type { CommandPlan } from '../command-plan.js';
import { spawnInWorkload } from '../workload-cgroup.js';
import { type Cell, type CellEnd, describeExit, type Kernel, kernelDiedEvent } from './kernel.js';
import { signalGroup } from './line-kernel.js';

/**
 * A persistent bash: variables, functions and the working directory survive between cells.
 * Each cell is sent as one `eval` of an ANSI-C quoted string (so an unfinished quote in
 * the cell cannot swallow what follows), with stdin from /dev/null, then a marker line
 * with a random token and the exit status on stdout and a marker on stderr: the cell is
 * over when both markers arrived. SIGINT (a timeout) goes to the whole process group;
 * bash itself traps it and carries on to the markers.
 */
export class BashKernel implements Kernel {
  readonly language = 'bash' as const;
  private child: ChildProcess | undefined;
  private exited = false;
  private executionCount = 0;
  private running: { cell: Cell; finish: (end: CellEnd) => void; out: MarkerScanner; err: MarkerScanner } | undefined;
  private sentBytes = 0;
  private truncated = false;

  constructor(private readonly plan: CommandPlan) {}

  get alive(): boolean {
    return this.child !== undefined && !this.exited;
  }

  async start(): Promise<void> {
    const { plan } = this;
    const child = spawnInWorkload(() =>
      spawn(plan.file, plan.args, {
        cwd: plan.cwd,
        env: plan.env,
        detached: true,
        stdio: 'pipe',
        ...(plan.uid === undefined ? {} : { uid: plan.uid }),
        ...(plan.gid === undefined ? {} : { gid: plan.gid }),
      }),
    );
    this.child = child;
    child.on('error', () => this.onExit(null, null));
    child.once('exit', (code, signal) => this.onExit(code, signal));
    child.stdin.on('error', () => {});
    const out = new StringDecoder('utf8');
    const err = new StringDecoder('utf8');
    child.stdout.on('data', (chunk: Buffer) => this.running?.out.push(out.write(chunk)));
    child.stderr.on('data', (chunk: Buffer) => this.running?.err.push(err.write(chunk)));
    child.stdin.write("trap 'true' INT\n");
  }

  execute(cell: Cell): Promise<CellEnd> {
    if (!this.alive) {
      cell.emit(kernelDiedEvent('bash', 'not running'));
      return Promise.resolve({ type: 'end', executionCount: null });
    }
    const token = `__paddock_${randomBytes(12).toString('hex')}__`;
    this.executionCount += 1;
    this.sentBytes = 0;
    this.truncated = false;
    return new Promise((resolve) => {
      let exitCode: number | undefined;
      let errDone = false;
      const maybeFinish = () => {
        if (exitCode === undefined || !errDone) return;
        this.running = undefined;
        if (exitCode !== 0) {
          cell.emit({
            type: 'exception',
            error: { name: 'ExitCodeError', value: `exit status ${exitCode}`, traceback: '' },
          });
        }
        resolve({
          type: 'end',
          executionCount: this.executionCount,
          ...(this.truncated ? { truncated: true } : {}),
        });
      };
      this.running = {
        cell,
        finish: resolve,
        out: new MarkerScanner(
          token,
          (text) => this.output(cell, 'stdout', text),
          (rest) => {
            exitCode = Number.parseInt(rest, 10);
            maybeFinish();
          },
        ),
        err: new MarkerScanner(
          token,
          (text) => this.output(cell, 'stderr', text),
          () => {
            errDone = true;
            maybeFinish();
          },
        ),
      };
      const line = `eval ${ansiQuote(cell.code)} </dev/null; printf '%s%d\\n' ${token} $?; printf '%s\\n' ${token} >&2\n`;
      this.child?.stdin?.write(line);
    });
  }

  interrupt(): void {
    if (this.child?.pid !== undefined && !this.exited) signalGroup(this.child.pid, 'SIGINT');
  }

  kill(): void {
    if (this.child?.pid !== undefined && !this.exited) signalGroup(this.child.pid, 'SIGKILL');
  }

  private output(cell: Cell, type: 'stdout' | 'stderr', text: string): void {
    if (this.truncated || text === '') return;
    const cap = CODE_LIMITS.outputBytes;
    if (this.sentBytes + text.length > cap) {
      this.truncated = true;
      cell.emit({ type, text: text.slice(0, Math.max(0, cap - this.sentBytes)) });
      cell.emit({ type: 'stderr', text: `\n[paddock: output truncated after ${cap} characters]\n` });
      return;
    }
    this.sentBytes += text.length;
    cell.emit({ type, text });
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    const running = this.running;
    this.running = undefined;
    if (running) {
      running.cell.emit(kernelDiedEvent('bash', describeExit(code, signal)));
      running.finish({ type: 'end', executionCount: null });
    }
  }
}

/**
 * Passes text through until `token` appears, then hands what follows it on the same line
 * to `onMarker`. Holds back a tail that could be the start of the token.
 */
class MarkerScanner {
  private pending = '';
  private found = false;

  constructor(
    private readonly token: string,
    private readonly onText: (text: string) => void,
    private readonly onMarker: (rest: string) => void,
  ) {}

  push(text: string): void {
    if (this.found) return;
    this.pending += text;
    const at = this.pending.indexOf(this.token);
    if (at < 0) {
      const safe = Math.max(0, this.pending.length - this.token.length);
      if (safe > 0) {
        this.onText(this.pending.slice(0, safe));
        this.pending = this.pending.slice(safe);
      }
      return;
    }
    const after = this.pending.slice(at + this.token.length);
    const newline = after.indexOf('\n');
    if (newline < 0) return;
    this.found = true;
    if (at > 0) this.onText(this.pending.slice(0, at));
    this.pending = '';
    this.onMarker(after.slice(0, newline));
  }
}

/** `$'…'`: bash's ANSI-C quoting, which can carry any text (but NUL) as one word. */
function ansiQuote(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what gets escaped.
  const escaped = text.replace(/[\\'\x00-\x1f\x7f]/g, (ch) => {
    if (ch === '\\') return '\\\\';
    if (ch === "'") return "\\'";
    return `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
  return `$'${escaped}'`;
}

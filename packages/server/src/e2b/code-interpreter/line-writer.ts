import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { E2bExecutionLine } from './execution-lines.js';

/** E2B's template sends a keepalive line after this long without output. */
export const KEEPALIVE_MS = 5_000;

/**
 * Writes the NDJSON lines of one `/execute` answer, waiting when the client reads slowly,
 * and a `{"type":"keepalive"}` line whenever a cell is silent for {@link KEEPALIVE_MS}: like
 * E2B's own server, so that proxies with idle timeouts keep a long silent cell's stream open
 * and a vanished client is noticed. The SDKs skip the line.
 */
export class ExecutionLineWriter {
  private lastWriteMs = Date.now();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly res: ServerResponse,
    private readonly signal: AbortSignal,
  ) {
    this.timer = setInterval(() => {
      if (Date.now() - this.lastWriteMs < KEEPALIVE_MS || this.res.writableEnded) return;
      this.lastWriteMs = Date.now();
      this.res.write('{"type":"keepalive"}\n');
    }, KEEPALIVE_MS / 5);
    this.timer.unref();
  }

  async write(line: E2bExecutionLine): Promise<void> {
    this.lastWriteMs = Date.now();
    if (!this.res.write(`${JSON.stringify(line)}\n`)) await once(this.res, 'drain', { signal: this.signal });
  }

  /** Stops the keepalives (always call it; the answer may end by an error). */
  stop(): void {
    clearInterval(this.timer);
  }

  end(): void {
    this.stop();
    if (!this.res.writableEnded) this.res.end();
  }
}

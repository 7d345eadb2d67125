import { PaddockError } from '@paddock/protocol';

/** One open stream as a stop sees it: told to end, it writes its last event and ends. */
interface OpenStream {
  end(reason: PaddockError): void;
}

/**
 * The NDJSON streams a server has open (command and process output, watches, code runs,
 * builds). They have no natural end while what they follow runs, so a graceful stop gives
 * them a short drain to end by themselves, then ends the rest with a resumable error event:
 * UNAVAILABLE (retryable), naming the offset to follow again from where there is one.
 */
export class OpenStreams {
  private readonly open = new Set<OpenStream>();
  private readonly emptied = new Set<() => void>();
  private stopping: PaddockError | undefined;

  /** Registers a stream; returns its release, called once it ended by any path. */
  add(stream: OpenStream): () => void {
    if (this.stopping) stream.end(this.stopping);
    this.open.add(stream);
    return () => {
      this.open.delete(stream);
      if (this.open.size === 0) for (const resolve of this.emptied) resolve();
    };
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * Waits up to `drainMs` for the open streams to end by themselves, then ends the rest
   * (streams opened meanwhile end at once) and waits up to `flushMs` for their last events
   * to be written. Never rejects.
   */
  async stop(options: { drainMs: number; flushMs: number }): Promise<void> {
    await this.emptyWithin(options.drainMs);
    this.stopping = new PaddockError(
      'UNAVAILABLE',
      'the server is stopping: this stream ended before what it follows did; sandboxes keep running, so reconnect once the server is back (follow a process again from the offset in details.fromOffset, watch again)',
      { reason: 'server_stopping' },
    );
    for (const stream of this.open) stream.end(this.stopping);
    await this.emptyWithin(options.flushMs);
  }

  private async emptyWithin(timeoutMs: number): Promise<void> {
    if (this.open.size === 0) return;
    let resolve: () => void = () => {};
    const emptied = new Promise<void>((r) => {
      resolve = r;
    });
    this.emptied.add(resolve);
    const timer = setTimeout(resolve, timeoutMs);
    try {
      await emptied;
    } finally {
      clearTimeout(timer);
      this.emptied.delete(resolve);
    }
  }
}

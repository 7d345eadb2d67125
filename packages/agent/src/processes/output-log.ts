/**
 * A bounded log of a process's output with byte offsets, read by any number of readers.
 *
 * Offsets: every byte appended gets the next offset of one sequence shared by all
 * streams (0, 1, 2, … across stdout and stderr interleaved as they arrived), so one number
 * says where a reader is. Only the newest `capacityBytes` are kept; a reader asking for an
 * offset that was dropped gets a `truncated` entry naming the gap, then the retained data.
 *
 * Readers never slow the writer down (a process's pipes are drained at the rate it writes):
 * the log holds no per-reader queue, each reader keeps its own offset and pulls from the
 * log, so a slow reader loses the oldest data (and is told so) instead of holding memory.
 *
 * Used by the process table (`stdout`/`stderr`) and PTY sessions (one stream).
 */

/** A run of bytes of one stream; `offset` is the offset of its first byte. */
export interface OutputChunk<S extends string> {
  type: 'data';
  stream: S;
  offset: number;
  data: Buffer;
}

/** The bytes `[fromOffset, toOffset)` were dropped before this reader got them. */
export interface OutputGap {
  type: 'truncated';
  fromOffset: number;
  toOffset: number;
}

export type OutputEntry<S extends string> = OutputChunk<S> | OutputGap;

export interface OutputLogOptions {
  /** How many of the newest bytes are kept (across all streams). */
  capacityBytes: number;
}

/** Default retained output per process. */
export const DEFAULT_OUTPUT_CAPACITY_BYTES = 4 * 1024 * 1024;

export class OutputLog<S extends string = 'stdout' | 'stderr'> {
  readonly capacityBytes: number;
  // chunks[head…] are retained, oldest first; the array is compacted now and then
  // rather than shifted on every drop.
  private chunks: OutputChunk<S>[] = [];
  private head = 0;
  private retainedBytes = 0;
  private end = 0;
  private isClosed = false;
  private waiters = new Set<() => void>();

  constructor(options: OutputLogOptions) {
    if (!Number.isInteger(options.capacityBytes) || options.capacityBytes < 1) {
      throw new RangeError(`capacityBytes must be a positive integer, got ${options.capacityBytes}`);
    }
    this.capacityBytes = options.capacityBytes;
  }

  /** Offset of the oldest retained byte (equals `endOffset` when nothing is retained). */
  get startOffset(): number {
    return this.end - this.retainedBytes;
  }

  /** Offset the next appended byte gets: the total number of bytes ever appended. */
  get endOffset(): number {
    return this.end;
  }

  /** True once `close()` was called: no more data will come. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Adds `data` (kept by reference: do not modify it afterwards) and returns the offset of
   * its first byte. Drops the oldest bytes beyond the capacity.
   */
  append(stream: S, data: Buffer): number {
    if (this.isClosed) throw new Error('cannot append to a closed output log');
    const offset = this.end;
    if (data.length === 0) return offset;
    // A chunk larger than the whole capacity keeps only its tail.
    const kept = data.length > this.capacityBytes ? data.subarray(data.length - this.capacityBytes) : data;
    this.chunks.push({ type: 'data', stream, offset: offset + data.length - kept.length, data: kept });
    this.end += data.length;
    this.retainedBytes += kept.length;
    this.dropOverflow();
    this.wake();
    return offset;
  }

  /**
   * Everything from `fromOffset` to the current end: a `truncated` entry first when
   * `fromOffset` is older than `startOffset`, then the data (the first chunk cut to start
   * exactly at `fromOffset`). Throws a RangeError when `fromOffset` is beyond `endOffset`.
   */
  read(fromOffset: number): OutputEntry<S>[] {
    if (!Number.isInteger(fromOffset) || fromOffset < 0 || fromOffset > this.end) {
      throw new RangeError(`fromOffset must be an integer from 0 to ${this.end}, got ${fromOffset}`);
    }
    const entries: OutputEntry<S>[] = [];
    let from = fromOffset;
    if (from < this.startOffset) {
      entries.push({ type: 'truncated', fromOffset: from, toOffset: this.startOffset });
      from = this.startOffset;
    }
    for (let i = this.firstChunkAt(from); i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!;
      if (chunk.offset >= from) entries.push(chunk);
      else entries.push({ ...chunk, offset: from, data: chunk.data.subarray(from - chunk.offset) });
    }
    return entries;
  }

  /**
   * Replays from `fromOffset`, then yields new entries as they are appended; ends after
   * `close()` once everything was yielded, or rejects with the signal's reason on abort.
   */
  async *follow(fromOffset: number, signal?: AbortSignal): AsyncGenerator<OutputEntry<S>, void, undefined> {
    let cursor = fromOffset;
    for (;;) {
      signal?.throwIfAborted();
      const entries = this.read(cursor);
      cursor = this.end;
      for (const entry of entries) yield entry;
      if (cursor === this.end) {
        if (this.isClosed) return;
        await this.changed(signal);
      }
    }
  }

  /** Resolves at the next append or close (rejects with the signal's reason on abort). */
  changed(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.isClosed) return resolve();
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        this.waiters.delete(wake);
        reject(signal?.reason);
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** No more data will be appended; followers end once they have read everything. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.wake();
  }

  private dropOverflow(): void {
    while (this.retainedBytes > this.capacityBytes) {
      const oldest = this.chunks[this.head]!;
      const excess = this.retainedBytes - this.capacityBytes;
      if (oldest.data.length <= excess) {
        this.head++;
        this.retainedBytes -= oldest.data.length;
      } else {
        this.chunks[this.head] = { ...oldest, offset: oldest.offset + excess, data: oldest.data.subarray(excess) };
        this.retainedBytes -= excess;
      }
    }
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  /** Index of the retained chunk holding `offset` (binary search; chunks are in order). */
  private firstChunkAt(offset: number): number {
    let low = this.head;
    let high = this.chunks.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const chunk = this.chunks[mid]!;
      if (chunk.offset + chunk.data.length <= offset) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }
}

import { Readable } from 'node:stream';
import { FileInfo, FileList } from '@paddock/protocol';
import { type Connection, checked, readAll } from './connection.js';
import { NotFoundError } from './errors.js';
import { counted, type ProgressCallback, sliced } from './progress.js';
import { startWatch, type WatchCallback, type WatchHandle, type WatchOptions } from './watch.js';

/** Common options of file calls. */
export interface FileOptions {
  /** User whose ownership new files get (and who reads); default `user`. */
  user?: string;
  signal?: AbortSignal;
  requestTimeoutMs?: number;
}

/** Options of transfers that can report progress (`read`, `write`). */
export interface TransferOptions {
  /** Called as bytes move: `{ bytes, totalBytes }` (`totalBytes` when the size is known). */
  onProgress?: ProgressCallback;
}

/** Data `write` accepts: text, bytes, or a stream (streamed, never held in memory). */
export type WriteData =
  | string
  | Uint8Array
  | ArrayBuffer
  | Readable
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>;

function toBody(data: WriteData): Uint8Array | Readable {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (data instanceof Readable) return data;
  if (typeof (data as ReadableStream).getReader === 'function') {
    return Readable.fromWeb(data as import('node:stream/web').ReadableStream<Uint8Array>);
  }
  return Readable.from(data as AsyncIterable<Uint8Array>);
}

/**
 * File operations inside a sandbox. They are done by the sandbox's agent, so paths and
 * symlinks resolve inside the sandbox, never on the host. Reach it as `sandbox.files`.
 */
export class Files {
  constructor(
    private readonly conn: Connection,
    private readonly sandboxId: string,
  ) {}

  private url(op: string, params: Record<string, string | number | undefined>): string {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) query.set(k, String(v));
    return `/v1/sandboxes/${this.sandboxId}/files${op}?${query.toString()}`;
  }

  /**
   * Reads a file: as text (default), bytes, or a Node stream for large files.
   *
   * @example
   * ```ts
   * const text = await sbx.files.read('/home/user/a.txt')
   * const stream = await sbx.files.read('/data/big.bin', { format: 'stream', onProgress: (p) => console.log(p.bytes) })
   * ```
   */
  read(path: string, opts?: FileOptions & TransferOptions & { format?: 'text' }): Promise<string>;
  read(path: string, opts: FileOptions & TransferOptions & { format: 'bytes' }): Promise<Uint8Array>;
  read(path: string, opts: FileOptions & TransferOptions & { format: 'stream' }): Promise<Readable>;
  async read(
    path: string,
    opts: FileOptions & TransferOptions & { format?: 'text' | 'bytes' | 'stream' } = {},
  ): Promise<string | Uint8Array | Readable> {
    const res = await this.conn.request('GET', this.url('', { path, user: opts.user }), {
      signal: opts.signal,
      requestTimeoutMs: opts.requestTimeoutMs,
    });
    const length = res.headers['content-length'];
    const body = opts.onProgress
      ? counted(res, length === undefined ? undefined : Number(length), opts.onProgress)
      : res;
    if (opts.format === 'stream') return body;
    const buf = await readAll(body);
    return opts.format === 'bytes' ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : buf.toString('utf8');
  }

  /**
   * Writes a file, creating parent directories. The content lands atomically: readers see
   * the old file or the whole new one, and an interrupted upload leaves no partial file.
   *
   * @example
   * ```ts
   * await sbx.files.write('/home/user/a.txt', 'hi')
   * await sbx.files.write('/data/big.bin', fs.createReadStream('big.bin'), {
   *   sizeBytes: fs.statSync('big.bin').size, // only for onProgress's totalBytes
   *   onProgress: ({ bytes, totalBytes }) => console.log(bytes, totalBytes),
   * })
   * ```
   */
  async write(
    path: string,
    data: WriteData,
    opts: FileOptions & TransferOptions & { mode?: number; sizeBytes?: number } = {},
  ): Promise<FileInfo> {
    const res = await this.conn.request('PUT', this.url('', { path, user: opts.user, mode: opts.mode }), {
      body: withProgress(toBody(data), opts),
      signal: opts.signal,
      // An upload's duration depends on its size: only the caller's signal limits it.
      requestTimeoutMs: opts.requestTimeoutMs ?? 0,
    });
    return checked((v) => FileInfo.safeParse(v), JSON.parse((await readAll(res)).toString('utf8')));
  }

  /** Entries of a directory (`depth` levels, default 1), sorted by path. */
  async list(path: string, opts: FileOptions & { depth?: number } = {}): Promise<FileInfo[]> {
    const body = await this.conn.json('GET', this.url('/list', { path, depth: opts.depth }), opts);
    return checked((v) => FileList.safeParse(v), body).entries;
  }

  /** Information about a path; a final symlink is reported, not followed. */
  async stat(path: string, opts: FileOptions = {}): Promise<FileInfo> {
    return checked((v) => FileInfo.safeParse(v), await this.conn.json('GET', this.url('/stat', { path }), opts));
  }

  /** True when the path exists (a dangling symlink exists too). */
  async exists(path: string, opts: FileOptions = {}): Promise<boolean> {
    try {
      await this.stat(path, opts);
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }

  /** Creates a directory and its parents; an existing directory is fine. */
  async mkdir(path: string, opts: FileOptions = {}): Promise<FileInfo> {
    const json = { path, ...(opts.user ? { user: opts.user } : {}) };
    return checked(
      (v) => FileInfo.safeParse(v),
      await this.conn.json('POST', this.url('/mkdir', {}), { ...opts, json }),
    );
  }

  /** Moves or renames a file or directory. */
  async rename(from: string, to: string, opts: FileOptions = {}): Promise<FileInfo> {
    const json = { from, to, ...(opts.user ? { user: opts.user } : {}) };
    return checked(
      (v) => FileInfo.safeParse(v),
      await this.conn.json('POST', this.url('/rename', {}), { ...opts, json }),
    );
  }

  /** Removes a file, or a directory with its contents. */
  async remove(path: string, opts: FileOptions = {}): Promise<void> {
    const json = { path, ...(opts.user ? { user: opts.user } : {}) };
    await this.conn.json('POST', this.url('/remove', {}), { ...opts, json });
  }

  /**
   * Watches a directory (recursively by default) and calls `onEvent` for each change:
   * `{ type: 'create' | 'write' | 'remove' | 'rename', path, oldPath?, fileType }`. Resolves
   * once the watch is set up; every later change is reported. Events may be coalesced, but
   * they always add up to the directory's current state. A missing directory throws
   * {@link NotFoundError}.
   *
   * @example
   * ```ts
   * const w = await sbx.files.watch('/home/user/app', (ev) => console.log(ev.type, ev.path), { filter: 'src' })
   * await w.stop()
   * ```
   */
  async watch(path: string, onEvent: WatchCallback, opts: WatchOptions = {}): Promise<WatchHandle> {
    const url = this.url('/watch', {
      path,
      recursive: opts.recursive === undefined ? undefined : String(opts.recursive),
      filter: opts.filter,
    });
    return startWatch(this.conn, url, onEvent, opts);
  }
}

/** The upload body, counted for `onProgress` when one is given. */
function withProgress(
  body: Uint8Array | Readable,
  opts: TransferOptions & { sizeBytes?: number },
): Uint8Array | Readable {
  if (opts.onProgress === undefined) return body;
  if (body instanceof Uint8Array) return counted(sliced(body), body.byteLength, opts.onProgress);
  return counted(body, opts.sizeBytes, opts.onProgress);
}

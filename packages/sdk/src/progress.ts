import { Readable, Transform } from 'node:stream';

/** How far a transfer is: bytes moved so far, and the total when it is known. */
export interface TransferProgress {
  bytes: number;
  totalBytes?: number;
}

/** Called as a transfer moves bytes (once per chunk, and once at the end). */
export type ProgressCallback = (progress: TransferProgress) => void;

/** Slices of an in-memory upload, so that its progress is reported as it is sent. */
const SLICE_BYTES = 1_048_576;

/**
 * `source` passed through unchanged, calling `onProgress` with the running count as each
 * chunk goes by. Errors of `source` are forwarded.
 */
export function counted(source: Readable, totalBytes: number | undefined, onProgress: ProgressCallback): Readable {
  let bytes = 0;
  const report = () => onProgress(totalBytes === undefined ? { bytes } : { bytes, totalBytes });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      report();
      callback(null, chunk);
    },
  });
  source.once('error', (err) => counter.destroy(err));
  counter.once('close', () => {
    if (!source.destroyed && !source.readableEnded) source.destroy();
  });
  return source.pipe(counter);
}

/** An in-memory body as a stream of slices (for progress reporting). */
export function sliced(data: Uint8Array): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < data.byteLength; offset += SLICE_BYTES) {
        yield data.subarray(offset, offset + SLICE_BYTES);
      }
    })(),
    { objectMode: false },
  );
}

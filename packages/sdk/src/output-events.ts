import { parseNdjson } from '@paddock/protocol';
import { errorFromBody } from './errors.js';

/** An output chunk as the SDK hands it out: text for convenience, the raw bytes, its offset. */
export interface OutputChunk {
  type: 'stdout' | 'stderr';
  data: string;
  bytes: Uint8Array;
  offset: number;
}

type WireChunk = { type: 'stdout' | 'stderr'; data: string; offset: number };
type WireError = { type: 'error'; error: { code: string; message: string } };

/**
 * Reads an NDJSON stream of process events (commands, background processes): parses each
 * line with `parse`, throws the typed error of an `error` event, and decodes output chunks
 * (UTF-8 across chunk boundaries); other events pass through unchanged.
 */
export async function* decodeOutputEvents<E extends { type: string }>(
  body: AsyncIterable<Uint8Array | string>,
  parse: (raw: unknown) => E,
): AsyncGenerator<Exclude<E, { type: 'stdout' | 'stderr' | 'error' }> | OutputChunk> {
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  for await (const raw of parseNdjson(body)) {
    const event = parse(raw);
    if (event.type === 'error') throw errorFromBody((event as unknown as WireError).error as never);
    if (event.type === 'stdout' || event.type === 'stderr') {
      const chunk = event as unknown as WireChunk;
      const bytes = Buffer.from(chunk.data, 'base64');
      yield {
        type: chunk.type,
        data: decoders[chunk.type].decode(bytes, { stream: true }),
        bytes,
        offset: chunk.offset,
      };
    } else {
      yield event as Exclude<E, { type: 'stdout' | 'stderr' | 'error' }>;
    }
  }
}

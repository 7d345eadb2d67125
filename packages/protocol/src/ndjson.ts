/**
 * Splits a byte stream into NDJSON values. The one streaming primitive of the wire:
 * commands, template builds and (later) watches all answer with newline-delimited JSON.
 */
export async function* parseNdjson(chunks: AsyncIterable<Uint8Array | string>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of chunks) {
    buffered += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line.length > 0) yield JSON.parse(line);
      newline = buffered.indexOf('\n');
    }
  }
  buffered += decoder.decode();
  if (buffered.trim().length > 0) yield JSON.parse(buffered);
}

/** One NDJSON line for `value`. */
export function ndjsonLine(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

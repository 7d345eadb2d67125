import type { IncomingMessage } from 'node:http';
import { PaddockError } from '@paddock/protocol';
import type { z } from 'zod';

/** Larger than the biggest valid `RunCommandRequest` we expect (64 MiB of base64 stdin + a command). */
const MAX_JSON_BYTES = 80 * 1_048_576;

/**
 * Parses `input` with `schema`; a failure becomes INVALID_ARGUMENT whose message names each
 * bad field, e.g. "`timeoutMs`: Too big: expected number to be <=86400000".
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ field: i.path.map(String).join('.'), message: i.message }));
  const message = issues.map((i) => (i.field === '' ? i.message : `\`${i.field}\`: ${i.message}`)).join('; ');
  const first = issues[0]?.field;
  throw new PaddockError('INVALID_ARGUMENT', message, first ? { field: first, issues } : { issues });
}

/** The query string as a plain object (first value of each key). */
export function queryOf(req: IncomingMessage): Record<string, string> {
  const url = new URL(req.url ?? '/', 'http://agent');
  const query: Record<string, string> = {};
  for (const [key, value] of url.searchParams) if (!(key in query)) query[key] = value;
  return query;
}

/** Reads a JSON body, bounded so that a runaway client cannot exhaust the agent's memory. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let sizeBytes = 0;
  // Not destroyed on an early return: the socket must stay up to carry the error answer.
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    sizeBytes += chunk.length;
    if (sizeBytes > MAX_JSON_BYTES) {
      throw new PaddockError('PAYLOAD_TOO_LARGE', `the request body is larger than ${MAX_JSON_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PaddockError('INVALID_ARGUMENT', `the request body is not valid JSON: ${(err as Error).message}`, {
      field: 'body',
    });
  }
}

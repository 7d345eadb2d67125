import type { IncomingMessage, ServerResponse } from 'node:http';
import { CODE_LIMITS, type PaddockError } from '@paddock/protocol';

/**
 * Error answers of the code interpreter, shaped as E2B's own server sends them: plain text
 * bodies (404 `Context … not found`, 400 …) and the edge's 502 JSON for a sandbox that is not
 * running. The message is also the HTTP reason phrase: the JS SDK shows only
 * `"<status> <statusText>"` for errors other than 404 and 502, so that is where it is read.
 */
export class E2bHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A reason phrase must be one line of visible ASCII. */
function reasonPhrase(message: string): string {
  const phrase = message.replace(/[^\x20-\x7e]+/g, ' ').slice(0, 200);
  return phrase.trim() === '' ? 'Error' : phrase;
}

export function sendText(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, reasonPhrase(message), {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(message),
  });
  res.end(message);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** E2B's edge answer for a sandbox that is gone (the SDKs turn 502 into `TimeoutError`). */
export function sendSandboxGone(res: ServerResponse, sandboxId: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify({ sandboxId, message, code: 502 });
  res.writeHead(502, reasonPhrase(message), {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** The whole code, plus room for the rest of the body. */
const MAX_BODY_BYTES = CODE_LIMITS.codeBytes + 1_048_576;

/** The request's JSON body (`{}` when empty); a body too large or not JSON is a 400 naming why. */
export async function readJson(req: IncomingMessage, signal: AbortSignal): Promise<unknown> {
  const chunks: Buffer[] = [];
  let sizeBytes = 0;
  for await (const chunk of req) {
    if (signal.aborted) throw signal.reason;
    sizeBytes += (chunk as Buffer).length;
    if (sizeBytes > MAX_BODY_BYTES) {
      throw new E2bHttpError(413, `request body is larger than ${MAX_BODY_BYTES} bytes: send less code`);
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new E2bHttpError(400, 'request body is not valid JSON');
  }
}

/** Our typed errors as the code interpreter's status codes (context-level errors only). */
export function e2bStatusOf(err: PaddockError): number {
  switch (err.code) {
    case 'NOT_FOUND':
      return 404;
    case 'INVALID_ARGUMENT':
    case 'PAYLOAD_TOO_LARGE':
      return 400;
    case 'SANDBOX_NOT_RUNNING':
    case 'SANDBOX_PAUSED':
      return 502;
    default:
      return Math.min(err.status, 500);
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ERROR_CODES, PaddockError } from '@paddock/protocol';

/** Connect protocol error codes (connectrpc.com/docs/protocol#error-codes). */
export type ConnectCode =
  | 'canceled'
  | 'unknown'
  | 'invalid_argument'
  | 'deadline_exceeded'
  | 'not_found'
  | 'already_exists'
  | 'permission_denied'
  | 'resource_exhausted'
  | 'failed_precondition'
  | 'aborted'
  | 'unimplemented'
  | 'internal'
  | 'unavailable'
  | 'unauthenticated';

const HTTP_STATUS: Record<ConnectCode, number> = {
  canceled: 499,
  unknown: 500,
  invalid_argument: 400,
  deadline_exceeded: 504,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  resource_exhausted: 429,
  failed_precondition: 400,
  aborted: 409,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  unauthenticated: 401,
};

/** An error as a Connect client must see it: a code name and a message. */
export class ConnectError extends Error {
  constructor(
    readonly code: ConnectCode,
    message: string,
  ) {
    super(message);
  }
}

const FROM_PADDOCK: Partial<Record<keyof typeof ERROR_CODES, ConnectCode>> = {
  INVALID_ARGUMENT: 'invalid_argument',
  UNAUTHENTICATED: 'unauthenticated',
  PERMISSION_DENIED: 'permission_denied',
  NOT_FOUND: 'not_found',
  CONFLICT: 'failed_precondition',
  SANDBOX_NOT_RUNNING: 'unavailable',
  SANDBOX_PAUSED: 'unavailable',
  NOT_A_DIRECTORY: 'invalid_argument',
  IS_A_DIRECTORY: 'invalid_argument',
  DISK_FULL: 'resource_exhausted',
  PAYLOAD_TOO_LARGE: 'resource_exhausted',
  TIMEOUT: 'deadline_exceeded',
  RESOURCE_EXHAUSTED: 'resource_exhausted',
  UNAVAILABLE: 'unavailable',
};

/** Any failure as a ConnectError: Paddock's codes mapped, unknown failures `internal` (not echoed). */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof PaddockError) return new ConnectError(FROM_PADDOCK[err.code] ?? 'internal', err.message);
  return new ConnectError('internal', 'internal error (see the server log)');
}

/** Envelope flags: 0 a message, 0x02 the end of the stream (0x01, compression, is never used). */
const END_STREAM = 0x02;

export function envelope(flags: number, json: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(json));
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Reads a whole request body (RPC requests are small; `/files` streams instead). */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new ConnectError('resource_exhausted', `request body over ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The JSON message of a unary request (`application/json`) or of a stream's one envelope. */
export function parseRequestMessage(body: Buffer, streaming: boolean): unknown {
  let json = body;
  if (streaming) {
    if (body.length < 5) throw new ConnectError('invalid_argument', 'missing request envelope');
    if ((body.readUInt8(0) & 0x01) !== 0)
      throw new ConnectError('unimplemented', 'compressed messages are not supported');
    json = body.subarray(5, 5 + body.readUInt32BE(1));
  }
  if (json.length === 0) return {};
  try {
    return JSON.parse(json.toString('utf8'));
  } catch {
    throw new ConnectError('invalid_argument', 'request message is not valid JSON (only the JSON codec is served)');
  }
}

export function sendUnary(res: ServerResponse, message: unknown): void {
  const body = JSON.stringify(message);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export function sendUnaryError(res: ServerResponse, err: ConnectError): void {
  const body = JSON.stringify({ code: err.code, message: err.message });
  res.writeHead(HTTP_STATUS[err.code], {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * A server-streaming response: 200 and `application/connect+json` at once, one envelope per
 * message (flushed as written), and always an end-stream envelope — errors after the headers
 * can only travel there. Sends `keepalive()` after `keepaliveMs` of silence.
 */
export class ConnectStream {
  private ended = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly keepalive: { message: unknown; intervalMs: number },
  ) {
    res.writeHead(200, { 'content-type': 'application/connect+json' });
    res.flushHeaders();
    this.arm();
  }

  get closed(): boolean {
    return this.ended || this.res.destroyed;
  }

  send(message: unknown): void {
    if (this.closed) return;
    this.res.write(envelope(0, message));
    this.arm();
  }

  end(err?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    if (this.res.destroyed) return;
    const connectErr = err === undefined ? undefined : toConnectError(err);
    this.res.end(
      envelope(END_STREAM, connectErr ? { error: { code: connectErr.code, message: connectErr.message } } : {}),
    );
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.send(this.keepalive.message), this.keepalive.intervalMs);
    this.timer.unref();
  }
}

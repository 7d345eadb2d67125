import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { ERROR_CODES, type FileInfo, PaddockError } from '@paddock/protocol';
import { ConnectError } from './connect-protocol.js';
import { type EnvdCall, resolvePath } from './envd-call.js';

/** envd's REST error body: `{code: <status>, message}` (JSON, never text). */
export function sendJsonError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ code: status, message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A failure of a REST call as envd answers it (404 → FileNotFoundError, 507 → NotEnoughSpaceError, …). */
export function sendRestError(res: ServerResponse, err: unknown): void {
  if (err instanceof PaddockError) {
    sendJsonError(res, ERROR_CODES[err.code].status, err.message);
  } else if (err instanceof ConnectError) {
    sendJsonError(res, err.code === 'invalid_argument' ? 400 : 500, err.message);
  } else {
    sendJsonError(res, 500, 'internal error (see the server log)');
  }
}

/** envd's default user (E2B templates have `user`, home `/home/user`; see `homeOf`). */
const DEFAULT_USER = 'user';

/**
 * The Linux user a `/files` transfer acts as, always named to the agent so that the sandbox's
 * permissions apply (the agent itself runs as root): `Authorization: Basic`, or a signed URL's
 * `username`, else envd's default user.
 */
function actingUser(call: EnvdCall): string {
  return call.user ?? DEFAULT_USER;
}

function writtenEntry(info: FileInfo) {
  return { path: info.path, name: info.name, type: info.type === 'dir' ? 'dir' : 'file' };
}

/** `GET /files?path=`: the raw bytes, streamed from the agent. */
export async function downloadFile(call: EnvdCall, path: string | undefined, res: ServerResponse): Promise<void> {
  if (path === undefined) throw new PaddockError('INVALID_ARGUMENT', 'path: the query parameter is required');
  const abs = resolvePath(path, call.user);
  const file = await call.agent.readFile(abs, { user: actingUser(call), signal: call.signal });
  const name = abs.split('/').at(-1) ?? 'file';
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-disposition': `inline; filename="${encodeURIComponent(name)}"`,
    ...(file.sizeBytes !== undefined ? { 'content-length': file.sizeBytes } : {}),
  });
  // pipeline destroys both ends when either fails: a broken agent stream cuts the response.
  await pipeline(file.stream, res).catch(() => undefined);
}

/**
 * `POST /files`: multipart (one part per file, form name `file`, filename = destination unless
 * `?path=` names it) or a raw body (`application/octet-stream`, gzip allowed). Answers the
 * written entries; parents are created by the agent.
 */
export async function uploadFiles(
  call: EnvdCall,
  target: { path: string | undefined; signedPath: string | undefined },
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { path, signedPath } = target;
  const type = req.headers['content-type'] ?? '';
  const written: ReturnType<typeof writtenEntry>[] = [];
  // A signed URL opens its own path only, whatever the parts' file names say; checked before
  // anything is written.
  const checkSigned = (dests: string[]) => {
    if (signedPath && dests.some((d) => d !== resolvePath(signedPath, call.user))) {
      throw new PaddockError('PERMISSION_DENIED', `path: the signed URL allows writing ${signedPath} only`);
    }
  };
  const write = async (dest: string, body: NodeJS.ReadableStream | AsyncIterable<Uint8Array>, sizeBytes?: number) => {
    const info = await call.agent.writeFile(dest, body, {
      user: actingUser(call),
      signal: call.signal,
      ...(sizeBytes !== undefined ? { sizeBytes } : {}),
    });
    written.push(writtenEntry(info));
  };
  if (type.startsWith('multipart/form-data')) {
    // The parts are read through the platform's multipart parser (undici); uploads of this
    // form are the SDK's default for in-memory data, so buffering each part is acceptable.
    const form = await new Response(Readable.toWeb(req) as ReadableStream, { headers: { 'content-type': type } })
      .formData()
      .catch(() => {
        throw new PaddockError('INVALID_ARGUMENT', 'body: not a valid multipart/form-data upload');
      });
    const files = form.getAll('file').filter((v) => typeof v !== 'string') as unknown as {
      name: string;
      arrayBuffer(): Promise<ArrayBuffer>;
    }[];
    if (files.length === 0) throw new PaddockError('INVALID_ARGUMENT', "body: no form part named 'file'");
    const targets = files.map((f) => resolvePath(files.length === 1 && path ? path : f.name, call.user));
    checkSigned(targets);
    if (new Set(targets).size !== targets.length) {
      throw new PaddockError('INVALID_ARGUMENT', 'file: two parts name the same destination path');
    }
    for (const [i, f] of files.entries()) {
      const bytes = new Uint8Array(await f.arrayBuffer());
      await write(targets[i] as string, Readable.from([bytes]), bytes.length);
    }
  } else {
    if (!path) throw new PaddockError('INVALID_ARGUMENT', 'path: required for a raw (octet-stream) upload');
    checkSigned([resolvePath(path, call.user)]);
    const gzip = (req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip';
    const length = Number(req.headers['content-length']);
    const body = gzip ? req.pipe(createGunzip()) : req;
    await write(resolvePath(path, call.user), body, !gzip && Number.isFinite(length) ? length : undefined);
  }
  const json = JSON.stringify(written);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

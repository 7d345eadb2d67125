import type { ServerResponse } from 'node:http';
import { type ErrorCode, PaddockError } from '@paddock/protocol';
import { log } from './log.js';

/** errno → wire code and the words that open the message (docs/agent-protocol.md). */
const ERRNO: Record<string, [ErrorCode, string]> = {
  ENOENT: ['NOT_FOUND', 'no such file or directory'],
  EISDIR: ['IS_A_DIRECTORY', 'is a directory'],
  ENOTDIR: ['NOT_A_DIRECTORY', 'not a directory'],
  ENOSPC: ['DISK_FULL', "the sandbox's disk is full"],
  EDQUOT: ['DISK_FULL', "the sandbox's disk quota is exhausted"],
  EACCES: ['PERMISSION_DENIED', 'permission denied'],
  EPERM: ['PERMISSION_DENIED', 'operation not permitted'],
  EEXIST: ['CONFLICT', 'already exists'],
  ENOTEMPTY: ['CONFLICT', 'directory not empty'],
  ENAMETOOLONG: ['INVALID_ARGUMENT', 'file name too long'],
  ELOOP: ['INVALID_ARGUMENT', 'too many levels of symbolic links'],
  EROFS: ['PERMISSION_DENIED', 'read-only file system'],
};

/**
 * Turns a thrown value into a wire error. `shownPath` is the path the caller named, which
 * replaces the one in the errno error (that may be a temp file the caller never saw).
 * Unknown failures become INTERNAL; their cause goes to the log, not the wire.
 */
export function toPaddockError(err: unknown, shownPath?: string): PaddockError {
  if (err instanceof PaddockError) return err;
  const errno = err as NodeJS.ErrnoException | undefined;
  const mapped = typeof errno?.code === 'string' ? ERRNO[errno.code] : undefined;
  if (mapped !== undefined) {
    const path = shownPath ?? errno?.path;
    const [code, words] = mapped;
    return new PaddockError(
      code,
      path === undefined ? words : `${words}: ${path}`,
      path === undefined ? undefined : { path },
    );
  }
  log.error('unexpected failure', { err });
  return new PaddockError('INTERNAL', 'the sandbox agent failed unexpectedly (the cause is in the agent log)');
}

/**
 * Names `path` in an fs error that carries none (a write's ENOSPC) or the wrong one (a temp
 * file the caller never saw); other errors pass unchanged.
 */
export function namingPath(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && code in ERRNO ? toPaddockError(err, path) : err;
}

/**
 * Answers with the error body. Once the head is sent (a stream broke halfway), the only
 * honest signal left is to cut the connection so the client sees a truncated response.
 */
export function sendError(res: ServerResponse, err: unknown, shownPath?: string): void {
  const error = toPaddockError(err, shownPath);
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(error.toBody());
  res.writeHead(error.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

import { open, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { PaddockError, SandboxPath } from '@paddock/protocol';
import { z } from 'zod';
import type { AgentConfig } from './config.js';
import { checkReadable, readablePath } from './file-access.js';
import { normalPath } from './file-info.js';
import { parseInput, queryOf } from './request-input.js';
import { UserDb } from './users.js';

const ReadQuery = z.strictObject({ path: SandboxPath, user: z.string().min(1).max(64).optional() });

/** `GET /files/read`: the file's bytes, streamed from disk to the socket. */
export async function handleRead(req: IncomingMessage, res: ServerResponse, config: AgentConfig): Promise<void> {
  const query = parseInput(ReadQuery, queryOf(req));
  const requested = normalPath(query.path);
  // Without a user the read acts as root (see files-manage.ts; the default user is still
  // resolved so that a broken passwd is reported); a named user's permissions apply.
  const user = UserDb.load().resolve(query.user ?? config.defaultUser);
  const checked = query.user !== undefined ? user : undefined;
  const path = checked ? await readablePath(requested, checked) : requested;
  const stats = await stat(path);
  if (stats.isDirectory()) {
    throw new PaddockError('IS_A_DIRECTORY', `is a directory: ${requested}`, { path: requested });
  }
  // Opening a FIFO would block a libuv thread until a writer shows up; sockets cannot be read.
  if (stats.isFIFO() || stats.isSocket()) {
    throw new PaddockError('INVALID_ARGUMENT', `\`path\`: not a regular file: ${requested}`, {
      field: 'path',
      path: requested,
    });
  }
  const file = await open(path, 'r');
  try {
    if (checked) await checkReadable(file, checked, requested);
    const opened = await file.stat();
    // Regular files have a length; devices and /proc files are streamed chunked until EOF.
    const sizeBytes = opened.isFile() ? opened.size : undefined;
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      ...(sizeBytes === undefined ? {} : { 'content-length': sizeBytes }),
    });
    if (sizeBytes === 0) {
      res.end();
      await file.close();
      return;
    }
    // `end` pins the read to the announced length even if the file grows meanwhile.
    await pipeline(file.createReadStream(sizeBytes === undefined ? {} : { start: 0, end: sizeBytes - 1 }), res);
  } catch (err) {
    await file.close().catch(() => {});
    throw err;
  }
}

import { randomBytes } from 'node:crypto';
import { type FileHandle, lstat, open, rename, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { posix } from 'node:path';
import { type FileInfo, PaddockError, SandboxPath } from '@paddock/protocol';
import { z } from 'zod';
import { refuseAgentPath } from './agent-paths.js';
import type { AgentConfig } from './config.js';
import { namingPath } from './errors-to-http.js';
import { checkWritable } from './file-access.js';
import { normalPath, statPath } from './file-info.js';
import { ensureDir } from './files-manage.js';
import { parseInput, queryOf } from './request-input.js';
import { type SandboxUser, UserDb } from './users.js';

const WriteQuery = z.strictObject({
  path: SandboxPath,
  user: z.string().min(1).max(64).optional(),
  /** Permission bits in decimal (`420` = 0o644). */
  mode: z.coerce.number().int().min(0).max(0o7777).optional(),
});

/**
 * `PUT /files/write`: streams the body into a temp file beside the target, fsyncs it and
 * renames it over the target, so that readers see the old file or the whole new one, never
 * a part. Any failure (client gone, disk full) removes the temp file.
 */
export async function handleWrite(req: IncomingMessage, res: ServerResponse, config: AgentConfig): Promise<void> {
  const query = parseInput(WriteQuery, queryOf(req));
  const path = normalPath(query.path);
  await refuseAgentPath(path, { field: 'path', subtree: false });
  const users = UserDb.load();
  const owner = users.resolve(query.user ?? config.defaultUser);
  // A named user writes with their own permissions; without one the agent acts as root.
  if (query.user !== undefined) await checkWritable(path, owner);
  const existing = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing?.isDirectory()) throw new PaddockError('IS_A_DIRECTORY', `is a directory: ${path}`, { path });
  // Overwriting keeps the file's permission bits unless the caller names new ones.
  const mode = query.mode ?? (existing?.isFile() ? existing.mode & 0o7777 : 0o644);
  await ensureDir(posix.dirname(path), owner);

  const temp = posix.join(
    posix.dirname(path),
    `.${posix.basename(path)}.${randomBytes(6).toString('hex')}.paddock-tmp`,
  );
  const file = await open(temp, 'wx', 0o600);
  let closed = false;
  try {
    await copyBody(req, file);
    await file.chmod(mode);
    await chownOwned(file, owner);
    await file.sync();
    closed = true;
    await file.close();
    await rename(temp, path);
  } catch (err) {
    if (!closed) await file.close().catch(() => {});
    await rm(temp, { force: true });
    throw namingPath(err, path);
  }
  const info: FileInfo = await statPath(path, users);
  const body = JSON.stringify(info);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * Copies the request body chunk by chunk, waiting for each write: memory stays at one
 * socket read whatever the file size. The request is not destroyed when a write fails, so
 * that the socket can still carry the error answer (the server drains the rest).
 */
async function copyBody(req: IncomingMessage, file: FileHandle): Promise<void> {
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    let written = 0;
    while (written < chunk.length) {
      written += (await file.write(chunk, written, chunk.length - written)).bytesWritten;
    }
  }
}

/** Like `chownTo`, on the open handle. */
async function chownOwned(file: FileHandle, owner: SandboxUser): Promise<void> {
  if (owner.uid === process.getuid?.() && owner.gid === process.getgid?.()) return;
  await file.chown(owner.uid, owner.gid);
}

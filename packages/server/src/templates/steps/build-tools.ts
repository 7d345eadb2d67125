import { createHash } from 'node:crypto';
import { copyFile, mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { DataPaths } from '../../paths.js';
import { runProcess } from '../process.js';

/** Where a build step sees the host's tools: inside bwrap's fresh /dev, so no image is touched. */
export const TOOLS_MOUNT = '/dev/.paddock-tools';

const SETPRIV = '/usr/bin/setpriv';
const prepared = new Map<string, Promise<string>>();

/**
 * The host's `setpriv` with the libraries it links and the host's loader, in one dir under the
 * data dir, so a step can drop to its USER in any image (Alpine and distroless have no setpriv
 * of their own). Made once per setpriv build (keyed by its identity), renamed into place.
 */
export function buildTools(paths: DataPaths): Promise<string> {
  let pending = prepared.get(paths.root);
  if (pending === undefined) {
    pending = prepare(paths);
    prepared.set(paths.root, pending);
    pending.catch(() => prepared.delete(paths.root));
  }
  return pending;
}

async function prepare(paths: DataPaths): Promise<string> {
  const st = await stat(SETPRIV);
  const version = createHash('sha256').update(`${st.ino}:${st.size}:${st.mtimeMs}`).digest('hex').slice(0, 12);
  const dir = join(paths.root, 'build-tools', version);
  if ((await stat(join(dir, 'setpriv')).catch(() => undefined)) !== undefined) return dir;
  const ldd = await runProcess({ file: 'ldd', args: [SETPRIV], tailLines: 50 });
  if (ldd.exitCode !== 0) throw new Error(`ldd ${SETPRIV} failed: ${ldd.tail.join('\n')}`);
  const libraries = ldd.tail.flatMap((line) => {
    const path = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1];
    return path === undefined ? [] : [path];
  });
  const scratch = `${dir}.tmp-${process.pid}`;
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true, mode: 0o755 });
  await copyFile(SETPRIV, join(scratch, 'setpriv'));
  for (const library of libraries) {
    const name = basename(library).startsWith('ld-linux') ? 'ld.so' : basename(library);
    await copyFile(await realpath(library), join(scratch, name));
  }
  await rename(scratch, dir).catch(async (err: NodeJS.ErrnoException) => {
    // Another build made it first: its copy is as good.
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    await rm(scratch, { recursive: true, force: true });
  });
  return dir;
}

/** The argv that runs `command` as `uid:gid` through the host's setpriv mounted at TOOLS_MOUNT. */
export function asUserArgv(user: { uid: number; gid: number; known: boolean }, command: string[]): string[] {
  return [
    `${TOOLS_MOUNT}/ld.so`,
    '--library-path',
    TOOLS_MOUNT,
    `${TOOLS_MOUNT}/setpriv`,
    `--reuid=${user.uid}`,
    `--regid=${user.gid}`,
    user.known ? '--init-groups' : '--clear-groups',
    '--',
    ...command,
  ];
}

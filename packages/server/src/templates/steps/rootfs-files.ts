/**
 * Reading and making paths inside a build's rootfs from the host, never leaving it: every
 * directory on the way is resolved with `RootedResolver` (symlinks are followed as if the rootfs
 * were `/`), and the final file is opened with O_NOFOLLOW.
 */
import { closeSync, constants, lchownSync, openSync, readFileSync } from 'node:fs';
import { PaddockError } from '@paddock/protocol';
import { UID_BASE } from '../../runtime/uid-map.js';
import { RootedResolver } from '../images/safe-path.js';

function parts(path: string): string[] {
  return path.split('/').filter((p) => p !== '' && p !== '.');
}

/** A file's text inside `root`, or undefined when it is missing or not a regular file. */
export function readInside(root: string, path: string): string | undefined {
  const p = parts(path);
  const resolver = new RootedResolver({ root, onCreateDir: () => {} });
  let fd: number;
  try {
    const dir = resolver.dir(p, p.length - 1, false);
    if (dir === undefined) return undefined;
    fd = openSync(`${resolver.abs(dir)}/${p.at(-1)}`, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    return readFileSync(fd, 'utf8');
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** Makes a directory (and its parents) inside `root`, owned by root of the sandbox. */
export function makeDirInside(root: string, path: string): void {
  const p = parts(path);
  const resolver = new RootedResolver({ root, onCreateDir: (_rel, abs) => lchownSync(abs, UID_BASE, UID_BASE) });
  resolver.dir(p, p.length, true);
}

/** Whether `path` inside `root` is a directory (following symlinks inside the rootfs). */
export function isDirInside(root: string, path: string): boolean {
  const p = parts(path);
  try {
    return new RootedResolver({ root, onCreateDir: () => {} }).dir(p, p.length, false) !== undefined;
  } catch {
    return false;
  }
}

export interface InsideUser {
  uid: number;
  gid: number;
  home: string;
  /** Whether the rootfs's /etc/passwd names the user (so `initgroups` can find its groups). */
  known: boolean;
}

/**
 * `user[:group]` (names or ids) as ids, looked up in the rootfs's /etc/passwd and /etc/group as
 * Docker does. An unknown name is an error; an unknown number is taken as it is.
 */
export function resolveUser(root: string, spec: string): InsideUser {
  const [user = '', group] = spec.split(':', 2);
  const passwd = table(readInside(root, '/etc/passwd'));
  const entry = passwd.find((e) => e[0] === user || (/^\d+$/.test(user) && e[2] === user));
  if (entry === undefined && !/^\d+$/.test(user)) {
    throw new PaddockError('TEMPLATE_BUILD_FAILED', `user "${user}" is not in the image's /etc/passwd`, { user });
  }
  const uid = Number(entry?.[2] ?? user);
  let gid = Number(entry?.[3] ?? (user === '0' ? 0 : uid));
  if (group !== undefined && group !== '') {
    const groups = table(readInside(root, '/etc/group'));
    const found = groups.find((g) => g[0] === group || (/^\d+$/.test(group) && g[2] === group));
    if (found === undefined && !/^\d+$/.test(group)) {
      throw new PaddockError('TEMPLATE_BUILD_FAILED', `group "${group}" is not in the image's /etc/group`, { group });
    }
    gid = Number(found?.[2] ?? group);
  }
  if (uid > 65535 || gid > 65535) {
    throw new PaddockError('TEMPLATE_BUILD_FAILED', `user "${spec}": ids above 65535 are not mapped in sandboxes`);
  }
  return { uid, gid, home: entry?.[5] ?? '/', known: entry !== undefined };
}

function table(text: string | undefined): string[][] {
  return (text ?? '')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

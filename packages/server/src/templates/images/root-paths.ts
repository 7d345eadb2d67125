import { lchownSync, lstatSync, mkdirSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PaddockError } from '@paddock/protocol';

/** Symlinks followed while resolving one path, as the kernel's limit (ELOOP). */
const MAX_LINKS = 40;

/**
 * Splits an archive member's name into path components inside the root. A leading `/` or
 * `./` is dropped (archives write both); a `..` component is refused, so no name can climb
 * out of the root on its own.
 */
export function memberComponents(name: string): string[] {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new PaddockError('INVALID_ARGUMENT', `the archive member "${name}" climbs out of the root filesystem (..)`, {
      member: name,
    });
  }
  return parts;
}

/**
 * Resolves directories inside a root filesystem the way the kernel would if the root were
 * `/` (Go's securejoin): a symlink on the way is followed, an absolute one from the root and
 * `..` stops at the root, so nothing an image controls can lead a host write outside it. Missing
 * directories are made (owned by the root's `root`). The host is the only writer while an
 * image is unpacked, so what is resolved stays true until the writer itself changes it; then
 * it calls {@link forget}.
 */
export class RootPaths {
  private readonly resolved = new Map<string, string>();

  constructor(
    readonly root: string,
    private readonly rootOwner: number,
  ) {}

  /** The host path of the directory at `components`, made when missing. */
  dir(components: readonly string[]): string {
    const key = components.join('/');
    const known = this.resolved.get(key);
    if (known !== undefined) return known;
    const real = this.walk(components);
    this.resolved.set(key, real);
    return real;
  }

  /** Drops what was resolved: call after removing or replacing a directory or symlink. */
  forget(): void {
    this.resolved.clear();
  }

  private walk(components: readonly string[]): string {
    const stack: string[] = [];
    const queue = [...components];
    let links = 0;
    while (queue.length > 0) {
      const part = queue.shift() as string;
      if (part === '' || part === '.') continue;
      if (part === '..') {
        stack.pop();
        continue;
      }
      const host = join(this.root, ...stack, part);
      const st = lstatOrUndefined(host);
      if (st === undefined) {
        mkdirSync(host, { mode: 0o755 });
        lchownSync(host, this.rootOwner, this.rootOwner);
        stack.push(part);
      } else if (st.isDirectory()) {
        stack.push(part);
      } else if (st.isSymbolicLink()) {
        if (++links > MAX_LINKS) {
          throw new PaddockError(
            'INVALID_ARGUMENT',
            `too many symlinks resolving "${components.join('/')}" in the image`,
          );
        }
        const target = readlinkSync(host);
        if (target.startsWith('/')) stack.length = 0;
        queue.unshift(...target.split('/'));
      } else {
        // A file where a directory is needed: the later layer's view wins, as in an overlay.
        rmSync(host, { force: true });
        mkdirSync(host, { mode: 0o755 });
        lchownSync(host, this.rootOwner, this.rootOwner);
        stack.push(part);
      }
    }
    return join(this.root, ...stack);
  }
}

export function lstatOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

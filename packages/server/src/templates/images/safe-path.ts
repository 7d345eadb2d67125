/**
 * Paths an image controls, resolved inside the unpack target and never outside it.
 *
 * Layer entry names are cleaned (a leading `/` or `./` is dropped, `..` is refused), then every
 * parent component is walked with `lstat` from the target root: a symlink met on the way is
 * resolved as if the target were `/` (an absolute link restarts at the target root, `..` stops
 * there), like Go's securejoin. What comes back is a path of real directories only, so the
 * kernel has no symlink to follow except the final component, which the writers never follow
 * (O_NOFOLLOW | O_EXCL, lstat + unlink, link(2) without AT_SYMLINK_FOLLOW).
 */
import { lstatSync, mkdirSync, readlinkSync } from 'node:fs';
import { PaddockError } from '@paddock/protocol';

/** Links followed in one resolution before giving up (Linux's own limit is 40). */
const MAX_LINKS = 40;

/** The components of a layer entry name; `[]` is the root itself. Refuses `..`. */
export function entryParts(name: string): string[] {
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new PaddockError('INVALID_ARGUMENT', `layer entry "${name}" climbs out with ".."`);
    parts.push(part);
  }
  return parts;
}

export interface ResolverOptions {
  /** Real path of the unpack target (trusted: the caller made it). */
  root: string;
  /** Called with each directory the resolver creates, as a path relative to root. */
  onCreateDir: (rel: string, abs: string) => void;
}

/**
 * Resolves directories inside `root`, creating missing ones. Results are cached by the name
 * asked for; `forget()` must be called whenever anything in the tree is removed or replaced.
 */
export class RootedResolver {
  readonly root: string;
  private readonly onCreateDir: ResolverOptions['onCreateDir'];
  /** Asked-for directory (`a/b`) → its real path relative to root (`''` is the root). */
  private readonly dirs = new Map<string, string>();

  constructor(options: ResolverOptions) {
    this.root = options.root;
    this.onCreateDir = options.onCreateDir;
  }

  forget(): void {
    this.dirs.clear();
  }

  abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /**
   * The real relative path of the directory named by the first `n` of `parts`. Missing
   * directories are made when `create` is set; otherwise `undefined` is returned for them.
   */
  dir(parts: readonly string[], n: number, create: boolean): string | undefined {
    if (n === 0) return '';
    const key = n === parts.length ? parts.join('/') : parts.slice(0, n).join('/');
    const cached = this.dirs.get(key);
    if (cached !== undefined) return cached;
    const parent = this.dir(parts, n - 1, create);
    if (parent === undefined) return undefined;
    const real = this.walk(parent, [parts[n - 1] as string], create);
    if (real !== undefined) this.dirs.set(key, real);
    return real;
  }

  /** Walks `todo` from the real dir `from`, following symlinks inside root. */
  private walk(from: string, todo: string[], create: boolean): string | undefined {
    const real = from === '' ? [] : from.split('/');
    let links = 0;
    for (let part = todo.shift(); part !== undefined; part = todo.shift()) {
      if (part === '' || part === '.') continue;
      if (part === '..') {
        real.pop(); // clamps at the root, as `..` does at `/`
        continue;
      }
      real.push(part);
      const rel = real.join('/');
      const abs = this.abs(rel);
      const st = lstatSync(abs, { throwIfNoEntry: false });
      if (st === undefined) {
        if (!create) return undefined;
        mkdirSync(abs, { mode: 0o755 });
        this.onCreateDir(rel, abs);
      } else if (st.isSymbolicLink()) {
        if (++links > MAX_LINKS) {
          throw new PaddockError('INVALID_ARGUMENT', `too many symlinks resolving "${rel}" in the image`);
        }
        real.pop();
        const target = readlinkSync(abs);
        if (target.startsWith('/')) real.length = 0;
        todo.unshift(...target.split('/'));
      } else if (!st.isDirectory()) {
        throw new PaddockError('INVALID_ARGUMENT', `"${rel}" in the image is not a directory but has entries below it`);
      }
    }
    return real.join('/');
  }
}

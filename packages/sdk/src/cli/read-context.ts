import { lstat, readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BuildContextFile } from '../templates.js';

// CommonJS (`module.exports = ignore`) whose types claim an ES default export: required directly.
const ignore = createRequire(import.meta.url)('@balena/dockerignore') as () => {
  add(patterns: string[]): { ignores(path: string): boolean };
};

/** The server refuses bigger contexts too; failing here saves the upload. */
const MAX_CONTEXT_BYTES = 128 * 1024 * 1024;

/**
 * Reads a build context dir as the server wants it (paths → bytes and modes), skipping what its
 * `.dockerignore` excludes before reading it (so `node_modules/` never travels). Symlinks are
 * not followed: a build context holds files and directories.
 */
export async function readContextDir(dir: string): Promise<Record<string, BuildContextFile>> {
  const rules = await readFile(join(dir, '.dockerignore'), 'utf8').catch(() => '');
  const matcher = ignore().add(rules.split(/\r?\n/));
  const files: Record<string, BuildContextFile> = {};
  let total = 0;
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      if (matcher.ignores(path)) continue;
      const st = await lstat(join(dir, path));
      if (st.isDirectory()) await walk(path);
      else if (st.isFile()) {
        total += st.size;
        if (total > MAX_CONTEXT_BYTES) {
          throw new Error(
            `the build context ${dir} is over ${MAX_CONTEXT_BYTES} bytes: list what the build does not need in .dockerignore`,
          );
        }
        files[path] = { data: await readFile(join(dir, path)), mode: st.mode & 0o7777 };
      }
    }
  };
  await walk('');
  return files;
}

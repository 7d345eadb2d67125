import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PaddockError, TemplateInfo } from '@paddock/protocol';
import type { DataPaths } from '../paths.js';
import { runProcess } from './process.js';

/** What a built template's `meta.json` holds: its `TemplateInfo` without the name. */
export const BuiltTemplate = TemplateInfo.omit({ name: true });
export type BuiltTemplate = Omit<TemplateInfo, 'name'>;

const SPEC_HASH = /^[0-9a-f]{16}$/;
/** Build dirs (`<hash>.tmp-<random>`) and dirs being removed (`<hash>.rm-<random>`). */
const SCRATCH_DIR = /^[0-9a-f]{16}\.(tmp|rm)-[0-9a-f]+$/;

function checkHash(specHash: string): void {
  // The hash becomes a path: refuse anything that could climb out of the templates dir.
  if (!SPEC_HASH.test(specHash)) throw new PaddockError('INVALID_ARGUMENT', `not a template spec hash: "${specHash}"`);
}

export function templateDir(paths: DataPaths, specHash: string): string {
  checkHash(specHash);
  return join(paths.templates, specHash);
}

/** The read-only, uid-shifted root filesystem of a built template. */
export function templateRootfs(paths: DataPaths, specHash: string): string {
  return join(templateDir(paths, specHash), 'rootfs');
}

export function scratchDir(paths: DataPaths, specHash: string, kind: 'tmp' | 'rm'): string {
  return `${templateDir(paths, specHash)}.${kind}-${randomBytes(6).toString('hex')}`;
}

/** The template's metadata, or `undefined` when it is not (completely) built. */
export async function readBuiltTemplate(paths: DataPaths, specHash: string): Promise<BuiltTemplate | undefined> {
  let text: string;
  try {
    text = await readFile(join(templateDir(paths, specHash), 'meta.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return BuiltTemplate.parse(JSON.parse(text));
}

export async function writeMeta(dir: string, meta: BuiltTemplate): Promise<void> {
  await writeFile(join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o644 });
}

/** Every completely built template under the data dir (those with a `meta.json`). */
export async function listBuiltTemplates(paths: DataPaths): Promise<BuiltTemplate[]> {
  const names = await readdir(paths.templates).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  const found: BuiltTemplate[] = [];
  for (const name of names.filter((n) => SPEC_HASH.test(n)).sort()) {
    const meta = await readBuiltTemplate(paths, name);
    if (meta !== undefined) found.push(meta);
  }
  return found;
}

/**
 * Deletes a built template. The dir is renamed first, so it stops looking built at once
 * even if the deletion of its files is interrupted. Sandboxes still using the rootfs must be
 * gone (the caller checks).
 */
export async function removeTemplateFiles(paths: DataPaths, specHash: string): Promise<void> {
  const doomed = scratchDir(paths, specHash, 'rm');
  try {
    await rename(templateDir(paths, specHash), doomed);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  await removeTree(doomed);
}

/**
 * Removes what crashed builds and removals left behind (`*.tmp-*`, `*.rm-*`), except dirs in
 * `keep` (builds running now). Call it at server start.
 */
export async function removeStaleBuilds(paths: DataPaths, keep: ReadonlySet<string> = new Set()): Promise<string[]> {
  const names = await readdir(paths.templates).catch(() => []);
  const removed: string[] = [];
  for (const name of names) {
    const dir = join(paths.templates, name);
    if (!SCRATCH_DIR.test(name) || keep.has(dir)) continue;
    await removeTree(dir);
    removed.push(dir);
  }
  return removed;
}

/**
 * `rm -rf` that first detaches any mount below `dir`, so that removing a half-built rootfs
 * can never descend into a /proc, /sys or /dev mounted there.
 */
export async function removeTree(dir: string): Promise<void> {
  const mounts = await mountsUnder(dir);
  for (const mountPoint of mounts.sort((a, b) => b.length - a.length)) {
    await runProcess({ file: 'umount', args: ['--lazy', mountPoint] });
  }
  if ((await mountsUnder(dir)).length > 0) throw new Error(`${dir}: could not unmount what is mounted below it`);
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const prefix = `${dir}/`;
  return info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((mp): mp is string => mp !== undefined)
    .map(unescapeMountPath)
    .filter((mp) => mp === dir || mp.startsWith(prefix));
}

/** mountinfo writes space, tab, newline and backslash as octal escapes. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

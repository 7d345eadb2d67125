import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { PaddockError, type TemplateBuildEvent, type TemplateSpec } from '@paddock/protocol';
import type { DataPaths } from '../paths.js';
import { shiftTree } from '../runtime/shift-ownership.js';
import { UID_BASE } from '../runtime/uid-map.js';
import { type BuiltTemplate, readBuiltTemplate, removeTree, scratchDir, templateDir, writeMeta } from './layout.js';
import { throttleLines } from './log-throttle.js';
import { ALWAYS_PACKAGES, runMmdebstrap } from './mmdebstrap.js';
import { findUnknownPackages } from './package-check.js';
import { runProcess } from './process.js';
import { runInRootfs } from './sandbox-exec.js';
import { type ContextFiles, contextFile, type DebianSpec } from './spec.js';

/** PATH of templates whose spec sets none (Debian's default for root and users alike). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Uid and gid of the spec's non-root user. */
export const USER_UID = 1000;

export interface BuildJob {
  paths: DataPaths;
  spec: DebianSpec;
  contextFiles: ContextFiles;
  specHash: string;
  signal: AbortSignal;
  emit: (event: TemplateBuildEvent) => void;
}

/**
 * Builds a template into a scratch dir and renames it into place with `meta.json` inside, so a
 * dir named by the bare hash with a `meta.json` is always complete. On failure or abort the
 * scratch dir is removed.
 *
 * Order: packages → user (host root chroots into a rootfs that holds only Debian's files so
 * far) → shift ownership → files → run steps. Files and run steps come after the shift because
 * they run inside the build sandbox: writing files from the host would follow symlinks that
 * packages ship (e.g. /etc/localtime → /usr/share/zoneinfo/...) out of the rootfs.
 */
export async function runBuild(job: BuildJob): Promise<BuiltTemplate> {
  const { paths, spec, signal } = job;
  const progress = (step: string, message: string): void => job.emit({ type: 'progress', step, message });
  const log = throttleLines((line) => job.emit({ type: 'log', line }));

  await mkdir(paths.templates, { recursive: true, mode: 0o755 });
  const scratch = scratchDir(paths, job.specHash, 'tmp');
  await mkdir(scratch, { mode: 0o755 });
  const rootfs = join(scratch, 'rootfs');
  try {
    const packages = [...new Set([...ALWAYS_PACKAGES, ...spec.packages])];
    progress('resolve', `checking ${spec.packages.length} package name(s)`);
    const unknown = await findUnknownPackages(spec.packages, 'bash', signal);
    if (unknown !== undefined && unknown.length > 0) {
      throw new PaddockError('TEMPLATE_BUILD_FAILED', `unknown Debian package(s): ${unknown.join(', ')}`, {
        packages: unknown,
      });
    }

    progress('download', `installing ${packages.length} package(s) and their dependencies with mmdebstrap`);
    await runMmdebstrap(
      { suite: debianSuite(spec), packages, target: rootfs },
      (line) => {
        if (line.includes('installing essential packages')) progress('install', 'installing packages');
        log.push(line);
      },
      signal,
    );
    log.flush();

    if (spec.user !== 'root') {
      progress('user', `creating user ${spec.user} (uid ${USER_UID})`);
      await createUser(rootfs, spec.user, signal);
    }

    progress('shift', `shifting ownership by ${UID_BASE}`);
    await shiftTree(rootfs, UID_BASE);

    const env = buildEnv(spec);
    if (spec.files.length > 0) progress('files', `writing ${spec.files.length} file(s)`);
    for (const [i, file] of spec.files.entries()) {
      await writeFileInside({ rootfs, env, signal, index: i, file, contextFiles: job.contextFiles });
    }

    for (const [i, command] of spec.run.entries()) {
      progress('run', `run[${i}]: ${command}`);
      const result = await runInRootfs({ rootfs, argv: ['/bin/bash', '-c', command], env, signal, onLine: log.push });
      log.flush();
      if (result.exitCode !== 0) {
        const status = result.exitCode === null ? `signal ${result.exitSignal}` : `exit code ${result.exitCode}`;
        throw new PaddockError(
          'TEMPLATE_BUILD_FAILED',
          `run[${i}] failed with ${status}: ${command}\n${result.tail.slice(-15).join('\n')}`,
          { step: i, command, exitCode: result.exitCode, output: result.tail },
        );
      }
    }

    progress('finalize', 'measuring and publishing the template');
    await ensureWorkdir(rootfs, spec, env, signal);
    const meta: BuiltTemplate = {
      specHash: job.specHash,
      sizeBytes: await diskUsageBytes(rootfs, signal),
      createdAt: new Date().toISOString(),
      env: templateEnv(spec),
      workdir: spec.workdir,
      user: spec.user,
      ...(spec.start ? { start: spec.start } : {}),
    };
    await writeMeta(scratch, meta);
    return await publish(paths, job.specHash, scratch, meta);
  } catch (err) {
    log.flush();
    await removeTree(scratch);
    throw err;
  }
}

/** `debian:bookworm` → `bookworm`. */
function debianSuite(spec: DebianSpec): string {
  return spec.from.slice(spec.from.indexOf(':') + 1);
}

/** The env that sandboxes start with: the spec's, plus a PATH when it sets none. */
export function templateEnv(spec: TemplateSpec): Record<string, string> {
  return { PATH: DEFAULT_PATH, ...spec.env };
}

/** The env of files and run steps: the template's plus what a root shell expects. */
function buildEnv(spec: TemplateSpec): Record<string, string> {
  return { HOME: '/root', DEBIAN_FRONTEND: 'noninteractive', ...templateEnv(spec) };
}

/** Renames a finished scratch dir into place, unless another build published the same hash first. */
export async function publish(paths: DataPaths, specHash: string, scratch: string, meta: BuiltTemplate) {
  const final = templateDir(paths, specHash);
  // Another server process may have finished the same spec first; its copy is as good.
  const existing = await readBuiltTemplate(paths, specHash);
  if (existing !== undefined) {
    await removeTree(scratch);
    return existing;
  }
  // A dir without meta.json is the remains of an interrupted removal.
  await removeTree(final);
  await rename(scratch, final);
  return meta;
}

async function createUser(rootfs: string, user: string, signal: AbortSignal): Promise<void> {
  // Host root chroots here, which is safe only because the rootfs holds nothing but files
  // from Debian packages yet: no spec file or run step has touched it.
  const result = await runProcess({
    file: 'chroot',
    args: [
      rootfs,
      '/usr/sbin/useradd',
      '--create-home',
      `--home-dir=/home/${user}`,
      `--uid=${USER_UID}`,
      '--user-group',
      '--shell=/bin/bash',
      '--',
      user,
    ],
    env: { PATH: DEFAULT_PATH, LANG: 'C.UTF-8' },
    signal,
  });
  if (result.exitCode !== 0) {
    throw new PaddockError('TEMPLATE_BUILD_FAILED', `creating user ${user} failed: ${result.tail.join('\n')}`);
  }
}

/** Writes stdin to $1 with mode $2, owned by root; parent dirs are created. Runs inside the rootfs. */
const WRITE_FILE_SCRIPT = 'set -e; mkdir -p -- "$(dirname -- "$1")"; cat > "$1"; chown 0:0 -- "$1"; chmod -- "$2" "$1"';

async function writeFileInside(options: {
  rootfs: string;
  env: Record<string, string>;
  signal: AbortSignal;
  index: number;
  file: TemplateSpec['files'][number];
  contextFiles: ContextFiles;
}): Promise<void> {
  const { file, index } = options;
  const bytes =
    file.content !== undefined
      ? new TextEncoder().encode(file.content)
      : file.src !== undefined
        ? contextFile(options.contextFiles, file.src)
        : undefined;
  if (bytes === undefined) {
    throw new PaddockError('INVALID_ARGUMENT', `files[${index}].src: context file "${file.src}" was not provided`);
  }
  const mode = (file.mode ?? 0o644).toString(8);
  const result = await runInRootfs({
    rootfs: options.rootfs,
    argv: ['/bin/sh', '-c', WRITE_FILE_SCRIPT, 'sh', file.dest, mode],
    env: options.env,
    stdin: bytes,
    signal: options.signal,
  });
  if (result.exitCode !== 0) {
    throw new PaddockError(
      'TEMPLATE_BUILD_FAILED',
      `files[${index}]: writing ${file.dest} failed: ${result.tail.join('\n')}`,
      { file: index, dest: file.dest, output: result.tail },
    );
  }
}

/** The spec's workdir may not exist (e.g. the default /home/user with another user): make it. */
async function ensureWorkdir(rootfs: string, spec: DebianSpec, env: Record<string, string>, signal: AbortSignal) {
  const owner = spec.user === 'root' ? '0' : String(USER_UID);
  const result = await runInRootfs({
    rootfs,
    argv: ['/bin/sh', '-c', '[ -d "$1" ] || install -d -o "$2" -g "$2" -- "$1"', 'sh', spec.workdir, owner],
    env,
    signal,
  });
  if (result.exitCode !== 0) {
    throw new PaddockError('TEMPLATE_BUILD_FAILED', `workdir ${spec.workdir}: ${result.tail.join('\n')}`);
  }
}

export async function diskUsageBytes(dir: string, signal: AbortSignal): Promise<number> {
  const result = await runProcess({ file: 'du', args: ['-s', '-x', '--block-size=1', '--', dir], signal });
  const bytes = Number.parseInt(result.tail[0]?.split('\t')[0] ?? '', 10);
  if (result.exitCode !== 0 || !Number.isFinite(bytes)) throw new Error(`du ${dir} failed: ${result.tail.join('\n')}`);
  return bytes;
}

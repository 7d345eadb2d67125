import { createHash } from 'node:crypto';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { PaddockError, type TemplateSource, type TemplateStart } from '@paddock/protocol';
import type { DataPaths } from '../../paths.js';
import { DEFAULT_PATH } from '../build-steps.js';
import { type BuiltTemplate, readBuiltTemplate, removeTree, scratchDir, templateDir, writeMeta } from '../layout.js';
import { runProcess } from '../process.js';
import { withLayerView } from './layer-view.js';
import { makeDirInside } from './rootfs-files.js';
import type { StageState } from './stage-state.js';

/** The template a plan makes: 16 hex of its final key with what else goes into the meta. */
export function templateHash(parts: { finalKey: string; start: TemplateStart | undefined; source: TemplateSource }) {
  return createHash('sha256')
    .update(JSON.stringify({ plan: parts.finalKey, start: parts.start ?? null, source: parts.source }))
    .digest('hex')
    .slice(0, 16);
}

export interface PublishJob {
  paths: DataPaths;
  hash: string;
  lowers: readonly string[];
  state: StageState;
  sandboxUser: string | undefined;
  start: TemplateStart | undefined;
  source: TemplateSource;
  signal: AbortSignal;
}

/**
 * Copies a read-only view of the final stage's layers into a scratch dir, writes meta.json and
 * renames it into place (templates/<hash>), as the Debian builder does: a template dir with a
 * meta.json is always complete. `cp -a` never follows the symlinks it copies.
 */
export async function publishPlan(job: PublishJob): Promise<BuiltTemplate> {
  const { paths, signal } = job;
  await mkdir(paths.templates, { recursive: true, mode: 0o755 });
  const scratch = scratchDir(paths, job.hash, 'tmp');
  await mkdir(scratch, { mode: 0o755 });
  const rootfs = join(scratch, 'rootfs');
  try {
    await withLayerView({ paths, lowers: job.lowers, signal }, async (view) => {
      const copy = await runProcess({ file: 'cp', args: ['-a', '--', view, rootfs], signal });
      if (copy.exitCode !== 0) {
        throw new PaddockError('TEMPLATE_BUILD_FAILED', `flattening the layers failed: ${copy.tail.join('\n')}`);
      }
    });
    makeDirInside(rootfs, job.state.workdir);
    const { state } = job;
    const meta: BuiltTemplate = {
      specHash: job.hash,
      sizeBytes: await diskUsageBytes(rootfs, signal),
      createdAt: new Date().toISOString(),
      env: { PATH: DEFAULT_PATH, ...state.env },
      workdir: state.workdir,
      // The agent takes USER as Docker writes it: a name or uid, with `:group` or not.
      user: state.user ?? job.sandboxUser ?? 'root',
      source: job.source,
      ...(state.entrypoint === undefined ? {} : { entrypoint: state.entrypoint }),
      ...(state.cmd === undefined ? {} : { cmd: state.cmd }),
      ...(job.start === undefined ? {} : { start: job.start }),
    };
    await writeMeta(scratch, meta);
    const existing = await readBuiltTemplate(paths, job.hash);
    if (existing !== undefined) {
      await removeTree(scratch);
      return existing;
    }
    const final = templateDir(paths, job.hash);
    await removeTree(final);
    await rename(scratch, final);
    return meta;
  } catch (err) {
    await removeTree(scratch);
    throw err;
  }
}

async function diskUsageBytes(dir: string, signal: AbortSignal): Promise<number> {
  const result = await runProcess({ file: 'du', args: ['-s', '-x', '--block-size=1', '--', dir], signal });
  return Number.parseInt(result.tail[0]?.split('\t')[0] ?? '0', 10) || 0;
}

import { readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Isolation, PaddockError } from '@paddock/protocol';
import type { PauseAndFork } from './api/context.js';
import type { Clock } from './core/clock.js';
import { Forks } from './core/fork/forks.js';
import { Snapshots } from './core/fork/snapshots.js';
import type { Logger } from './core/logger.js';
import type { PauseResume } from './core/pause/pause-resume.js';
import type { SandboxService } from './core/sandbox-service.js';
import type { Runtime } from './core/seams/runtime.js';
import type { Store } from './core/seams/store.js';
import type { TemplateCatalog } from './core/templates.js';
import { Volumes } from './core/volumes.js';
import { hostCommand } from './runtime/host-command.js';
import { VolumeDisks } from './runtime/volume-disk.js';

/**
 * Assembles snapshots, forks and volumes over the server's store, runtimes and data dir, beside
 * the pause layer (built with the service: see `core/pause/lifecycle.ts`).
 */
export function buildPauseAndFork(deps: {
  dataDir: string;
  store: Store;
  service: SandboxService;
  pause: PauseResume;
  templates: TemplateCatalog;
  runtimes: Partial<Record<Isolation, Runtime>>;
  clock: Clock;
  logger: Logger;
  newId: () => string;
  maxForkCount: number;
  onAgentGone: (id: string, reason: PaddockError) => void;
}): PauseAndFork {
  const { store, service, clock, pause } = deps;
  const volumes = new Volumes({ store, disks: new VolumeDisks(join(deps.dataDir, 'volumes')), clock });
  const snapshotDir = join(deps.dataDir, 'snapshots');
  const snapshots = new Snapshots({
    service,
    store,
    clock,
    base: deps.templates,
    disk: {
      dirFor: (name, nonce) => join(snapshotDir, `${name}-${nonce}`),
      sizeBytes: async (dir) => Number((await hostCommand('du', ['-sb', dir])).split('\t')[0]),
      remove: (dir) => rm(dir, { recursive: true, force: true }),
      rename: async (from, to) => rename(from, to),
      list: async () => (await readdir(snapshotDir).catch(() => [])).map((name) => join(snapshotDir, name)),
    },
  });
  const forks = new Forks({
    service,
    pause,
    store,
    templates: snapshots,
    clock,
    newId: deps.newId,
    maxForkCount: deps.maxForkCount,
    volumeBinds: (record) => volumes.binds(record.volumes),
    onAgentGone: deps.onAgentGone,
  });
  return { pause, snapshots, forks, volumes };
}

import type { SandboxLaunch } from './seams/runtime.js';
import type { SandboxRecord } from './seams/store.js';
import type { ResolvedTemplate } from './templates.js';

/** The runtime launch of a sandbox row: the one builder, for creates, pool spares and forks. */
export function launchOf(
  record: SandboxRecord,
  template: ResolvedTemplate,
  binds: NonNullable<SandboxLaunch['binds']>,
): SandboxLaunch {
  return {
    id: record.id,
    rootfs: template.rootfs,
    memoryMiB: record.memoryMiB,
    cpus: record.cpus,
    diskMiB: record.diskMiB,
    pids: record.pids,
    hostname: record.id,
    agent: { env: template.env, defaultUser: template.user, workdir: template.workdir },
    ...(template.layers ? { layers: template.layers } : {}),
    ...(binds.length > 0 ? { binds } : {}),
  };
}

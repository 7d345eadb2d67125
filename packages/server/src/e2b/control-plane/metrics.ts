import type { ApiContext } from '../../api/context.js';
import type { SandboxRecord } from '../../core/seams/store.js';

const MiB = 1_048_576;

/** Where CPU time comes from: the sandbox's cpuacct cgroup (undefined where none is readable). */
export type CpuUsageNs = (sandboxId: string) => Promise<number>;

/**
 * `SandboxMetric`s from what the host knows: memory from the runtime's cgroup, CPU as the
 * share of the sandbox's CPUs used since the previous sample (since start on the first), and
 * disk from `df` of the sandbox's root (its size-capped writable layer) through the agent.
 */
export class E2bMetrics {
  private readonly lastCpu = new Map<string, { ns: number; atMs: number }>();

  constructor(
    private readonly ctx: ApiContext,
    private readonly cpuUsageNs: CpuUsageNs | undefined,
  ) {}

  async sample(record: SandboxRecord) {
    const nowMs = Date.now();
    const memUsed = await this.ctx.service
      .runtimeFor(record.isolation)
      .usage(record.id)
      .then((u) => u.memoryBytes)
      .catch(() => 0);
    const [cpuUsedPct, disk] = await Promise.all([this.cpuPct(record, nowMs), this.disk(record)]);
    return {
      timestamp: new Date(nowMs).toISOString(),
      timestampUnix: Math.floor(nowMs / 1000),
      cpuCount: Math.max(1, Math.ceil(record.cpus)),
      cpuUsedPct,
      memUsed,
      memTotal: record.memoryMiB * MiB,
      memCache: 0,
      diskUsed: disk.used,
      diskTotal: disk.total,
    };
  }

  private async cpuPct(record: SandboxRecord, nowMs: number): Promise<number> {
    if (!this.cpuUsageNs) return 0;
    const ns = await this.cpuUsageNs(record.id).catch(() => undefined);
    if (ns === undefined) return 0;
    const previous = this.lastCpu.get(record.id) ?? { ns: 0, atMs: record.createdAtMs };
    this.lastCpu.set(record.id, { ns, atMs: nowMs });
    const wallNs = Math.max(1, (nowMs - previous.atMs) * 1e6);
    const pct = ((ns - previous.ns) / wallNs / Math.max(record.cpus, 0.01)) * 100;
    return Math.round(Math.min(100, Math.max(0, pct)) * 100) / 100;
  }

  private async disk(record: SandboxRecord): Promise<{ used: number; total: number }> {
    const fallback = { used: 0, total: record.diskMiB * MiB };
    if (record.state !== 'running') return fallback;
    try {
      let out = '';
      for await (const event of this.ctx
        .agentOf(record.id)
        .processes.run({ argv: ['df', '-B1', '-P', '/'], user: 'root' })) {
        if (event.type === 'stdout') out += Buffer.from(event.data, 'base64').toString();
      }
      const fields = out.trim().split('\n').at(-1)?.split(/\s+/) ?? [];
      const total = Number(fields[1]);
      const used = Number(fields[2]);
      return Number.isFinite(total) && Number.isFinite(used) ? { used, total } : fallback;
    } catch {
      return fallback;
    }
  }
}

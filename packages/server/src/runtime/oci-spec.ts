import type { SandboxLaunch } from '../core/seams/runtime.js';
import { seccompProfile } from './seccomp-profile.js';
import { UID_BASE, UID_COUNT } from './uid-map.js';

/** Paths inside the sandbox; docs/agent-protocol.md is the contract. */
export const AGENT_MOUNT = '/opt/paddock';
export const RUN_MOUNT = '/run/paddock';
/**
 * The sandbox's cpu cgroup, read-write (crun). Not over /sys/fs/cgroup/cpu: crun mounts the
 * cgroup tree after every other mount. In /dev: crun makes that tmpfs afresh at each start,
 * so no path the sandbox planted there outlives a restart.
 */
export const CPU_CGROUP_MOUNT = '/dev/paddock-cpu';

/** The agent start command of docs/agent-protocol.md. */
export const AGENT_ARGS = [
  `${AGENT_MOUNT}/bin/tini`,
  '-s',
  '--',
  `${AGENT_MOUNT}/lib/ld-linux-x86-64.so.2`,
  '--library-path',
  `${AGENT_MOUNT}/lib`,
  `${AGENT_MOUNT}/bin/node`,
  `${AGENT_MOUNT}/agent.js`,
];

/**
 * Capabilities of the sandbox's root (all relative to its own user namespace). Root needs
 * CHOWN/DAC_OVERRIDE/FOWNER/FSETID to manage files of any user, SETUID/SETGID to run
 * commands as `user`, KILL to signal them, NET_BIND_SERVICE for low ports in its own
 * network namespace, SETFCAP so package installs that set file capabilities work.
 * Left out: SYS_ADMIN, NET_ADMIN, NET_RAW (raw sockets: kernel surface), MKNOD, SYS_CHROOT,
 * AUDIT_WRITE (no audit in a user namespace), SETPCAP, SYS_PTRACE (own-uid ptrace needs none).
 */
export const CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_NET_BIND_SERVICE',
  'CAP_SETFCAP',
];

/**
 * Hidden inside crun sandboxes. `/proc/kallsyms` and `/proc/modules` give kernel addresses
 * when the host's kptr_restrict is 0 (a host sysctl the server does not change): masked, so
 * an exploit gets no KASLR bypass from them. gVisor shows its own /proc.
 */
const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/kallsyms',
  '/proc/modules',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export interface OciSpecInput {
  launch: SandboxLaunch;
  /** Host dir bind-mounted read-only at /opt/paddock. */
  agentRoot: string;
  /** Host dir bind-mounted read-write at /run/paddock. */
  runDir: string;
  cgroupsPath: string;
  /** crun: new empty netns, user namespace, seccomp. runsc: the driver provides the netns. */
  flavor: 'crun' | 'runsc';
  /**
   * Host dir of the sandbox's cpu cgroup (crun), bound read-write at CPU_CGROUP_MOUNT so that
   * the agent can start commands in its `workload` child (see cgroups.ts).
   */
  cpuCgroupDir?: string;
}

/** oom_score_adj of a sandbox's init and agent: above the server's 0, below its commands' 900. */
export const AGENT_OOM_SCORE_ADJ = 300;

/**
 * cpu.shares of every sandbox, whatever its `cpus`: under contention sandboxes share the host
 * equally; `cpus` is a ceiling (the CFS quota), never a larger share.
 */
export const SANDBOX_CPU_SHARES = 1024;

/**
 * RLIMIT_NPROC of a sandbox with a pids cap of `pids`: a little below it, so that a fork
 * bomb of one uid stops at the rlimit, which the kernel checks before it copies the parent's
 * memory map, instead of at the pids cap, checked after that copy. At the cap every failed
 * fork copies and frees the map, taking the i_mmap lock of each mapped file, and those files
 * (libc, the template's binaries) are shared with every sandbox of the same template: their
 * execs queued behind a thousand bomb processes for seconds (bench/neighbour.bench.ts). The
 * gap leaves the agent (root) room to run commands beside a bomb of `user`. Counted per uid
 * in the sandbox's user namespace; sandbox root cannot raise the hard limit (that needs
 * CAP_SYS_RESOURCE in the host's namespace).
 */
export function nprocLimit(pids: number): number {
  return pids - Math.min(64, Math.floor(pids / 4));
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** Builds the OCI runtime spec (config.json) of one sandbox. */
export function ociSpec(input: OciSpecInput): Record<string, unknown> {
  const { launch } = input;
  const periodUs = 100_000;
  const memoryBytes = launch.memoryMiB * 1024 * 1024;
  const namespaces = ['pid', 'ipc', 'uts', 'mount', 'cgroup', 'user', 'network'];
  // runsc gets no network namespace in the spec: the driver runs it inside the sandbox's netns
  // (`nsenter --net`), with `--network=none` or, on a host-made network, `--network=host`.
  const used = input.flavor === 'runsc' ? namespaces.filter((n) => n !== 'network') : namespaces;
  const idMap = [{ containerID: 0, hostID: UID_BASE, size: UID_COUNT }];
  const caps = { bounding: CAPABILITIES, effective: CAPABILITIES, permitted: CAPABILITIES };
  const linux: Record<string, unknown> = {
    // A host-made network (see network/) is joined by path; crun joins it before it makes the
    // user namespace, so the netns stays owned by the host's: no CAP_NET_ADMIN over it inside.
    namespaces: used.map((type) =>
      type === 'network' && launch.network ? { type, path: launch.network.netnsPath } : { type },
    ),
    uidMappings: idMap,
    gidMappings: idMap,
    cgroupsPath: input.cgroupsPath,
    resources: {
      devices: [{ allow: false, access: 'rwm' }],
      memory: { limit: memoryBytes, swap: memoryBytes },
      pids: { limit: launch.pids },
      // A quota of -1 is refused by crun on cgroup v1; "no limit" means no quota at all.
      cpu: {
        shares: SANDBOX_CPU_SHARES,
        ...(launch.cpus > 0 ? { quota: Math.round(launch.cpus * periodUs), period: periodUs } : {}),
      },
    },
    maskedPaths: MASKED_PATHS,
    readonlyPaths: READONLY_PATHS,
  };
  linux.seccomp = seccompProfile(input.flavor === 'crun' ? 'crun' : 'gvisor');
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: AGENT_ARGS,
      env: [
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'HOME=/root',
        `PADDOCK_SOCKET=${RUN_MOUNT}/agent.sock`,
        `PADDOCK_CONFIG=${RUN_MOUNT}/config.json`,
        // Tells the agent it runs in a sandbox (not by hand in tests): it may fix up /etc/hostname.
        'PADDOCK_SANDBOX=1',
      ],
      cwd: '/',
      capabilities: caps,
      noNewPrivileges: true,
      rlimits: [{ type: 'RLIMIT_NPROC', hard: nprocLimit(launch.pids), soft: nprocLimit(launch.pids) }],
      // The init and the agent. Under host memory pressure sandboxes go before the server (0);
      // inside, the agent starts commands at 900 (its workload-oom.ts), so a sandbox at its
      // memory limit loses a command, never the agent that reports it.
      oomScoreAdj: AGENT_OOM_SCORE_ADJ,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: launch.hostname,
    mounts: mounts(input),
    linux,
  };
}

function mounts(input: OciSpecInput): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
    },
    // Only its two `tasks` files are the sandbox root's (cgroups.ts): limits and weights stay the host's.
    ...(input.cpuCgroupDir
      ? [
          {
            destination: CPU_CGROUP_MOUNT,
            type: 'bind',
            source: input.cpuCgroupDir,
            options: ['rbind', 'rw', 'nosuid', 'nodev', 'noexec'],
          },
        ]
      : []),
    { destination: AGENT_MOUNT, type: 'bind', source: input.agentRoot, options: ['rbind', 'ro', 'nosuid', 'nodev'] },
    {
      destination: RUN_MOUNT,
      type: 'bind',
      source: input.runDir,
      options: ['rbind', 'rw', 'nosuid', 'nodev', 'noexec'],
    },
    ...(input.launch.network
      ? [
          { destination: '/etc/resolv.conf', source: input.launch.network.resolvConf },
          { destination: '/etc/hosts', source: input.launch.network.hosts },
        ].map((m) => ({ ...m, type: 'bind', options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'] }))
      : []),
    ...(input.launch.binds ?? []).map((b) => ({
      destination: b.destination,
      type: 'bind',
      source: b.source,
      options: ['rbind', b.readOnly ? 'ro' : 'rw', 'nosuid', 'nodev'],
    })),
  ];
}

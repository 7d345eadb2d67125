/**
 * The sandbox seccomp profile (OCI `linux.seccomp`): default-allow with a denylist.
 *
 * Why a denylist: crun 1.8.1 compiles the profile with libseccomp on every start, and the
 * stock ~380-syscall allowlist (containers-common) costs ~20 ms of a ~30 ms start (REPORT §3).
 * Measured here with `crun run /bin/true` in a prepared bundle, n=10, on this 2-vCPU VM while
 * other builds loaded it (so the minimum is the cleanest number): no seccomp min 98.6 ms,
 * this denylist min 98.1 ms, a 362-syscall allowlist min 126.2 ms (medians 167 / 148 / 163,
 * noisy). The denylist costs nothing measurable; the allowlist ~28 ms per start. Everything the allowlist blocks
 * that matters is either listed here or already refused by the user namespace and the
 * missing capabilities (mount, reboot, module loading, raw I/O, swap, time setting, …);
 * the list below adds the kernel surface that unprivileged code can still reach.
 * Other ABIs: the architectures list makes libseccomp add the same rules for the x86 and
 * x32 syscall numbers, so the 32-bit entry points cannot bypass them.
 *
 * ptrace stays allowed: debuggers and strace are normal tools in a code sandbox, and since
 * kernel 4.8 ptrace cannot be used to bypass seccomp. personality stays allowed: its risky
 * flags (READ_IMPLIES_EXEC, MMAP_PAGE_ZERO) are harmless with mmap_min_addr, and denying it
 * breaks `setarch` and the 0xffffffff query that some runtimes make.
 */
const EPERM = 1;
const ENOSYS = 38;
const CLONE_NEWUSER = 0x10000000;

/** Kernel surface that sandboxes never need and that has a history of local exploits. */
const DENIED = [
  // io_uring: a large, frequently exploited kernel surface (disabled by default in ChromeOS, Android, GKE).
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  // kernel keyrings are not namespaced.
  'keyctl',
  'add_key',
  'request_key',
  // new mount API (the old mount(2) already fails without CAP_SYS_ADMIN in the init userns).
  'fsopen',
  'fsconfig',
  'fsmount',
  'fspick',
  'move_mount',
  'open_tree',
  'mount_setattr',
  'mount',
  'umount2',
  'pivot_root',
  // modules and kexec
  'init_module',
  'finit_module',
  'delete_module',
  'kexec_load',
  'kexec_file_load',
  // handle-based opens (the "shocker" container escape class)
  'open_by_handle_at',
  'name_to_handle_at',
  // host-global knobs, refused anyway without capabilities; denying them shrinks the surface.
  'acct',
  'swapon',
  'swapoff',
  'reboot',
  'syslog',
  'quotactl',
  'quotactl_fd',
  'settimeofday',
  'clock_settime',
  'clock_adjtime',
  'adjtimex',
  'lookup_dcookie',
  'uselib',
  'ustat',
  'sysfs',
  '_sysctl',
  'vm86',
  'vm86old',
  'iopl',
  'ioperm',
  'setns',
  'fanotify_init',
];

export interface OciSeccomp {
  defaultAction: string;
  architectures: string[];
  syscalls: OciSyscallRule[];
}

export interface OciSyscallRule {
  names: string[];
  action: string;
  errnoRet?: number;
  args?: { index: number; value: number; valueTwo?: number; op: string }[];
}

/**
 * `gvisor`: runsc (`--oci-seccomp`) applies the profile in its sentry, where an errno other
 * than EPERM is not honoured for clone3 (Node's thread start then fails), so clone3 stays
 * allowed there; a user namespace inside gVisor never reaches the host kernel anyway, and
 * unshare(CLONE_NEWUSER) is still refused.
 */
export function seccompProfile(target: 'crun' | 'gvisor'): OciSeccomp {
  const newUserMask = { index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' };
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: DENIED, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
      // clone3 passes flags in memory where seccomp cannot see them; ENOSYS makes glibc fall
      // back to clone(2), whose flags the next rule can check.
      ...(target === 'crun' ? [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS }] : []),
      // New user namespaces would give sandbox code a full capability set over fresh
      // namespaces: the kernel surface most container escapes start from.
      { names: ['clone', 'unshare'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [newUserMask] },
    ],
  };
}

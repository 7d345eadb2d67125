"""Escape probes for test/security/runtime-escapes.test.ts.

Run inside a sandbox (as root and as `user`) it tries, one by one, what a sandbox must never
be able to do, and prints one JSON object: probe -> attempt -> outcome, where an outcome is
"ok" (the attempt worked), the errno name it failed with ("EPERM"), or for the scans a list of
what leaked. The test asserts exact errnos, so a probe that fails for the wrong reason (a
typo, a missing file) shows up instead of passing. `--host` runs only the probes that are
harmless on the host, as the control that each one can succeed where nothing blocks it.
Opening for writing is already the hole, so nothing is written, except where the write is
the attack whose effect the test measures on the host (cgroup limits, PID 1's stdout).
"""

import ctypes
import errno
import json
import os
import socket
import stat
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

# x86_64 syscall numbers (the sandboxes run x86_64 only).
NR = {
    'getpid': 39,
    'clone': 56,
    'mount': 165,
    'umount2': 166,
    'add_key': 248,
    'keyctl': 250,
    'unshare': 272,
    'perf_event_open': 298,
    'open_by_handle_at': 304,
    'bpf': 321,
    'userfaultfd': 323,
    'io_uring_setup': 425,
    'open_tree': 428,
    'fsopen': 430,
    'clone3': 435,
    }
CLONE_NEWUSER = 0x10000000
SIGCHLD = 17


def errname(code):
    return errno.errorcode.get(code, f'errno {code}')


def arg(value):
    if isinstance(value, int):
        return ctypes.c_long(value)
    if isinstance(value, bytes):
        return ctypes.c_char_p(value)
    return value


def syscall(name, *args):
    """(return value, outcome): the outcome is "ok" or the errno name."""
    ctypes.set_errno(0)
    ret = libc.syscall(ctypes.c_long(NR[name]), *[arg(a) for a in args])
    return (ret, 'ok') if ret != -1 else (ret, errname(ctypes.get_errno()))


def fd_syscall(name, *args):
    """For calls that return an fd: closes it, returns the outcome."""
    ret, outcome = syscall(name, *args)
    if outcome == 'ok':
        os.close(ret)
    return outcome


def in_child(attempt):
    """Runs `attempt` in a forked child (it may change the process), returns its outcome."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write_end, attempt().encode())
        finally:
            os._exit(0)
    os.close(write_end)
    outcome = os.read(read_end, 200).decode() or 'child died'
    os.close(read_end)
    os.waitpid(pid, 0)
    return outcome


def forking_syscall(name, *args):
    """clone/clone3 that return 0 in a new child: the child leaves at once."""
    ret, outcome = syscall(name, *args)
    if outcome == 'ok':
        if ret == 0:
            os._exit(0)
        os.waitpid(ret, 0)
    return outcome


def open_outcome(path, flags):
    try:
        os.close(os.open(path, flags))
        return 'ok'
    except OSError as err:
        return errname(err.errno)


def read_outcome(path):
    try:
        with open(path, 'rb') as f:
            f.read(64)
        return 'ok'
    except OSError as err:
        return errname(err.errno)


def socket_outcome(family, kind, proto=0):
    try:
        socket.socket(family, kind, proto).close()
        return 'ok'
    except OSError as err:
        return errname(err.errno)


def kernel_surface():
    params = ctypes.create_string_buffer(120)  # struct io_uring_params
    bpf_attr = ctypes.create_string_buffer(128)  # BPF_MAP_CREATE: an array map of one u32
    ctypes.memmove(bpf_attr, (2).to_bytes(4, 'little') + (4).to_bytes(4, 'little') * 2 + (1).to_bytes(4, 'little'), 16)
    perf_attr = ctypes.create_string_buffer(128)  # software cpu-clock, user space only
    ctypes.memmove(perf_attr, (1).to_bytes(4, 'little') + (128).to_bytes(4, 'little'), 8)
    ctypes.memmove(ctypes.addressof(perf_attr) + 40, (1 | 1 << 5 | 1 << 6).to_bytes(8, 'little'), 8)
    return {
        'getpid (control)': syscall('getpid')[1],
        'io_uring_setup': fd_syscall('io_uring_setup', 1, params),
        'bpf map create': fd_syscall('bpf', 0, bpf_attr, 128),
        'perf_event_open': fd_syscall('perf_event_open', perf_attr, 0, -1, -1, 8),
        # O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY: the variant unprivileged code may use.
        'userfaultfd': fd_syscall('userfaultfd', 0o2000000 | 0o4000 | 1),
        'keyctl get session keyring': syscall('keyctl', 0, -3, 1)[1],
        'add_key': syscall('add_key', b'user', b'paddock-probe', b'x', 1, -2)[1],
    }


def user_namespaces():
    clone_args = ctypes.create_string_buffer(88)  # struct clone_args: flags, ..., exit_signal at 32
    ctypes.memmove(clone_args, CLONE_NEWUSER.to_bytes(8, 'little'), 8)
    ctypes.memmove(ctypes.addressof(clone_args) + 32, SIGCHLD.to_bytes(8, 'little'), 8)
    return {
        'fork (control)': in_child(lambda: 'ok'),
        'unshare(0) (control)': in_child(lambda: syscall('unshare', 0)[1]),
        'unshare(CLONE_NEWUSER)': in_child(lambda: syscall('unshare', CLONE_NEWUSER)[1]),
        'clone(CLONE_NEWUSER)': forking_syscall('clone', CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0),
        'clone3(CLONE_NEWUSER)': forking_syscall('clone3', clone_args, 88),
    }


def raw_sockets():
    return {
        'tcp socket (control)': socket_outcome(socket.AF_INET, socket.SOCK_STREAM),
        'udp socket (control)': socket_outcome(socket.AF_INET, socket.SOCK_DGRAM),
        'AF_INET SOCK_RAW': socket_outcome(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
        'AF_INET6 SOCK_RAW': socket_outcome(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6),
        'AF_PACKET SOCK_RAW': socket_outcome(socket.AF_PACKET, socket.SOCK_RAW, 0x0300),
    }


def mounts():
    target = '/tmp/paddock-probe-mnt'
    os.makedirs(target, exist_ok=True)
    ms_remount_bind = 32 | 4096
    return {
        'mkdir in /tmp (control)': 'ok' if os.path.isdir(target) else 'missing',
        'mount tmpfs': syscall('mount', b'none', target.encode(), b'tmpfs', 0, None)[1],
        'remount /opt/paddock read-write': syscall('mount', None, b'/opt/paddock', None, ms_remount_bind, None)[1],
        'umount the mask over /proc/kcore': syscall('umount2', b'/proc/kcore', 2)[1],
        'umount /opt/paddock': syscall('umount2', b'/opt/paddock', 2)[1],
        'fsopen tmpfs': fd_syscall('fsopen', b'tmpfs', 0),
        'open_tree clone of /': fd_syscall('open_tree', -100, b'/', 1),
        # The "shocker" escape: open a host inode by handle, here the root's (ext4 handle type 1).
        'open_by_handle_at': fd_syscall('open_by_handle_at', -100, ctypes.create_string_buffer(16), 0),
    }


def cgroups():
    found = {'release_agent': [], 'notify_on_release': [], 'limits': []}
    for top, dirs, files in os.walk('/sys/fs/cgroup'):
        if top.count('/') > 5:
            dirs[:] = []
        for name in files:
            if name in found:
                found[name].append(os.path.join(top, name))
    target = '/tmp/paddock-probe-cgroup'
    os.makedirs(target, exist_ok=True)
    return {
        'read pids.max (control)': read_outcome(PIDS_MAX),
        'mount a cgroup v1 hierarchy': syscall('mount', b'cgroup', target.encode(), b'cgroup', 0, b'rdma')[1],
        'open release_agent for writing': writable(found['release_agent']),
        'open notify_on_release for writing': writable(found['notify_on_release']),
        # The one write of this file: where it opens (gVisor's own cgroupfs) the test checks that
        # the host's limits around the sandbox stayed as they were.
        'raise pids.max': write_outcome(PIDS_MAX, b'max'),
        'raise memory.limit_in_bytes': write_outcome(MEMORY_LIMIT, b'9223372036854771712'),
    }


PIDS_MAX = '/sys/fs/cgroup/pids/pids.max'
MEMORY_LIMIT = '/sys/fs/cgroup/memory/memory.limit_in_bytes'


def writable(paths):
    return sorted({open_outcome(p, os.O_WRONLY) for p in paths}) or ['none found']


def write_outcome(path, data):
    try:
        with open(path, 'wb', buffering=0) as f:
            f.write(data)
        return 'ok'
    except OSError as err:
        return errname(err.errno)


def proc_sys():
    return {
        'read overcommit_memory (control)': read_outcome('/proc/sys/vm/overcommit_memory'),
        'core_pattern': open_outcome('/proc/sys/kernel/core_pattern', os.O_WRONLY),
        'drop_caches': open_outcome('/proc/sys/vm/drop_caches', os.O_WRONLY),
        'randomize_va_space': open_outcome('/proc/sys/kernel/randomize_va_space', os.O_WRONLY),
        'overcommit_memory': open_outcome('/proc/sys/vm/overcommit_memory', os.O_WRONLY),
        'ip_forward': open_outcome('/proc/sys/net/ipv4/ip_forward', os.O_WRONLY),
    }


def devices():
    """Makes a device node in /tmp and opens it: either step may be what refuses."""
    target = '/tmp/paddock-probe-dev'
    return {
        'mknod a fifo (control)': node_outcome(target + '-fifo', stat.S_IFIFO | 0o600, 0),
        'the block device 8:0': node_outcome(target + '-sda', stat.S_IFBLK | 0o600, os.makedev(8, 0)),
        '/dev/mem (char 1:1)': node_outcome(target + '-mem', stat.S_IFCHR | 0o600, os.makedev(1, 1)),
    }


def node_outcome(path, mode, device):
    try:
        os.mknod(path, mode, device)
    except OSError as err:
        return errname(err.errno)
    try:
        if not stat.S_ISFIFO(mode):
            os.close(os.open(path, os.O_RDONLY))
        return 'ok'
    except OSError as err:
        return errname(err.errno)
    finally:
        os.unlink(path)


def pids():
    return sorted(int(name) for name in os.listdir('/proc') if name.isdigit())


def same_file(a, b):
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def top_of(path):
    """The root a directory reaches by `..`: the sandbox's / unless the dir is outside it."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(256):
            parent = os.open('..', os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            if same_file(os.fstat(parent), os.fstat(fd)):
                os.close(parent)
                return os.fstat(fd)
            os.close(fd)
            fd = parent
        return os.fstat(fd)
    finally:
        os.close(fd)


def outside(link, root):
    """Why the object behind /proc magic link `link` lies outside the sandbox, or None."""
    try:
        target = os.stat(link)
        name = os.readlink(link)
    except OSError:
        return None  # gone, or not ours to look at
    if stat.S_ISDIR(target.st_mode):
        return None if same_file(top_of(link), root) else f'dir {name}'
    if not name.startswith('/') or name.endswith(' (deleted)'):
        return None  # pipes, sockets, anon inodes
    try:
        return None if same_file(os.stat(name), target) else f'file {name} (another file by that name here)'
    except OSError:
        return f'file {name} (no such path in the sandbox)'


def fd_leaks():
    root = os.stat('/')
    dirs, files, seen = [], [], 0
    for pid in pids():
        base = f'/proc/{pid}'
        try:
            fds = [f'{base}/fd/{n}' for n in os.listdir(f'{base}/fd')]
        except OSError:
            fds = []
        for link in [f'{base}/cwd', f'{base}/root', *fds]:
            seen += 1
            why = outside(link, root)
            if why is not None:
                (dirs if why.startswith('dir ') else files).append(f'{link}: {why}')
    return {
        'walk from /tmp reaches / (control)': 'ok' if same_file(top_of('/tmp'), root) else 'no',
        'links looked at (control)': 'ok' if seen >= 3 else f'only {seen}',
        'dirs outside the sandbox': dirs,
        'files outside the sandbox': files,
    }


def init_stdout():
    """Appends 1 MiB to PID 1's stdout: the test checks that no host file grew by it."""
    return {'append 1 MiB to /proc/1/fd/1': write_outcome('/proc/1/fd/1', bytes(1 << 20))}


def exe():
    agent = next((p for p in pids() if b'/opt/paddock/agent.js' in read_bytes(f'/proc/{p}/cmdline')), None)
    exes = []
    for pid in pids():
        why = outside_exe(f'/proc/{pid}/exe')
        if why is not None:
            exes.append(f'{pid}: {why}')
    return {
        'read /proc/self/exe (control)': 'ok' if read_bytes('/proc/self/exe')[:4] == b'\x7fELF' else 'no',
        'open /proc/self/exe for writing': open_outcome('/proc/self/exe', os.O_WRONLY),
        'open /proc/1/exe (tini) for writing': open_outcome('/proc/1/exe', os.O_WRONLY),
        "open the agent's /proc/PID/exe for writing": open_outcome(f'/proc/{agent}/exe', os.O_WRONLY),
        'open /opt/paddock/bin/node for writing': open_outcome('/opt/paddock/bin/node', os.O_WRONLY),
        'binaries from outside the sandbox': exes,
    }


def outside_exe(link):
    try:
        target, name = os.stat(link), os.readlink(link)
    except OSError:
        return None
    try:
        return None if same_file(os.stat(name), target) else name
    except OSError:
        return name


def read_bytes(path):
    try:
        with open(path, 'rb') as f:
            return f.read(4096)
    except OSError:
        return b''


PROBES = {
    'kernel surface': kernel_surface,
    'user namespaces': user_namespaces,
    'raw sockets': raw_sockets,
    'mounts': mounts,
    'cgroups': cgroups,
    'proc sys': proc_sys,
    'fd leaks': fd_leaks,
    'init stdout': init_stdout,
    'devices': devices,
    'exe': exe,
}
# Harmless on the host: nothing mounted, written or kept.
HOST_SAFE = ('kernel surface', 'user namespaces', 'raw sockets')

if __name__ == '__main__':
    names = HOST_SAFE if '--host' in sys.argv else PROBES
    print(json.dumps({name: PROBES[name]() for name in names}, indent=1))

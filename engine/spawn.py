"""Running the programs a manifest asks for (exec and health-check commands, init scripts, a pip
package's Python): on this host when the target root is ``/``, chrooted into the target root otherwise.

Converging a root other than ``/`` means converging an image, and Puppet users do that with
``chroot /srv/image puppet apply``: an ``exec { 'touch /tmp/x': creates => '/tmp/x' }`` changes the
image's /tmp/x, the very file its ``creates`` looks at, and an init script found in the image runs
inside the image. Running them on the host instead would let an image (its manifest, its scripts, its
interpreter) change the machine that builds it, so under a root they always run confined, with the
root's own shell and programs: a command needs /bin/sh (or its program) inside the root. Entering a
chroot needs root privileges; without them such a command fails with one clear message.

A chroot alone does not hold a program that runs as root: it may chroot(2) again into a subdirectory,
climb out with ``chdir("..")`` and reach the host (the classic double-chroot escape), or mount, make
device nodes, load kernel modules, open files by handle (open_by_handle_at(2)). So, between fork and
exec, the child also

* drops from its capability bounding set (:data:`DROPPED_CAPABILITIES`) every capability that reaches
  past the chroot: CAP_SYS_CHROOT (no second chroot, so no double-chroot escape), CAP_SYS_ADMIN (no
  mount, pivot_root, setns), CAP_DAC_READ_SEARCH (no open_by_handle_at), CAP_MKNOD, CAP_SYS_MODULE,
  CAP_SYS_RAWIO, CAP_SYS_PTRACE, CAP_SYS_BOOT, CAP_SYS_TIME, CAP_NET_ADMIN, CAP_NET_RAW (no sniffing the
  host's traffic), CAP_SYSLOG, CAP_BPF, CAP_PERFMON and a few more. A program executed as root gets the
  bounding set as its permitted set, so it and everything it starts never hold them; the inheritable
  and ambient sets are cleared too, so nothing brings them back;
* sets PR_SET_NO_NEW_PRIVS: setuid-root and file-capability programs in the image grant nothing (a
  command run as another user cannot become root again);
* enters a new IPC namespace when the kernel lets it (it needs CAP_SYS_ADMIN here, which the agent
  normally has), so the host's System V shared memory, semaphores and message queues are out of reach.

What this does not cover: the program still runs as root (or as the exec's user) on the host's kernel,
in the host's PID and network namespaces. It keeps CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER,
CAP_SETUID/CAP_SETGID and the like, which act on the files it can reach (those of the image) and on
processes of its own uid: as root it can signal the host's root processes (kill needs no capability
for the same uid), and after switching to another uid it may ptrace that uid's processes on the host
if the kernel's ptrace policy (Yama) allows. It shares the host's network: it can reach services on
the host's loopback and abstract Unix sockets. It can use any device node the image already holds
(an image with a node of the host's disk gives it the disk). No mount namespace is made: without
CAP_SYS_ADMIN the program cannot mount or unmount anything in the first place. None of this is a
container; converge untrusted catalogs inside one (or a VM) when that matters.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import ProviderError
from engine.fsutil import under_root

log = logging.getLogger(__name__)

SHELL = "/bin/sh"


@dataclass(frozen=True, slots=True)
class RunAs:
    """The account a program runs as: ids from the target root's own account files."""

    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] | None = None  # supplementary groups; None keeps ours


def _executable(host_path: str) -> bool:
    return os.path.isfile(host_path) and os.access(host_path, os.X_OK)


def find_program(root: str, name: str, search: Sequence[str]) -> str | None:
    """``name`` on the search path as the target root sees it (the returned path is the root's)."""
    for directory in search:
        candidate = f"{directory.rstrip('/')}/{name}"
        if _executable(under_root(root, candidate)):
            return candidate
    return None


def shell_argv(root: str, command: str) -> list[str]:
    """``/bin/sh -c COMMAND`` with the root's shell."""
    if root != "/" and not _executable(under_root(root, SHELL)):
        raise ProviderError(f"cannot run '{command}' in chroot {root}: there is no {SHELL} in it")
    return [SHELL, "-c", command]


def check_program(root: str, program: str) -> None:
    """Fail clearly when the absolute ``program`` does not exist inside the target root."""
    if root != "/" and not _executable(under_root(root, program)):
        raise ProviderError(f"could not find command '{program}' in chroot {root}")


#: Capabilities a program run under a target root never holds (see the module): their numbers, by name.
DROPPED_CAPABILITIES: dict[str, int] = {
    "CAP_DAC_READ_SEARCH": 2, "CAP_KILL": 5, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23, "CAP_SYS_TIME": 25,
    "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_AUDIT_CONTROL": 30, "CAP_MAC_OVERRIDE": 32,
    "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36,
    "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
}
_CAP_SETPCAP = 8
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CLONE_NEWIPC = 0x08000000
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    """The C library (loaded in the parent: the child between fork and exec only calls into it)."""
    global _libc
    if _libc is None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4  # the kernel wants unused ones 0
        libc.prctl.restype = ctypes.c_int
        libc.capget.argtypes = libc.capset.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        libc.unshare.argtypes = [ctypes.c_int]
        _libc = libc
    return _libc


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _may_confine() -> bool:
    """Whether this process can shrink a child's capability bounding set (it needs CAP_SETPCAP)."""
    libc = _c()
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        return False
    return bool(data[0].effective & (1 << _CAP_SETPCAP))


def _confine(libc: ctypes.CDLL) -> None:
    """Take the capabilities of :data:`DROPPED_CAPABILITIES` from every program this process will
    exec, and forbid gaining privileges by exec (see the module). Runs in the child."""
    for cap in DROPPED_CAPABILITIES.values():
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
            _check(-1, "dropping capabilities")  # EINVAL: a capability this kernel does not know
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(libc.capget(ctypes.byref(header), data), "reading capabilities")
    data[0].inheritable = data[1].inheritable = 0
    _check(libc.capset(ctypes.byref(header), data), "clearing inheritable capabilities")
    if libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
        _check(-1, "clearing ambient capabilities")  # EINVAL: a kernel without ambient capabilities
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "setting no_new_privs")


def _enter(root: str, cwd: str, run_as: RunAs | None) -> Callable[[], None]:
    libc = _c()

    def enter() -> None:
        # In the child, between fork and exec: only system calls here.
        libc.unshare(_CLONE_NEWIPC)  # best effort (see the module): a kernel or sandbox may refuse it
        os.chroot(root)
        os.chdir(cwd)
        _confine(libc)
        if run_as is not None:
            if run_as.groups is not None:
                os.setgroups(list(run_as.groups))
            if run_as.gid is not None:
                os.setgid(run_as.gid)
            if run_as.uid is not None:
                os.setuid(run_as.uid)

    return enter


def spawn_options(root: str, *, cwd: str | None = None, run_as: RunAs | None = None) -> dict[str, Any]:
    """Keyword arguments for :mod:`subprocess` that run a program as the target ``root`` sees it: in
    ``cwd`` (a path of the root) and as ``run_as``, chrooted into ``root`` unless it is ``/``."""
    if root == "/":
        opts: dict[str, Any] = {"cwd": cwd}
        if run_as is not None:
            if run_as.uid is not None:
                opts["user"] = run_as.uid
            if run_as.gid is not None:
                opts["group"] = run_as.gid
            if run_as.groups is not None:
                opts["extra_groups"] = list(run_as.groups)
        return opts
    if os.geteuid() != 0:
        raise ProviderError(f"cannot run programs in chroot {root}: entering a chroot needs root privileges")
    if not _may_confine():
        raise ProviderError(f"cannot run programs in chroot {root}: confining them needs the CAP_SETPCAP "
                            "capability, which this process lacks")
    if cwd is not None and not os.path.isdir(under_root(root, cwd)):
        raise ProviderError(f"working directory '{cwd}' does not exist in {root}")
    return {"preexec_fn": _enter(root, cwd or "/", run_as)}


def run_program(root: str, argv: Sequence[str], *, cwd: str | None = None, run_as: RunAs | None = None,
                **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run`` of a program on the manifest's behalf, confined to ``root`` (see the module).

    Raises ProviderError when the program cannot be started; ``subprocess.TimeoutExpired`` passes
    through for the caller to word."""
    argv = list(argv)
    if argv and argv[0].startswith("/"):
        check_program(root, argv[0])
    options = spawn_options(root, cwd=cwd, run_as=run_as)
    where = f" in chroot {root}" if root != "/" else ""
    log.debug("running %s%s", " ".join(argv), where)
    try:
        return subprocess.run(argv, **options, **kwargs)
    except FileNotFoundError as exc:
        raise ProviderError(f"could not find command '{exc.filename or argv[0]}'{where}") from None
    except PermissionError as exc:
        raise ProviderError(f"cannot execute {argv[0]}{where}: {exc.strerror}") from None
    except subprocess.SubprocessError as exc:
        if isinstance(exc, subprocess.TimeoutExpired):
            raise
        # What failed in the child (chroot, chdir, setuid) is not reported back in detail.
        raise ProviderError(f"could not start {argv[0]}{where}: {exc}") from None

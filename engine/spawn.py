"""Running the programs a manifest asks for (exec and health-check commands, init scripts, a pip
package's Python): on this host when the target root is ``/``, chrooted into the target root otherwise.

Converging a root other than ``/`` means converging an image, and Puppet users do that with
``chroot /srv/image puppet apply``: an ``exec { 'touch /tmp/x': creates => '/tmp/x' }`` changes the
image's /tmp/x, the very file its ``creates`` looks at, and an init script found in the image runs
inside the image. Running them on the host instead would let an image (its manifest, its scripts, its
interpreter) change the machine that builds it, so under a root they always run confined, with the
root's own shell and programs: a command needs /bin/sh (or its program) inside the root. Entering a
chroot needs root privileges; without them such a command fails with one clear message.
"""

from __future__ import annotations

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


def _enter(root: str, cwd: str, run_as: RunAs | None) -> Callable[[], None]:
    def enter() -> None:
        # In the child, between fork and exec: only system calls here.
        os.chroot(root)
        os.chdir(cwd)
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

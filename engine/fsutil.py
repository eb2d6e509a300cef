"""Filesystem helpers: atomic writes (temp file in the same directory, fsync, rename), removal of the
temp files a killed writer left behind, and path resolution inside a target root as chroot(2) does it.

Temp files are named ``.NAME.PID.XXXXXXXX.bunraku`` (NAME the target's file name, PID the writer's
process id, XXXXXXXX eight random hex digits), so the next writer of the same target can tell its
own leftovers from anyone else's file and from a write still in progress.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import secrets
import stat

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".bunraku"
#: What follows ``.NAME.`` in a temp file's name.
_TEMP_TAIL = re.compile(r"\A(\d+)\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + r"\Z")
#: Any of our temp files, whatever its target.
_ANY_TEMP = re.compile(r"\A\..+\.(\d+)\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + r"\Z")
#: As Linux: more symbolic links than this while resolving one path is a loop.
_MAX_LINKS = 40


def temp_name(path: str) -> str:
    """A fresh temp file name next to ``path`` (not created)."""
    directory, name = os.path.split(path)
    return os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def temp_writer_pid(name: str) -> int | None:
    """The writer's pid if ``name`` (a file name, no directory) is one of our temp files."""
    m = _ANY_TEMP.match(name)
    return int(m.group(1)) if m else None


def _process_exists(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _held_by_a_writer(path: str) -> bool:
    """Whether a writer still holds the lock it takes on its temp file (a writer in another pid
    namespace can look gone by its pid and still be writing)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
    return False


def is_stale_temp(directory: str, name: str) -> bool:
    """Whether ``directory/name`` is one of our temp files whose writer is gone."""
    pid = temp_writer_pid(name)
    if pid is None or _process_exists(pid):
        return False
    path = os.path.join(directory, name)
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return not (stat.S_ISREG(st.st_mode) and _held_by_a_writer(path))


def remove_stale_temps(path: str) -> list[str]:
    """Remove the temp files of target ``path`` left by writers that are gone (killed mid-write);
    return their paths. Temp files of other targets and of writers still running stay."""
    directory, name = os.path.split(path)
    directory = directory or "."
    prefix = f".{name}."
    removed: list[str] = []
    try:
        entries = [e.name for e in os.scandir(directory)]
    except OSError:
        return removed
    for entry in entries:
        if not entry.startswith(prefix) or not _TEMP_TAIL.match(entry[len(prefix):]):
            continue
        if not is_stale_temp(directory, entry):
            continue
        stale = os.path.join(directory, entry)
        try:
            os.unlink(stale)
        except FileNotFoundError:
            continue
        log.info("removed %s, a temporary file left by an interrupted write of %s", stale, path)
        removed.append(stale)
    return removed


def _create_temp(path: str) -> tuple[int, str]:
    while True:
        tmp = temp_name(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue
        # Held until the file is closed: tells a cleaner in another pid namespace that we are writing.
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd, tmp


def atomic_write(path: str, data: bytes, *, mode: int | None = None, uid: int | None = None,
                 gid: int | None = None) -> None:
    """Replace ``path`` with ``data`` so readers see the old file or the new one, never half of it."""
    remove_stale_temps(path)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            if uid is not None or gid is not None:
                os.fchown(fh.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_symlink(target: str, path: str) -> None:
    remove_stale_temps(path)
    while True:
        tmp = temp_name(path)
        try:
            os.symlink(target, tmp)
            break
        except FileExistsError:
            continue
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def under_root(root: str, path: str, *, follow: bool = True) -> str:
    """``path`` (absolute, as the catalog names it) inside the target ``root``, resolved as it would be
    after chroot(2) into ``root``: every symbolic link on the way is read and followed inside the
    root (an absolute target starts again at the root, ``..`` never climbs above it), so no link in
    the image can lead onto the host. With ``follow=False`` the last component is not followed (for
    lstat, readlink, unlink and rename of the entry itself).

    Raises OSError(ELOOP) for a loop of links.
    """
    if root == "/":
        return path
    pending = [part for part in reversed(path.split("/")) if part and part != "."]
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        if not pending and not follow:
            resolved.append(part)
            continue
        try:
            target = os.readlink(os.path.join(root, *resolved, part))
        except OSError:  # EINVAL: not a link; ENOENT: missing; ENOTDIR: below a file (open fails later)
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_LINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), os.path.join(root, path.lstrip("/")))
        if target.startswith("/"):
            resolved = []
        pending.extend(p for p in reversed(target.split("/")) if p and p != ".")
    return os.path.join(root, *resolved)

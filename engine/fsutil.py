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
import threading

log = logging.getLogger(__name__)

TEMP_SUFFIX = ".bunraku"
#: What follows ``.NAME.`` in a temp file's name.
_TEMP_TAIL = re.compile(r"\A(\d+)\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + r"\Z")
#: Any of our temp files, whatever its target.
_ANY_TEMP = re.compile(r"\A\..+\.(\d+)\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + r"\Z")
#: The target of one of our temp files: ``.NAME.PID.XXXXXXXX.bunraku`` -> NAME.
_TEMP_TARGET = re.compile(r"\A\.(.+)\.\d+\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX) + r"\Z")
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


def _held_by_a_writer(path: str, dir_fd: int | None = None) -> bool:
    """Whether a writer still holds the lock it takes on its temp file (a writer in another pid
    namespace can look gone by its pid and still be writing)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
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


def is_stale_temp(directory: str, name: str, *, dir_fd: int | None = None) -> bool:
    """Whether ``directory/name`` is one of our temp files whose writer is gone (with ``dir_fd``,
    ``name`` in that open directory; ``directory`` is then only its name)."""
    pid = temp_writer_pid(name)
    if pid is None or _process_exists(pid):
        return False
    path = name if dir_fd is not None else os.path.join(directory, name)
    try:
        st = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
    except OSError:
        return False
    return not (stat.S_ISREG(st.st_mode) and _held_by_a_writer(path, dir_fd))


class _TempIndex:
    """Our temp files in each directory, by target, as of the directory's last change: writing N files into
    one directory lists it once, not N times (a listing per write made that quadratic). An entry is valid
    while the directory's mtime is the one it was listed at, or the one this process's own write left."""

    def __init__(self, limit: int = 1024) -> None:
        self._lock = threading.Lock()
        self._dirs: dict[tuple[int, int], tuple[int, dict[str, list[str]]]] = {}
        self._limit = limit

    def temps(self, directory: str, dir_fd: int | None) -> tuple[tuple[int, int], dict[str, list[str]]] | None:
        """(the directory's key, target name -> its temp files' names), or None if it cannot be listed."""
        try:
            st = os.stat(directory if dir_fd is None else dir_fd)
            key = (st.st_dev, st.st_ino)
            with self._lock:
                cached = self._dirs.get(key)
            if cached is not None and cached[0] == st.st_mtime_ns:
                return key, cached[1]
            found: dict[str, list[str]] = {}
            for entry in os.scandir(directory if dir_fd is None else dir_fd):
                m = _TEMP_TARGET.match(entry.name)
                if m is not None:
                    found.setdefault(m.group(1), []).append(entry.name)
        except OSError:
            return None
        with self._lock:
            if len(self._dirs) >= self._limit:
                self._dirs.clear()
            self._dirs[key] = (st.st_mtime_ns, found)
        return key, found

    def changed_by_us(self, key: tuple[int, int], before: int | None, directory: str, dir_fd: int | None) -> None:
        """This process changed the directory (a temp file created and renamed, a leftover removed): the
        listing stays valid, at the directory's new mtime, if nobody else changed it first."""
        try:
            mtime = os.stat(directory if dir_fd is None else dir_fd).st_mtime_ns
        except OSError:
            return
        with self._lock:
            cached = self._dirs.get(key)
            if cached is not None and (before is None or cached[0] == before):
                self._dirs[key] = (mtime, cached[1])

    def mtime(self, key: tuple[int, int]) -> int | None:
        with self._lock:
            cached = self._dirs.get(key)
        return None if cached is None else cached[0]


_TEMPS = _TempIndex()


def remove_stale_temps(path: str, *, dir_fd: int | None = None) -> list[str]:
    """Remove the temp files of target ``path`` left by writers that are gone (killed mid-write);
    return their paths. Temp files of other targets and of writers still running stay. With
    ``dir_fd``, ``path`` is a name in that open directory."""
    directory, name = os.path.split(path)
    directory = directory or "."
    removed: list[str] = []
    listed = _TEMPS.temps(directory, dir_fd)
    if listed is None:
        return removed
    key, temps = listed
    entries = temps.get(name)
    if not entries:
        return removed
    before = _TEMPS.mtime(key)
    for entry in list(entries):
        if not _TEMP_TAIL.match(entry[len(name) + 2:]) or not is_stale_temp(directory, entry, dir_fd=dir_fd):
            continue
        stale = os.path.join(directory, entry)
        try:
            os.unlink(entry if dir_fd is not None else stale, dir_fd=dir_fd)
        except FileNotFoundError:
            entries.remove(entry)
            continue
        entries.remove(entry)
        log.info("removed %s, a temporary file left by an interrupted write of %s", stale, path)
        removed.append(stale)
    if removed:
        _TEMPS.changed_by_us(key, before, directory, dir_fd)
    return removed


def _note_own_write(path: str, dir_fd: int | None, before: tuple[tuple[int, int], int | None] | None) -> None:
    if before is not None:
        directory = os.path.dirname(path) or "."
        _TEMPS.changed_by_us(before[0], before[1], directory, dir_fd)


def _listing_before(path: str, dir_fd: int | None) -> tuple[tuple[int, int], int | None] | None:
    listed = _TEMPS.temps(os.path.dirname(path) or ".", dir_fd)
    return None if listed is None else (listed[0], _TEMPS.mtime(listed[0]))


def _create_temp(path: str, dir_fd: int | None = None) -> tuple[int, str]:
    while True:
        tmp = temp_name(path)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=dir_fd)
        except FileExistsError:
            continue
        # Held until the file is closed: tells a cleaner in another pid namespace that we are writing.
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd, tmp


def atomic_write(path: str, data: bytes, *, mode: int | None = None, uid: int | None = None,
                 gid: int | None = None, dir_fd: int | None = None) -> None:
    """Replace ``path`` with ``data`` so readers see the old file or the new one, never half of it.
    With ``dir_fd``, ``path`` is a name in that open directory (see :func:`entry_in_root`)."""
    if dir_fd is not None and os.sep in path:
        raise ValueError(f"{path!r}: with dir_fd, a name in the directory, not a path")
    remove_stale_temps(path, dir_fd=dir_fd)
    before = _listing_before(path, dir_fd)
    fd, tmp = _create_temp(path, dir_fd)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            if uid is not None or gid is not None:
                os.fchown(fh.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
            os.fsync(fh.fileno())
        os.replace(tmp, path, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        _note_own_write(path, dir_fd, before)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        raise


def atomic_symlink(target: str, path: str) -> None:
    remove_stale_temps(path)
    before = _listing_before(path, None)
    while True:
        tmp = temp_name(path)
        try:
            os.symlink(target, tmp)
            break
        except FileExistsError:
            continue
    try:
        os.replace(tmp, path)
        _note_own_write(path, None, before)
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


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _walk_in_root(root: str, path: str, *, entry: bool, follow: bool, create: bool,
                  mode: int) -> tuple[int, str]:
    """The walk behind :func:`entry_in_root` and :func:`open_dir_in_root`: returns an open directory
    and the name of ``path``'s entry in it (``"."`` when ``entry`` is false or the path ends at a
    directory, e.g. ``/`` or ``/a/..``)."""
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    stack = [root_fd]  # the directories from the root down to where the walk stands, each held open
    pending = [part for part in reversed(path.split("/")) if part and part != "."]
    links = 0
    made = 0
    try:
        while pending:
            part = pending.pop()
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            here = stack[-1]
            if entry and not pending:
                if not follow:
                    return stack.pop(), part
                try:
                    target = os.readlink(part, dir_fd=here)
                except OSError:  # not a link, or missing: the entry itself
                    return stack.pop(), part
            else:
                try:
                    stack.append(os.open(part, _DIR_FLAGS, dir_fd=here))
                    continue
                except FileNotFoundError:
                    if not create:
                        raise
                    made += 1
                    if made > _MAX_LINKS:  # removed again each time: someone is racing us
                        raise
                    try:
                        os.mkdir(part, mode, dir_fd=here)
                    except FileExistsError:
                        pass
                    pending.append(part)  # open what is there now (a link made meanwhile is read next time)
                    continue
                except OSError as exc:  # ELOOP: a link (not followed by open); ENOTDIR: not a directory
                    try:
                        target = os.readlink(part, dir_fd=here)
                    except OSError:
                        raise exc from None
            links += 1
            if links > _MAX_LINKS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), os.path.join(root, path.lstrip("/")))
            if target.startswith("/"):
                while len(stack) > 1:
                    os.close(stack.pop())
            pending.extend(p for p in reversed(target.split("/")) if p and p != ".")
        return stack.pop(), "."
    finally:
        for fd in stack:
            os.close(fd)


def entry_in_root(root: str, path: str, *, follow: bool = True, create_parents: bool = False,
                  mode: int = 0o755) -> tuple[int, str]:
    """``path`` (absolute, as the catalog names it) inside the target ``root``, as :func:`under_root`
    resolves it, but held rather than named: an open file descriptor of the directory that holds the
    entry, and the entry's name in it (``"."`` when the path ends at a directory). Use it with the
    ``dir_fd`` of :mod:`os` calls (and of :func:`atomic_write`); the caller closes it.

    Each directory on the way is opened with O_NOFOLLOW relative to the one before, and each link is
    read and followed inside the root by this walk, not by the kernel: a link that a process of the
    image swaps in after the walk (or during it) cannot lead out of the root, where a host path from
    :func:`under_root` would follow it. With ``follow`` a link at the last component is followed too
    (open the name with O_NOFOLLOW: it fails if a link was swapped in since). With ``create_parents``
    missing directories on the way are made with ``mode``. Under root ``/`` this resolves exactly as
    the kernel does."""
    return _walk_in_root(root, path, entry=True, follow=follow, create=create_parents, mode=mode)


def open_dir_in_root(root: str, path: str, *, create: bool = False, mode: int = 0o755) -> int:
    """An open file descriptor of directory ``path`` of the target ``root`` (made, with its parents,
    when ``create``), resolved as :func:`entry_in_root` does; the caller closes it."""
    fd, _ = _walk_in_root(root, path, entry=False, follow=True, create=create, mode=mode)
    return fd

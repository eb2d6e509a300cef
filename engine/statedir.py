"""The state directory: where runs keep their reports and the filebucket.

Converging an image (``--root DIR``), it is the image's own ``/var/lib/bunraku``: a path of the image,
resolved inside the image at every read and write (never once, at the start of the run). The catalog
being applied may turn ``/var`` or any directory on the way into a link, and a program of the image may
do so while the run goes on; either way the state moves at most elsewhere inside the image, never onto
the host: each access walks the path with :func:`engine.fsutil.entry_in_root` (each directory opened
with O_NOFOLLOW, each link followed inside the root by the walk) and opens the last component with
O_NOFOLLOW, so a link swapped in between cannot be followed either.

A ``--state-dir`` given by whoever runs Bunraku is a host path and used as they gave it, unless it lies
inside the root: then it is that path of the image, treated like the default.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from engine.fsutil import atomic_write, entry_in_root, open_dir_in_root, under_root

#: The state directory's path in the target root when none is given.
DEFAULT_PATH = "/var/lib/bunraku"

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class StateDir:
    """Directory ``path`` of target ``root`` (``/``: a host path). Names given to the methods are
    relative to it, ``/``-separated, without ``..``."""

    def __init__(self, root: str = "/", path: str = DEFAULT_PATH) -> None:
        root = os.path.abspath(root)
        self.root = root
        self.path = "/" + path.strip("/")

    @classmethod
    def for_run(cls, root: Path | str, state_dir: Path | str | None = None) -> StateDir:
        """The state directory of a run converging ``root``: ``state_dir`` when given (a host path;
        inside ``root`` it is taken as the image's path), else the root's ``/var/lib/bunraku``."""
        root_s = os.path.abspath(str(root))
        if state_dir is None:
            return cls(root_s)
        given = os.path.abspath(str(state_dir))
        if root_s != "/" and (given == root_s or given.startswith(root_s.rstrip("/") + "/")):
            return cls(root_s, given[len(root_s):] or "/")
        return cls("/", given)

    @classmethod
    def on_host(cls, path: Path | str) -> StateDir:
        return cls("/", os.path.abspath(str(path)))

    @property
    def host_path(self) -> Path:
        """Where the directory is on this host now (for messages: every access resolves it again)."""
        try:
            return Path(under_root(self.root, self.path))
        except OSError:
            return Path(os.path.join(self.root, self.path.lstrip("/")))

    def __str__(self) -> str:
        return str(self.host_path)

    def __repr__(self) -> str:
        return f"StateDir(root={self.root!r}, path={self.path!r})"

    def _full(self, name: str) -> str:
        parts = [p for p in name.split("/") if p and p != "."]
        if not parts or ".." in parts:
            raise OSError(errno.EINVAL, f"not a name in the state directory: {name!r}")
        return f"{self.path.rstrip('/')}/{'/'.join(parts)}"

    def write(self, name: str, data: bytes, *, mode: int | None = None) -> Path:
        """Replace file ``name`` with ``data`` atomically (making missing directories); return where
        it went on this host."""
        full = self._full(name)
        fd, entry = entry_in_root(self.root, full, follow=False, create_parents=True)
        try:
            atomic_write(entry, data, mode=mode, dir_fd=fd)
        finally:
            os.close(fd)
        return Path(under_root(self.root, full, follow=False))

    def append(self, name: str, data: bytes) -> None:
        """Append ``data`` to file ``name`` (made, with its directories, when missing)."""
        fd, entry = entry_in_root(self.root, self._full(name), follow=False, create_parents=True)
        try:
            out = os.open(entry, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                          dir_fd=fd)
        finally:
            os.close(fd)
        try:
            if not stat.S_ISREG(os.fstat(out).st_mode):
                raise OSError(errno.EINVAL, f"{name} in the state directory is not a regular file")
            os.write(out, data)
        finally:
            os.close(out)

    def read(self, name: str) -> bytes:
        """The content of file ``name``; FileNotFoundError when there is none. A link at its place
        is refused (the state directory holds no links)."""
        fd, entry = entry_in_root(self.root, self._full(name), follow=False)
        try:
            src = os.open(entry, _READ_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
        with os.fdopen(src, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise OSError(errno.EINVAL, f"{name} in the state directory is not a regular file")
            return fh.read()

    def is_file(self, name: str) -> bool:
        try:
            fd, entry = entry_in_root(self.root, self._full(name), follow=False)
        except OSError:
            return False
        try:
            return stat.S_ISREG(os.stat(entry, dir_fd=fd, follow_symlinks=False).st_mode)
        except OSError:
            return False
        finally:
            os.close(fd)

    def mtime(self, name: str) -> float:
        fd, entry = entry_in_root(self.root, self._full(name), follow=False)
        try:
            return os.stat(entry, dir_fd=fd, follow_symlinks=False).st_mtime
        finally:
            os.close(fd)

    def size(self, name: str) -> int:
        fd, entry = entry_in_root(self.root, self._full(name), follow=False)
        try:
            return os.stat(entry, dir_fd=fd, follow_symlinks=False).st_size
        finally:
            os.close(fd)

    def listdir(self, name: str = "") -> list[str]:
        """The sorted names in directory ``name`` (the state directory itself for ``""``); none when
        it does not exist."""
        full = self._full(name) if name else self.path
        try:
            fd = open_dir_in_root(self.root, full)
        except (FileNotFoundError, NotADirectoryError):
            return []
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)

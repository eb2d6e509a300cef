"""Where ``file { source => ... }`` content comes from.

:class:`FileSource` is the interface; :class:`ModulepathFileSource` resolves local paths,
``file://`` URIs and ``puppet:///modules/<module>/<path>`` (``<module>/files/<path>`` on a
modulepath). The master can later serve the same URIs with another implementation.

Nothing outside a module's ``files/`` is reachable through ``puppet:///modules/``: ``..`` in the URI
is refused and the real path must stay inside the module's real ``files/`` (as the master's file
server checks). Converging an image (a target root other than ``/``), a local path or ``file://`` URI
names a file of the image, as ``chroot IMAGE puppet apply`` would read it, never one of the host:
:class:`ImageFileSource` (which every run wraps around its source) resolves it inside the image.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.errors import ProviderError
from engine.fsutil import entry_in_root


@dataclass(frozen=True, slots=True)
class SourceStat:
    kind: str  # "file" | "directory" | "link"
    size: int
    mtime: float
    mode: int


class FileSource(Protocol):
    def stat(self, uri: str) -> SourceStat | None: ...

    def read(self, uri: str) -> bytes: ...

    def listdir(self, uri: str) -> list[str]: ...


class ModulepathFileSource:
    """Resolve sources on this machine: plain paths, file:// and puppet:///modules/ on a modulepath."""

    def __init__(self, modulepath: Sequence[Path | str] = ()) -> None:
        self.modulepath = [str(p) for p in modulepath]

    def local_path(self, uri: str) -> str | None:
        if uri.startswith("puppet://"):
            rest = uri[len("puppet://"):]
            rest = rest.split("/", 1)[1] if "/" in rest else ""  # drop the (optional) server
            parts = rest.split("/", 2)
            if len(parts) < 3 or parts[0] != "modules":
                raise ProviderError(f"cannot resolve source {uri!r}: expected puppet:///modules/<module>/<path>")
            module, path = parts[1], parts[2]
            segments = [s for s in path.split("/") if s not in ("", ".")]
            if module in ("", ".", "..") or ".." in segments or "\0" in uri:
                raise ProviderError(f"cannot resolve source {uri!r}: the path leaves the module's files")
            for base in self.modulepath:
                files = os.path.join(base, module, "files")
                candidate = os.path.join(files, *segments)
                if os.path.lexists(candidate):
                    real_files, real = os.path.realpath(files), os.path.realpath(candidate)
                    if real != real_files and not real.startswith(real_files + os.sep):
                        raise ProviderError(f"cannot resolve source {uri!r}: it resolves outside the module's "
                                            "files (symlink)")
                    return candidate
            return None
        if uri.startswith("file://"):
            uri = uri[len("file://"):]
        if not uri.startswith("/"):
            raise ProviderError(f"cannot resolve source {uri!r}: not an absolute path or URI")
        return uri

    def stat(self, uri: str) -> SourceStat | None:
        path = self.local_path(uri)
        if path is None:
            return None
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        kind = "directory" if stat.S_ISDIR(st.st_mode) else "file"
        return SourceStat(kind, st.st_size, st.st_mtime, st.st_mode & 0o7777)

    def read(self, uri: str) -> bytes:
        path = self.local_path(uri)
        if path is None:
            raise ProviderError(f"could not find source {uri}")
        with open(path, "rb") as fh:
            return fh.read()

    def listdir(self, uri: str) -> list[str]:
        path = self.local_path(uri)
        if path is None:
            raise ProviderError(f"could not find source {uri}")
        return sorted(os.listdir(path))


def _local_source_path(uri: str) -> str:
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    if not path.startswith("/"):
        raise ProviderError(f"cannot resolve source {uri!r}: not an absolute path or URI")
    return path


class ImageFileSource:
    """The sources of a run converging target ``root``: ``puppet://`` URIs from ``inner``; a local path
    or ``file://`` URI from the root itself (under root ``/``, the host's: all of it from ``inner``).

    Local sources are resolved inside the root as chroot(2) would (see
    :func:`engine.fsutil.entry_in_root`: links in the image lead only into the image) and opened with
    O_NOFOLLOW; only regular files are read."""

    def __init__(self, inner: FileSource, root: str) -> None:
        self.inner = inner
        self.root = root

    def _local(self, uri: str) -> bool:
        return self.root != "/" and not uri.startswith("puppet://")

    def _open(self, uri: str, flags: int) -> int:
        directory, name = entry_in_root(self.root, _local_source_path(uri))
        try:
            return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
        finally:
            os.close(directory)

    def stat(self, uri: str) -> SourceStat | None:
        if not self._local(uri):
            return self.inner.stat(uri)
        try:
            fd = self._open(uri, os.O_PATH)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise ProviderError(f"cannot read source {uri} in {self.root}: {exc.strerror}") from None
        try:
            st = os.fstat(fd)
        finally:
            os.close(fd)
        if stat.S_ISLNK(st.st_mode):  # a link put in its place after the walk resolved it
            raise ProviderError(f"cannot read source {uri} in {self.root}: it changed while being read")
        kind = "directory" if stat.S_ISDIR(st.st_mode) else "file"
        return SourceStat(kind, st.st_size, st.st_mtime, st.st_mode & 0o7777)

    def read(self, uri: str) -> bytes:
        if not self._local(uri):
            return self.inner.read(uri)
        try:
            fd = self._open(uri, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            raise ProviderError(f"cannot read source {uri} in {self.root}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise ProviderError(f"cannot read source {uri} in {self.root}: not a regular file")
            return fh.read()

    def listdir(self, uri: str) -> list[str]:
        if not self._local(uri):
            return self.inner.listdir(uri)
        try:
            fd = self._open(uri, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise ProviderError(f"cannot read source {uri} in {self.root}: {exc.strerror}") from None
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)

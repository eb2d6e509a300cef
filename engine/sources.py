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


@dataclass(frozen=True, slots=True)
class ArtifactRef:
    """An application artifact a ``release`` resource deploys: the master's ``app`` ``version``, with the
    digest, size and file name the catalog gives (empty, -1, empty when unknown: a masterless run)."""

    app: str
    version: str
    sha256: str = ""
    size: int = -1
    filename: str = ""


class ArtifactSource(Protocol):
    """Where artifacts come from: the master (the agent's source) or a local directory."""

    def fetch_artifact(self, ref: ArtifactRef, dest: str) -> str:
        """Write ``ref``'s content to ``dest``, carrying on from what a partial ``dest`` already holds;
        return the artifact's file name. The caller checks the digest."""
        ...


def fetch_artifact(source: object, ref: ArtifactRef, dest: str) -> str:
    """``source.fetch_artifact(ref, dest)``, or a one-line error when ``source`` has no artifacts."""
    fetch = getattr(source, "fetch_artifact", None)
    if fetch is None:
        raise ProviderError(f"no artifact source for {ref.app} {ref.version}: run under a master, or give "
                            "`bunraku apply` an --artifact-dir")
    return str(fetch(ref, dest))


def copy_local_artifact(artifact_dir: str, ref: ArtifactRef, dest: str) -> str:
    """``ARTIFACT_DIR/APP/VERSION/FILE`` (the one file there) copied to ``dest``: masterless runs."""
    folder = os.path.join(artifact_dir, ref.app, ref.version)
    try:
        names = sorted(n for n in os.listdir(folder) if not n.startswith("."))
    except OSError:
        names = []
    if ref.filename and ref.filename in names:
        names = [ref.filename]
    if len(names) != 1:
        found = "no file" if not names else f"{len(names)} files"
        raise ProviderError(f"artifact {ref.app} {ref.version}: expected one file in {folder}, found {found}")
    with open(os.path.join(folder, names[0]), "rb") as src, open(dest, "wb") as out:
        while block := src.read(1024 * 1024):
            out.write(block)
    return names[0]


class ModulepathFileSource:
    """Resolve sources on this machine: plain paths, file:// and puppet:///modules/ on a modulepath."""

    def __init__(self, modulepath: Sequence[Path | str] = (), artifact_dir: Path | str | None = None) -> None:
        self.modulepath = [str(p) for p in modulepath]
        #: masterless artifacts: ``ARTIFACT_DIR/APP/VERSION/FILE``
        self.artifact_dir = str(artifact_dir) if artifact_dir is not None else None

    def fetch_artifact(self, ref: ArtifactRef, dest: str) -> str:
        if self.artifact_dir is None:
            raise ProviderError(f"no artifact source for {ref.app} {ref.version}: run under a master, or give "
                                "`bunraku apply` an --artifact-dir")
        return copy_local_artifact(self.artifact_dir, ref, dest)

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

    def fetch_artifact(self, ref: ArtifactRef, dest: str) -> str:
        return fetch_artifact(self.inner, ref, dest)

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

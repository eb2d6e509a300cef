"""A local, content-addressed filebucket: old file contents kept before they are replaced.

Layout under the state directory: ``clientbucket/<ab>/<sha256>/contents`` plus ``paths`` (one
original path a line) and ``time`` — the same idea as Puppet's clientbucket, with sha256 names. Every
read and write goes through :class:`engine.statedir.StateDir`: in an image's own state directory, each
is resolved inside the image when it happens.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from engine.errors import EngineError
from engine.statedir import StateDir

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BucketEntry:
    checksum: str
    paths: tuple[str, ...]
    mtime: float
    size: int


_CHECKSUM = re.compile(r"[0-9a-f]{64}")


class FileBucket:
    """The bucket under ``state_dir``; ``root`` is the target root the recorded paths belong to.

    ``state_dir`` as :meth:`engine.statedir.StateDir.for_run` takes it: a host path (one inside
    ``root`` is the image's own directory), or a :class:`~engine.statedir.StateDir`."""

    def __init__(self, state_dir: Path | str | StateDir, *, root: str = "/") -> None:
        self.state = state_dir if isinstance(state_dir, StateDir) else StateDir.for_run(root, state_dir)
        self.root = root

    @property
    def dir(self) -> Path:
        """Where the bucket is on this host now (for messages)."""
        return self.state.host_path / "clientbucket"

    @staticmethod
    def _entry_dir(checksum: str) -> str:
        return f"clientbucket/{checksum[:2]}/{checksum}"

    def backup(self, data: bytes, path: str) -> str:
        """Store ``data`` (the old content of ``path``); return its sha256."""
        checksum = hashlib.sha256(data).hexdigest()
        entry = self._entry_dir(checksum)
        if not self.state.is_file(f"{entry}/contents"):
            self.state.write(f"{entry}/contents", data)
        try:
            known = self.state.read(f"{entry}/paths").decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            known = []
        if path not in known:
            self.state.append(f"{entry}/paths", (path + "\n").encode("utf-8"))
        self.state.write(f"{entry}/time", str(time.time()).encode("utf-8"))
        log.info("filebucketed %s to %s", path, checksum)
        return checksum

    def entries(self) -> list[BucketEntry]:
        out: list[BucketEntry] = []
        for prefix in self.state.listdir("clientbucket"):
            for checksum in self.state.listdir(f"clientbucket/{prefix}"):
                if not _CHECKSUM.fullmatch(checksum) or checksum[:2] != prefix:
                    continue
                entry = self._entry_dir(checksum)
                if not self.state.is_file(f"{entry}/contents"):
                    continue
                try:
                    paths = tuple(self.state.read(f"{entry}/paths").decode("utf-8", "replace").splitlines())
                except OSError:
                    paths = ()
                try:
                    mtime = float(self.state.read(f"{entry}/time").decode("utf-8"))
                except (OSError, ValueError):
                    mtime = self.state.mtime(f"{entry}/contents")
                out.append(BucketEntry(checksum, paths, mtime, self.state.size(f"{entry}/contents")))
        out.sort(key=lambda e: e.mtime)
        return out

    def get(self, checksum: str) -> bytes:
        matches = [e for e in self.entries() if e.checksum.startswith(checksum)] if len(checksum) < 64 else []
        if len(checksum) < 64:
            if len(matches) != 1:
                raise EngineError(f"checksum prefix {checksum!r} matches {len(matches)} bucket entries")
            checksum = matches[0].checksum
        if not _CHECKSUM.fullmatch(checksum):
            raise EngineError(f"no filebucket entry {checksum}")
        try:
            return self.state.read(f"{self._entry_dir(checksum)}/contents")
        except (FileNotFoundError, NotADirectoryError):
            raise EngineError(f"no filebucket entry {checksum}") from None

    def restore(self, checksum: str, path: str | None = None) -> str:
        """Write the bucketed content back (atomically) to ``path`` or to its recorded path, which is a
        path of the target root (resolved inside it, as the run that kept it saw it, when it is written:
        see :func:`engine.fsutil.entry_in_root`). A ``path`` given is a path of this host."""
        from engine.fsutil import atomic_write, entry_in_root, under_root

        data = self.get(checksum)
        root = "/"
        if path is None:
            entry = next((e for e in self.entries() if e.checksum.startswith(checksum)), None)
            if entry is None or not entry.paths:
                raise EngineError(f"filebucket entry {checksum} has no recorded path; give one")
            root, path = self.root, entry.paths[-1]
        path = os.path.abspath(path)
        directory, name = entry_in_root(root, path)
        try:
            mode = None
            try:
                mode = os.stat(name, dir_fd=directory, follow_symlinks=False).st_mode & 0o7777
            except FileNotFoundError:
                pass
            atomic_write(name, data, mode=mode, dir_fd=directory)
        finally:
            os.close(directory)
        return under_root(root, path)

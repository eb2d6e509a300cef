"""A local, content-addressed filebucket: old file contents kept before they are replaced.

Layout under the state directory: ``clientbucket/<ab>/<sha256>/contents`` plus ``paths`` (one
original path a line) and ``time`` — the same idea as Puppet's clientbucket, with sha256 names.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from engine.errors import EngineError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BucketEntry:
    checksum: str
    paths: tuple[str, ...]
    mtime: float
    size: int


class FileBucket:
    """The bucket under ``state_dir``; ``root`` is the target root the recorded paths belong to."""

    def __init__(self, state_dir: Path | str, *, root: str = "/") -> None:
        self.dir = Path(state_dir) / "clientbucket"
        self.root = root

    def _entry_dir(self, checksum: str) -> Path:
        return self.dir / checksum[:2] / checksum

    def backup(self, data: bytes, path: str) -> str:
        """Store ``data`` (the old content of ``path``); return its sha256."""
        checksum = hashlib.sha256(data).hexdigest()
        entry = self._entry_dir(checksum)
        entry.mkdir(parents=True, exist_ok=True)
        contents = entry / "contents"
        if not contents.exists():
            tmp = entry / f".contents.{os.getpid()}"
            tmp.write_bytes(data)
            os.replace(tmp, contents)
        paths_file = entry / "paths"
        known = paths_file.read_text(encoding="utf-8").splitlines() if paths_file.exists() else []
        if path not in known:
            with paths_file.open("a", encoding="utf-8") as fh:
                fh.write(path + "\n")
        (entry / "time").write_text(str(time.time()), encoding="utf-8")
        log.info("filebucketed %s to %s", path, checksum)
        return checksum

    def entries(self) -> list[BucketEntry]:
        out: list[BucketEntry] = []
        if not self.dir.is_dir():
            return out
        for prefix in sorted(self.dir.iterdir()):
            for entry in sorted(prefix.iterdir()):
                contents = entry / "contents"
                if not contents.is_file():
                    continue
                paths_file = entry / "paths"
                paths = tuple(paths_file.read_text(encoding="utf-8").splitlines()) if paths_file.exists() else ()
                try:
                    mtime = float((entry / "time").read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    mtime = contents.stat().st_mtime
                out.append(BucketEntry(entry.name, paths, mtime, contents.stat().st_size))
        out.sort(key=lambda e: e.mtime)
        return out

    def get(self, checksum: str) -> bytes:
        matches = [e for e in self.entries() if e.checksum.startswith(checksum)] if len(checksum) < 64 else []
        if len(checksum) < 64:
            if len(matches) != 1:
                raise EngineError(f"checksum prefix {checksum!r} matches {len(matches)} bucket entries")
            checksum = matches[0].checksum
        contents = self._entry_dir(checksum) / "contents"
        try:
            return contents.read_bytes()
        except FileNotFoundError:
            raise EngineError(f"no filebucket entry {checksum}") from None

    def restore(self, checksum: str, path: str | None = None) -> str:
        """Write the bucketed content back (atomically) to ``path`` or to its recorded path, which is a
        path of the target root (resolved inside it, as the run that kept it saw it)."""
        from engine.fsutil import atomic_write, under_root

        data = self.get(checksum)
        if path is None:
            entry = next((e for e in self.entries() if e.checksum.startswith(checksum)), None)
            if entry is None or not entry.paths:
                raise EngineError(f"filebucket entry {checksum} has no recorded path; give one")
            path = under_root(self.root, entry.paths[-1])
        mode = None
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            pass
        atomic_write(path, data, mode=mode)
        return path

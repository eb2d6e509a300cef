"""Where ``file { source => ... }`` content comes from.

:class:`FileSource` is the interface; :class:`ModulepathFileSource` resolves local paths,
``file://`` URIs and ``puppet:///modules/<module>/<path>`` (``<module>/files/<path>`` on a
modulepath). The master can later serve the same URIs with another implementation.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.errors import ProviderError


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
            for base in self.modulepath:
                candidate = os.path.join(base, module, "files", path)
                if os.path.lexists(candidate):
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

"""What one apply run knows: the target root, noop, facts, state directory and shared caches."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from engine.accounts import AccountDB
from engine.deferred import FunctionCaller
from engine.filebucket import FileBucket
from engine.fsutil import under_root
from engine.sources import FileSource, ImageFileSource, ModulepathFileSource
from engine.statedir import StateDir

log = logging.getLogger(__name__)


def default_state_dir(root: Path | str) -> Path:
    """Where the root's state directory is on this host now (for messages: a run writes there through
    :class:`engine.statedir.StateDir`, which resolves it again inside the root at every write)."""
    return Path(under_root(str(root), "/var/lib/bunraku"))


class ApplyContext:
    """Shared by every provider of one run. Caches are per run, never persisted."""

    def __init__(self, *, root: Path | str = "/", noop: bool = False, facts: dict[str, Any] | None = None,
                 state_dir: Path | str | None = None, show_diff: bool = False,
                 file_sources: FileSource | None = None) -> None:
        root_s = os.path.abspath(str(root))
        self.root = root_s if root_s != "/" else "/"
        self.noop = noop
        self.facts: dict[str, Any] = facts or {}
        #: Reports and the filebucket; in the root unless given (see :mod:`engine.statedir`).
        self.state = StateDir.for_run(self.root, state_dir)
        self.show_diff = show_diff
        # Under a root, a local source (a path, file://) names a file of the image, not of this host.
        self.file_sources: FileSource = ImageFileSource(file_sources or ModulepathFileSource(), self.root)
        self.accounts = AccountDB(self.root)
        self.cache: dict[str, Any] = {}
        self._bucket: FileBucket | None = None
        #: Log lines a provider wants in the report, drained by the transaction after each step.
        self.notes: list[tuple[str, str, bool]] = []
        #: Calls the functions of the catalog's Deferred values (see :mod:`engine.deferred`).
        self.functions: FunctionCaller | None = None

    def note(self, level: str, message: str, *, output: bool = False) -> None:
        """A log line for the report; ``output`` marks command output (hidden when anything is sensitive)."""
        self.notes.append((level, message, output))

    def path(self, path: str, *, follow: bool = True) -> str:
        """A catalog path inside the target root, every link on the way resolved inside the root (see
        :func:`engine.fsutil.under_root`); ``follow=False`` leaves the last component unresolved."""
        return under_root(self.root, path, follow=follow)

    @property
    def confined(self) -> bool:
        """Whether programs run on the manifest's behalf are confined (chroot) to a target root."""
        return self.root != "/"

    @property
    def state_dir(self) -> Path:
        """Where the state directory is on this host now (for messages; write through ``state``)."""
        return self.state.host_path

    @property
    def filebucket(self) -> FileBucket:
        if self._bucket is None:
            self._bucket = FileBucket(self.state, root=self.root)
        return self._bucket

    def fact(self, dotted: str, default: Any = None) -> Any:
        value: Any = self.facts
        for part in dotted.split("."):
            if not isinstance(value, dict) or part not in value:
                return default
            value = value[part]
        return value

    @property
    def os_family(self) -> str:
        fam = self.fact("os.family") or self.facts.get("osfamily")
        if fam:
            return str(fam)
        if "os_family" not in self.cache:
            self.cache["os_family"] = self._os_family_from_release()
        return str(self.cache["os_family"])

    def _os_family_from_release(self) -> str:
        try:
            with open(self.path("/etc/os-release"), encoding="utf-8") as fh:
                text = fh.read()
        except OSError:
            return ""
        for line in text.splitlines():
            if line.startswith("ID_LIKE=") or line.startswith("ID="):
                ids = line.split("=", 1)[1].strip('"').split()
                if "debian" in ids or "ubuntu" in ids:
                    return "Debian"
                if any(i in ids for i in ("rhel", "fedora", "centos")):
                    return "RedHat"
        return ""

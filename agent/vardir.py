"""The agent's private directories: its state (lock, disable flag), spool and catalog cache hold
reports and catalogs with secrets in them, so only the agent's user may read them."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_SUBDIRS = ("state", "spool", "client_data", "client_data/catalog", "filecache")


def prepare(vardir: Path) -> None:
    """Create ``vardir`` and its private subdirectories mode 0700; tighten looser existing ones."""
    for path in (vardir, *(vardir / sub for sub in PRIVATE_SUBDIRS)):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, mode & 0o700)
            log.info("tightened %s to mode %o", path, mode & 0o700)

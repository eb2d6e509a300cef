"""Reports that could not be sent wait on disk (written atomically) and go out on the next contact,
oldest first: nothing is lost."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)


class ReportSpool:
    def __init__(self, directory: Path) -> None:
        self.dir = directory

    def add(self, report_json: bytes, transaction_uuid: str) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / f"{time.time_ns():020d}-{transaction_uuid}.json"
        fd, tmp = tempfile.mkstemp(prefix=".spool.", dir=self.dir)
        with os.fdopen(fd, "wb") as fh:
            fh.write(report_json)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        log.info("report spooled to %s", path)
        return path

    def pending(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.glob("*.json") if not p.name.startswith("."))

    def deliver(self, send: Callable[[bytes], None]) -> int:
        """Send spooled reports in order; stop at the first failure (it propagates). Returns how many."""
        sent = 0
        for path in self.pending():
            send(path.read_bytes())
            path.unlink(missing_ok=True)
            sent += 1
        if sent:
            log.info("delivered %d spooled report(s)", sent)
        return sent

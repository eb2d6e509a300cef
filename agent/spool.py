"""Reports that could not be sent wait on disk (written atomically) and go out on the next contact,
oldest first: nothing is lost."""

from __future__ import annotations

import json
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
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
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

    def deliver(self, send: Callable[[bytes], None],
                refused: Callable[[Exception], bool] = lambda exc: False) -> int:
        """Send spooled reports in order; stop at the first failure (it propagates). Returns how many.

        An entry that is not a JSON object (a torn or damaged file) is set aside as ``*.corrupt``; one
        the master refuses for good (``refused(exc)`` is true) as ``*.refused``: neither blocks the
        reports behind it."""
        sent = 0
        for path in self.pending():
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            problem = _damage(data)
            if problem is not None:
                _set_aside(path, "corrupt", problem)
                continue
            try:
                send(data)
            except Exception as exc:
                if not refused(exc):
                    raise
                _set_aside(path, "refused", str(exc))
                continue
            path.unlink(missing_ok=True)
            sent += 1
        if sent:
            log.info("delivered %d spooled report(s)", sent)
        return sent


def _damage(data: bytes) -> str | None:
    """Why a spooled entry cannot be a report, or None."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        return f"not JSON: {exc}"[:200]
    if not isinstance(value, dict):
        return "not a JSON object"
    return None


def _set_aside(path: Path, suffix: str, reason: str) -> None:
    try:
        os.replace(path, path.with_name(f"{path.name}.{suffix}"))
    except FileNotFoundError:
        return
    log.warning("spooled report %s set aside as .%s: %s", path.name, suffix, reason)

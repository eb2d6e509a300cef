"""Reports that could not be sent wait on disk (written atomically) and go out on the next contact,
oldest first: nothing is lost.

An entry leaves the spool when the master has taken it, or - set aside under another name, logged as an
error and counted - when it can never be taken: it is damaged, or the master refuses it for good (the
caller's ``final_refusal`` says which refusals are final). Every other failure stops the delivery and
leaves the entry where it is, for a later attempt.

When the disk cannot take a report, the process holds it in memory and sends it with the others (a
daemon keeps it until a master answers or there is room on disk again); the caller says that it was not
kept on disk.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

TEMP_PREFIX = ".spool."

_held: dict[Path, list[tuple[str, bytes]]] = {}  # reports the disk could not take, by spool directory
_held_lock = threading.Lock()


class ReportSpool:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._key = directory.absolute()

    @staticmethod
    def entry_name(transaction_uuid: str) -> str:
        return f"{time.time_ns():020d}-{transaction_uuid}.json"

    def add(self, report_json: bytes, transaction_uuid: str, *, name: str | None = None) -> Path:
        """Write the report to the spool; OSError (and no file, not even a temporary one) if it fails."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.dir / (name or self.entry_name(transaction_uuid))
        _write_atomically(path, report_json)
        log.info("report spooled to %s", path)
        return path

    def hold(self, report_json: bytes, transaction_uuid: str) -> None:
        """Keep a report the disk could not take in this process's memory, in its place in the queue."""
        with _held_lock:
            _held.setdefault(self._key, []).append((self.entry_name(transaction_uuid), report_json))

    def held(self) -> list[tuple[str, bytes]]:
        with _held_lock:
            return list(_held.get(self._key, ()))

    def holds(self, transaction_uuid: str) -> bool:
        return any(name.endswith(f"-{transaction_uuid}.json") for name, _ in self.held())

    def store_held(self) -> int:
        """Move reports held in memory to disk while there is room; returns how many are still held."""
        for name, data in self.held():
            try:
                self.add(data, "", name=name)
            except OSError:
                break
            self._forget(name, None)
        return len(self.held())

    def remove_stale_temps(self) -> int:
        """Remove half-written entries left by a process that died or met a full disk while writing one
        (call it only while holding the run lock: no other writer is at work then)."""
        removed = 0
        try:
            stale = [p for p in self.dir.iterdir() if p.name.startswith(TEMP_PREFIX)]
        except OSError:
            return 0
        for path in stale:
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
        if removed:
            log.info("removed %d half-written spool file(s) from %s", removed, self.dir)
        return removed

    def pending(self) -> list[Path]:
        """The entries on disk, oldest first."""
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.glob("*.json") if not p.name.startswith("."))

    def depth(self) -> int:
        """Reports waiting: on disk and held in memory."""
        return len(self.pending()) + len(self.held())

    def deliver(self, send: Callable[[bytes], None],
                final_refusal: Callable[[Exception], str | None] = lambda exc: None,
                on_set_aside: Callable[[str, str], None] | None = None) -> int:
        """Send waiting reports in order; stop at the first failure (it propagates). Returns how many.

        An entry that is not a JSON object (a torn or damaged file) is set aside as ``*.corrupt``; one
        the master refuses for good (``final_refusal(exc)`` gives the reason) as ``*.refused``: neither
        blocks the reports behind it. ``on_set_aside(entry, reason)`` hears of each."""
        entries: list[tuple[str, Path | None, bytes | None]] = [(p.name, p, None) for p in self.pending()]
        entries += [(name, None, data) for name, data in self.held()]
        entries.sort(key=lambda entry: entry[0])
        sent = 0
        for name, path, data in entries:
            if path is not None:
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue
            assert data is not None
            problem = _damage(data)
            if problem is not None:
                self._set_aside(name, path, data, "corrupt", problem, on_set_aside)
                continue
            try:
                send(data)
            except Exception as exc:
                reason = final_refusal(exc)
                if reason is None:
                    raise
                self._set_aside(name, path, data, "refused", reason, on_set_aside)
                continue
            self._forget(name, path)
            sent += 1
        if sent:
            log.info("delivered %d spooled report(s)", sent)
        return sent

    def _forget(self, name: str, path: Path | None) -> None:
        if path is not None:
            path.unlink(missing_ok=True)
            return
        with _held_lock:
            remaining = [entry for entry in _held.get(self._key, ()) if entry[0] != name]
            if remaining:
                _held[self._key] = remaining
            else:
                _held.pop(self._key, None)

    def _set_aside(self, name: str, path: Path | None, data: bytes, suffix: str, reason: str,
                   on_set_aside: Callable[[str, str], None] | None) -> None:
        target = self.dir / f"{name}.{suffix}"
        try:
            if path is not None:
                os.replace(path, target)
            else:
                _write_atomically(target, data)
        except FileNotFoundError:
            return
        except OSError as exc:  # a held report with no room to set it aside: it goes, but not silently
            log.error("spooled report %s could not be set aside (%s) and is dropped: %s", name,
                      exc.strerror, reason)
        else:
            log.error("spooled report %s set aside as %s: %s", name, target.name, reason)
        if path is None:
            self._forget(name, None)
        if on_set_aside is not None:
            on_set_aside(name, f"{suffix}: {reason}")


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)  # a full disk must not leave a truncated entry behind
        except OSError:
            pass
        raise


def _damage(data: bytes) -> str | None:
    """Why a spooled entry cannot be a report, or None."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        return f"not JSON: {exc}"[:200]
    if not isinstance(value, dict):
        return "not a JSON object"
    return None

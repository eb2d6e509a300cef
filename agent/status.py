"""What the agent did, for ``bunraku agent status`` and for the next run: the last run, the reports set
aside from the spool and why, a report a run could not keep, and when to try the spool again.

The record is a small JSON document in a file of fixed size, allocated while there was room and then
rewritten in place, so it can still be written when the vardir is full - which is when it matters most:
the next run has to say that a report was lost. When even that fails, the process keeps the newer
record in memory (a daemon then still knows it) and tries the file again at the next save.
"""

from __future__ import annotations

import copy
import errno
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Bytes allocated for the record; it is trimmed to fit.
SIZE = 16 * 1024
#: Set-aside reports whose reasons are kept (the count covers all of them).
RECENT = 10
REASON_CHARS = 300

_unsaved: dict[Path, dict[str, Any]] = {}  # records newer than their file (its write failed), by path
_unsaved_lock = threading.Lock()


def _now_iso(at: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if at is None else at))


class AgentStatus:
    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def open(cls, path: Path) -> AgentStatus:
        """The record at ``path``, or this process's newer copy if writing it failed."""
        with _unsaved_lock:
            newer = _unsaved.get(path)
        return cls(path, copy.deepcopy(newer) if newer is not None else read_record(path))

    # -- the last run --------------------------------------------------------------------------------
    def record_run(self, status: str, exit_code: int, report: str, *, message: str | None = None) -> None:
        """``report``: what became of the run's report (sent, spooled, held in memory, not kept)."""
        self.data["last_run"] = {"time": _now_iso(), "status": status, "exit_code": exit_code, "report": report,
                                 **({"message": message[:REASON_CHARS]} if message else {})}

    # -- a report that could not be kept ------------------------------------------------------------
    def note_report_not_kept(self, transaction_uuid: str, reason: str, *, pid: int) -> None:
        """``pid``: the process that holds the report in memory meanwhile."""
        self.data["report_not_kept"] = {"time": _now_iso(), "transaction_uuid": transaction_uuid,
                                        "reason": reason[:REASON_CHARS], "pid": pid}

    def take_report_not_kept(self) -> dict[str, Any] | None:
        """The report a previous run could not keep (forgotten once taken: the next run says it once)."""
        value = self.data.pop("report_not_kept", None)
        return value if isinstance(value, dict) else None

    # -- spool entries set aside --------------------------------------------------------------------
    def note_set_aside(self, entry: str, reason: str) -> None:
        aside = self.data.setdefault("set_aside", {"count": 0, "recent": []})
        aside["count"] = int(aside.get("count") or 0) + 1
        recent = [r for r in aside.get("recent") or [] if isinstance(r, dict)]
        recent.append({"time": _now_iso(), "entry": entry, "reason": reason[:REASON_CHARS]})
        aside["recent"] = recent[-RECENT:]

    @property
    def set_aside_count(self) -> int:
        aside = self.data.get("set_aside") or {}
        return int(aside.get("count") or 0) if isinstance(aside, dict) else 0

    # -- delivery of the spool ----------------------------------------------------------------------
    @property
    def delivery(self) -> dict[str, Any]:
        value = self.data.get("delivery")
        return value if isinstance(value, dict) else {}

    def set_delivery(self, value: dict[str, Any] | None) -> None:
        if value:
            self.data["delivery"] = value
        else:
            self.data.pop("delivery", None)

    def set_held_in_memory(self, count: int) -> None:
        if count:
            self.data["held_in_memory"] = count
        else:
            self.data.pop("held_in_memory", None)

    # -- the file -----------------------------------------------------------------------------------
    def save(self) -> bool:
        """Write the record in place; False (and the record kept in memory) when it cannot be written."""
        data = _encode(self.data)
        try:
            _write_in_place(self.path, data)
        except OSError as exc:
            log.info("could not write the agent's status %s: %s", self.path, exc.strerror or exc)
            with _unsaved_lock:
                _unsaved[self.path] = copy.deepcopy(self.data)
            return False
        with _unsaved_lock:
            _unsaved.pop(self.path, None)
        return True


def read_record(path: Path) -> dict[str, Any]:
    """The record in ``path``; empty when it is missing or unreadable (it only informs)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return {}
    try:
        value = json.loads(raw.rstrip(b" \n\0") or b"{}")
    except ValueError:
        log.info("the agent's status %s is unreadable; starting a new one", path)
        return {}
    return value if isinstance(value, dict) else {}


def _encode(data: dict[str, Any]) -> bytes:
    """``data`` as JSON of at most SIZE bytes: the oldest reasons go first, then the longest texts."""
    trimmed = copy.deepcopy(data)
    while True:
        encoded = json.dumps(trimmed, sort_keys=True, default=str).encode() + b"\n"
        if len(encoded) <= SIZE:
            return encoded
        recent = (trimmed.get("set_aside") or {}).get("recent") or []
        if recent:
            recent.pop(0)
            continue
        # nothing left to drop but texts, each already bounded: keep what the next run needs most
        return json.dumps({k: trimmed[k] for k in ("last_run", "report_not_kept", "delivery") if k in trimmed},
                          default=str).encode() + b"\n"


def _write_in_place(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size < SIZE:
            try:
                os.posix_fallocate(fd, 0, SIZE)
                size = SIZE
            except OSError:
                pass  # no room to allocate; the record may still fit where it is
        # pad over an older, longer record so no tail of it is left behind
        record = data + b" " * max(0, size - len(data))
        if os.pwrite(fd, record, 0) != len(record):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    finally:
        os.close(fd)


# -- `bunraku agent status` ----------------------------------------------------------------------------
def summary(status_file: Path, spool_dir: Path) -> dict[str, Any]:
    """What ``bunraku agent status`` shows: the last run, the spool, what was set aside or lost."""
    data = read_record(status_file)
    try:
        names = [p.name for p in spool_dir.iterdir()] if spool_dir.is_dir() else []
    except OSError:
        names = []
    waiting = sum(1 for n in names if n.endswith(".json") and not n.startswith("."))
    aside_files = sum(1 for n in names if n.endswith((".json.refused", ".json.corrupt")))
    delivery = _mapping(data.get("delivery"))
    retry_after = delivery.get("retry_after")
    aside = _mapping(data.get("set_aside"))
    return {
        "last_run": data.get("last_run"),
        "spool": {"waiting": waiting, "held_in_memory": int(data.get("held_in_memory") or 0),
                  "next_attempt": _now_iso(retry_after) if waiting and isinstance(retry_after, (int, float))
                  else None,
                  "rate_limited": bool(delivery.get("rate_limited")) if waiting else False,
                  "last_error": delivery.get("error") if waiting else None},
        "set_aside": {"count": int(aside.get("count") or 0), "files": aside_files,
                      "recent": [r for r in aside.get("recent") or [] if isinstance(r, dict)]},
        "report_not_kept": data.get("report_not_kept"),
    }


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def summary_lines(info: dict[str, Any], spool_dir: Path) -> list[str]:
    """``summary`` as text, one fact a line."""
    lines = []
    run = info.get("last_run")
    if isinstance(run, dict):
        line = (f"last run:  {run.get('time')}: {run.get('status')} (exit {run.get('exit_code')}), "
                f"report {run.get('report')}")
        lines.append(line + (f"; {run['message']}" if run.get("message") else ""))
    else:
        lines.append("last run:  none recorded")
    spool = info["spool"]
    line = f"spool:     {spool['waiting']} report(s) waiting"
    if spool["held_in_memory"]:
        line += f", {spool['held_in_memory']} held in memory by the agent (no room on disk)"
    if spool["next_attempt"]:
        why = "the master is rate limiting this node" if spool["rate_limited"] else spool["last_error"]
        line += f"; next attempt after {spool['next_attempt']} ({why})"
    lines.append(line)
    aside = info["set_aside"]
    line = f"set aside: {aside['count']} report(s)"
    if aside["files"]:
        line += f"; {aside['files']} kept in {spool_dir} as *.refused / *.corrupt"
    lines.append(line)
    lines.extend(f"  {r.get('time')} {r.get('entry')}: {r.get('reason')}" for r in aside["recent"])
    lost = info.get("report_not_kept")
    if isinstance(lost, dict):
        lines.append(f"lost:      the report of the run at {lost.get('time')}: {lost.get('reason')}")
    if info.get("disabled") is not None:  # what the master is told too (live channel, heartbeats)
        lines.insert(0, f"disabled:  {info['disabled']} (runs are skipped until `bunraku agent enable`)")
    return lines

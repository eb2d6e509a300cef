"""The log format of the master and the agent.

``text`` (the default) is Puppet's way, one line per record with its time and level::

    2026-05-01T12:00:00.123Z Notice: catalog served node=web01 ms=12.5

``json`` and ``kv`` are structured, for log shippers: one JSON object (or ``key=value`` line) per record.

    log.info("catalog served", extra={"fields": {"node": node, "ms": 12.5}})
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

#: Puppet's notice level, between Python's INFO and WARNING: what an operator sees without -v.
NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

#: Puppet's spelling of each level (``Notice:``, ``Info:`` ...), as its console and log files show them.
PUPPET_LEVELS = {logging.DEBUG: "Debug", logging.INFO: "Info", NOTICE: "Notice", logging.WARNING: "Warning",
                 logging.ERROR: "Error", logging.CRITICAL: "Error"}


def log_time(created: float | None = None) -> str:
    """The time at the head of every log line: ``2026-05-01T12:00:00.123Z`` (UTC, milliseconds)."""
    created = time.time() if created is None else created
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


def _timestamp(record: logging.LogRecord) -> str:
    return log_time(record.created)


def puppet_level(levelno: int) -> str:
    """``Notice``, ``Info`` ...: Puppet's name for a logging level (the nearest one below it)."""
    return PUPPET_LEVELS.get(levelno) or PUPPET_LEVELS[max([lv for lv in PUPPET_LEVELS if lv <= levelno],
                                                           default=logging.DEBUG)]


class PuppetFormatter(logging.Formatter):
    """``TIME Level: message key=value ...``: the agent's and the master's log lines."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {puppet_level(record.levelno)}: {record.getMessage()}"
        fields = getattr(record, "fields", None) or {}
        if fields:
            line += " " + " ".join(f"{k}={_kv(v)}" for k, v in fields.items())
        if record.exc_info:
            line += " error=" + _kv(self.formatException(record.exc_info).splitlines()[-1])
        return line


class StructuredFormatter(logging.Formatter):
    def __init__(self, style_name: str = "json") -> None:
        super().__init__()
        self.style_name = style_name

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
        }
        data.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            data["error"] = self.formatException(record.exc_info).splitlines()[-1]
        if self.style_name == "json":
            return json.dumps(data, default=str, ensure_ascii=False)
        return " ".join(f"{k}={_kv(v)}" for k, v in data.items())


def _kv(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (not text or any(c in text for c in ' "=')) else text


LOG_FORMATS = ("text", "json", "kv")


def setup_logging(style_name: str = "text", level: int = logging.INFO) -> None:
    """Send every record at ``level`` or above to stderr in ``style_name`` (one of LOG_FORMATS)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PuppetFormatter() if style_name == "text" else StructuredFormatter(style_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)

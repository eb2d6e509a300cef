"""Structured logs: one JSON object (or ``key=value`` line) per record.

    log.info("catalog served", extra={"fields": {"node": node, "ms": 12.5}})
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any


class StructuredFormatter(logging.Formatter):
    def __init__(self, style_name: str = "json") -> None:
        super().__init__()
        self.style_name = style_name

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
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


def setup_logging(style_name: str = "json", level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(StructuredFormatter(style_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)

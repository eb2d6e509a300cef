"""The ``notify`` type: a message in the log and the report, every run (as in Puppet)."""

from __future__ import annotations

from typing import Any

from engine.registry import ResourceType, resource_type


@resource_type("notify")
class NotifyType(ResourceType):
    parameters = frozenset({"name", "message", "withpath"})

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        message = p.get("message")
        p["message"] = title if message is None else message
        return p

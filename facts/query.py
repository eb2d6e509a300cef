"""Dotted fact queries, as ``facter os.release.major`` or ``facter networking.interfaces.eth0.bindings.0``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MISSING: Any = object()


def query(facts: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """The value at ``path`` ("os.release.major"; a number indexes an array), else ``default``.

    A whole name that contains dots is tried first, so an external fact named "a.b" is found.
    """
    if path in facts:
        return facts[path]
    value: Any = facts
    for part in path.split("."):
        if isinstance(value, Mapping):
            if part not in value:
                return default
            value = value[part]
        elif isinstance(value, list | tuple) and part.lstrip("-").isdigit():
            index = int(part)
            if not -len(value) <= index < len(value):
                return default
            value = value[index]
        else:
            return default
    return value

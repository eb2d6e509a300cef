"""Facter's human output (``facter``, ``facter os``, ``facter kernel os``) for ``bunraku facts``.

Two shapes, as Facter prints them:

* the whole fact set or several queries: one ``name => value`` line per fact; a top-level string bare,
  hashes and arrays over indented lines, nested strings quoted and escaped as JSON would, except that a
  backslash and a newline are printed as they are;
* a single query: just the value; a string bare, anything else as above, but with only the backslash
  unescaped, and with an empty array spread over a blank line.

Key order is :func:`facter_order`'s, applied to the fact set before it is queried.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_INDENT = "  "
_ESCAPE = re.compile(r"\\(.)")


def facter_order(value: Any) -> Any:
    """``value`` with its hashes' keys sorted, as Facter sorts a fact set: through hashes at every level,
    but not into arrays (a hash inside an array, as networking's bindings, keeps its own order)."""
    if isinstance(value, Mapping):
        return {key: facter_order(value[key]) for key in sorted(value, key=str)}
    return value


def _string(text: str, *, single: bool) -> str:
    def unescape(match: re.Match[str]) -> str:
        char = match.group(1)
        if char == "\\":
            return "\\"
        if char == "n" and not single:
            return "\n"
        return match.group(0)

    return _ESCAPE.sub(unescape, json.dumps(text, ensure_ascii=False))


def _nested(value: Any, depth: int, *, single: bool) -> str:
    pad, inner = _INDENT * depth, _INDENT * (depth + 1)
    if isinstance(value, Mapping):
        if not value:
            return "{\n" + pad + "}"
        items = [f"{inner}{key} => {_nested(item, depth + 1, single=single)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[\n\n" + pad + "]" if single else "[\n" + pad + "]"
        items = [inner + _nested(item, depth + 1, single=single) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return _string(str(value), single=single)


def render_value(value: Any) -> str:
    """One queried value as ``facter QUERY`` prints it (None: the fact does not resolve)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return _nested(value, 0, single=True)


def render_facts(facts: Mapping[str, Any]) -> str:
    """Named values as ``facter`` or ``facter Q1 Q2`` prints them, in the mapping's order (None: the fact
    does not resolve). Each value's hash keys are sorted afresh, even one found inside an array."""
    lines = []
    for name, value in facts.items():
        if value is None:
            text = ""
        elif isinstance(value, str):
            text = value
        else:
            text = _nested(facter_order(value), 0, single=False)
        lines.append(f"{name} => {text}")
    return "\n".join(lines)

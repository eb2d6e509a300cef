"""Runtime values of the language that have no plain Python counterpart.

Puppet values map to Python: strings, integers, floats, booleans, lists (Array), dicts (Hash,
insertion-ordered) and ``None`` (undef). ``default``, regular expressions and Sensitive values
get the small classes below; types live in :mod:`dsl.types`.
"""

from __future__ import annotations

import re
from typing import Any


class Default:
    """The ``default`` literal."""

    __slots__ = ()
    _instance: Default | None = None

    def __new__(cls) -> Default:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "default"

    def __reduce__(self) -> str:
        return "DEFAULT"


DEFAULT = Default()

_NAMED_GROUP = re.compile(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>")
_RUBY_ESCAPES = {"\\z": r"\Z", "\\Z": r"(?=\n?\Z)", "\\h": "[0-9A-Fa-f]"}


def ruby_regex_to_python(pattern: str) -> str:
    """Translate the Ruby regex dialect Puppet uses into Python's where they differ (named groups,
    ``\\z``, ``\\Z``, ``\\h``); Ruby's ``^`` and ``$`` match at line ends, hence ``re.M`` below."""
    out = _NAMED_GROUP.sub(r"(?P<\1>", pattern)
    if "\\z" in out or "\\Z" in out or "\\h" in out:
        out = re.sub(r"\\\\|\\z|\\Z|\\h", lambda m: _RUBY_ESCAPES.get(m.group(0), m.group(0)), out)
    return out


class RegexValue:
    """A regular expression value (``/^web\\d+$/``)."""

    __slots__ = ("pattern", "compiled")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.compiled = re.compile(ruby_regex_to_python(pattern), re.M)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RegexValue) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(("regex", self.pattern))

    def __repr__(self) -> str:
        return f"/{self.pattern}/"


class Sensitive:
    """A value that must never be shown: logs, reports and diffs print ``[redacted]``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sensitive) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("sensitive", repr(self.value)))

    def __repr__(self) -> str:
        return "Sensitive [value redacted]"

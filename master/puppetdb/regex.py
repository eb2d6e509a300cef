"""Regular expressions of queries (``~``, ``!~``, ``~>``), checked before they run.

The store's fact values, titles and messages come from the nodes, and SQLite's REGEXP (like the matching of
fact-contents) runs Python's backtracking engine on them: a pattern that repeats a repetition (``(a+)+``)
or an alternation (``(a|aa)*``) takes exponential time on a value such as ``aaaa...!``, and would hold a
dashboard thread and a store connection for hours. Such patterns are refused with a 400 that says how to
write them; so are patterns longer than :data:`MAX_PATTERN`."""

from __future__ import annotations

import re
from typing import Any

from master.puppetdb.errors import QueryError

try:  # the standard library's own parser of patterns (its name changed in Python 3.11)
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python before 3.11
    import sre_parse as _sre_parse  # type: ignore[no-redef]

#: The longest pattern a query may give.
MAX_PATTERN = 1000
_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _groups(name: str, av: Any) -> list[Any]:
    """The parsed sub-patterns a group, lookaround or conditional holds (none for other items)."""
    if name == "SUBPATTERN":
        return [av[-1]]
    if name == "ATOMIC_GROUP":
        return [av]
    if name in ("ASSERT", "ASSERT_NOT"):
        return [av[1]]
    if name == "GROUPREF_EXISTS":
        return [part for part in (av[1], av[2]) if part is not None]
    return []


def _repeats_inside(items: Any) -> str | None:
    """What, inside an unbounded repetition, makes backtracking explode ("a repetition", "an
    alternation"), or None."""
    for op, av in items:
        name = str(op)
        if name in _REPEATS:
            low, high, sub = av
            if low != high:  # a part that may match more or fewer times
                return "a repetition"
            found = _repeats_inside(sub)
        elif name == "BRANCH":
            return "an alternation"
        else:
            found = next((f for f in map(_repeats_inside, _groups(name, av)) if f), None)
        if found:
            return found
    return None


def _check(items: Any) -> str | None:
    for op, av in items:
        name = str(op)
        if name in _REPEATS:
            low, high, sub = av
            if high > 1:  # repeated more than once: what it repeats must not backtrack within itself
                inner = _repeats_inside(sub)
                if inner:
                    return inner
            found = _check(sub)
        elif name == "BRANCH":
            found = next((f for f in (_check(branch) for branch in av[1]) if f), None)
        else:
            found = next((f for f in map(_check, _groups(name, av)) if f), None)
        if found:
            return found
    return None


def checked(pattern: Any, field: str) -> re.Pattern[str]:
    """``pattern`` compiled, or a QueryError: not a string, malformed, too long, or one whose matching can
    take exponential time."""
    if not isinstance(pattern, str):
        raise QueryError(f"'~' on '{field}' takes a regular expression (a string), not {type(pattern).__name__}")
    if len(pattern) > MAX_PATTERN:
        raise QueryError(f"'~' on '{field}': the regular expression is longer than {MAX_PATTERN} characters")
    try:
        compiled = re.compile(pattern)
        parsed = _sre_parse.parse(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise QueryError(f"'~' on '{field}': bad regular expression: {exc}") from None
    inner = _check(parsed)
    if inner:
        raise QueryError(f"'~' on '{field}': the regular expression repeats {inner} (as in (a+)+ or (a|aa)*), "
                         "whose matching can take exponential time; write it without a repeated group that "
                         "itself repeats or alternates")
    return compiled

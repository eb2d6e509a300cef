"""The value rules the language's stages share: how a value prints (``to_str``), what is true
(``truthy``), equality and order (``puppet_equal``, ``compare``), numbers in strings (``to_number``),
a value as catalog data (``to_data``) and tags (``tag_segments``).

The evaluator, the compiler, the functions and the templates all import them from here, so none of
them has to import another for these rules.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from . import types as T
from .semver import Version
from .timevalues import Timespan, Timestamp
from .values import DEFAULT, Default, RegexValue, Sensitive

_NUMERIC_RE = re.compile(r"\A\s*[-+]?(?:0[xX][0-9A-Fa-f]+|[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)\s*\Z")
_TAG_RE = re.compile(r"\A[a-z0-9_][a-z0-9_:.\-]*\Z")


# -- strings, truth, equality, order ------------------------------------------------------------------
def format_float(v: float) -> str:
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    text = repr(v)
    if "e" in text:
        mant, exp = text.split("e")
        if "." not in mant:
            mant += ".0"
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        return f"{mant}e{sign}{digits.zfill(2)}"
    return text


def to_str(v: Any) -> str:
    """Puppet's string conversion, as used by interpolation."""
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, list):
        return "[" + ", ".join(_inner_str(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_inner_str(k)} => {_inner_str(x)}" for k, x in v.items()) + "}"
    if isinstance(v, RegexValue):
        return f"/{v.pattern}/"
    if isinstance(v, Default):
        return "default"
    if isinstance(v, Sensitive):
        return "Sensitive [value redacted]"
    if isinstance(v, T.PTypeAlias):
        return f"{v.alias_name} = {v.resolved}"
    if isinstance(v, T.PType):
        return str(v)
    return str(v)


def _inner_str(v: Any) -> str:
    if v is None:
        return "undef"
    return to_str(v)


def truthy(v: Any) -> bool:
    return v is not None and v is not False


def puppet_equal(a: Any, b: Any) -> bool:
    """Puppet's ``==``: strings case-insensitively, numbers across Integer/Float, deep for collections."""
    if isinstance(a, str) and isinstance(b, str):
        return a == b or a.lower() == b.lower()
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, (Timespan, Timestamp)) or isinstance(b, (Timespan, Timestamp)):
        return _time_order(a, b) == 0  # a Timespan or Timestamp equals its seconds as a number
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(puppet_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        if len(a) != len(b):
            return False
        # keys match exactly (a Hash's keys are case-sensitive); values by Puppet's ``==``
        return all(k in b and puppet_equal(v, b[k]) for k, v in a.items())
    if type(a) is not type(b) and not (isinstance(a, T.PType) and isinstance(b, T.PType)):
        return False
    return bool(a == b)


def to_number(v: Any) -> int | float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str) and _NUMERIC_RE.match(v):
        text = v.strip()
        neg = text.startswith("-")
        body = text.lstrip("+-")
        if body.lower().startswith("0x"):
            n: int | float = int(body, 16)
        elif "." in body or "e" in body.lower():
            n = float(body)
        elif len(body) > 1 and body.startswith("0"):
            try:
                n = int(body, 8)
            except ValueError:
                return None
        else:
            n = int(body)
        return -n if neg else n
    return None


def compare(a: Any, b: Any) -> int:
    """Order two values for <, >, sort, min and max; raises TypeError when they don't compare."""
    if isinstance(a, str) and isinstance(b, str):
        la, lb = a.lower(), b.lower()
        return (la > lb) - (la < lb)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return (a > b) - (a < b)
    if isinstance(a, Version) and isinstance(b, Version):
        ka, kb = a.key(), b.key()
        return (ka > kb) - (ka < kb)
    order = _time_order(a, b)
    if order is not None:
        return order
    raise TypeError("not comparable")


def _time_order(a: Any, b: Any) -> int | None:
    """The order of a Timespan or Timestamp and a value of its own kind or a number (in seconds)."""
    def nanos(v: Any, kind: type) -> int | float | None:
        if isinstance(v, (Timespan, Timestamp)) and isinstance(v, kind):
            return v.nsecs
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return v * 1_000_000_000
        return None

    if not isinstance(a, (Timespan, Timestamp)) and not isinstance(b, (Timespan, Timestamp)):
        return None
    kind = type(a) if isinstance(a, (Timespan, Timestamp)) else type(b)
    x, y = nanos(a, kind), nanos(b, kind)
    if x is None or y is None:
        return None
    return (x > y) - (x < y)


def deep_copy_value(v: Any) -> Any:
    if isinstance(v, list):
        return [deep_copy_value(x) for x in v]
    if isinstance(v, dict):
        return {k: deep_copy_value(x) for k, x in v.items()}
    return v


def hashable(k: Any) -> Any:
    """A value as a hash key: arrays become tuples."""
    return tuple(k) if isinstance(k, list) else k


# -- tags and catalog data ---------------------------------------------------------------------------
def tag_segments(name: str) -> list[str]:
    return list(_tag_segments(name))


@lru_cache(maxsize=8192)
def _tag_segments(name: str) -> tuple[str, ...]:
    name = name.lower()
    if not _TAG_RE.match(name):
        return ()
    if "::" in name:
        return (name, *[p for p in name.split("::") if p])
    return (name,)


def to_data(v: Any) -> Any:
    """A catalog parameter value as JSON data."""
    if v is None or isinstance(v, (str, bool, int, float)):
        return v
    if isinstance(v, list):
        return [to_data(x) for x in v]
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else to_str(k)): to_data(x) for k, x in v.items()}
    if isinstance(v, (T.PResource, T.PClass)):
        return v.ref
    if isinstance(v, Sensitive):
        return to_data(v.value)
    if v is DEFAULT:
        return "default"
    from .deferred import DeferredValue, catalog_form  # here: the evaluator imports this module

    if isinstance(v, DeferredValue):
        return catalog_form(v)
    return to_str(v)

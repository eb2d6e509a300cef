"""Numbers and ordering: ``abs``, ``ceiling``, ``floor``, ``round``, ``compare``, ``versioncmp``, and
stdlib's ``clamp``, ``convert_base`` and ``to_bytes``."""

from __future__ import annotations

import math
import re
from typing import Any

from .. import types as T
from ..semver import Version
from ..timevalues import Timespan, Timestamp
from ..valuerules import to_number
from .contract import Call, function
from .ruby import ruby_to_s

_FLOAT_TEXT = re.compile(r"\A\s*[-+]?(?:\d[\d_]*)(?:\.\d[\d_]*)?(?:[eE][-+]?\d+)?\s*\Z")
_INT_TEXT = re.compile(r"\A\s*[-+]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO]?[0-7_]*|[1-9][\d_]*)\s*\Z")


def parse_number(text: str) -> int | float | None:
    """Ruby's ``Integer(text)`` else ``Float(text)``, as Puppet's numeric functions take a String."""
    if _INT_TEXT.match(text):
        body = text.strip().replace("_", "")
        sign = -1 if body.startswith("-") else 1
        body = body.lstrip("+-")
        low = body.lower()
        if low.startswith("0x"):
            return sign * int(low[2:], 16)
        if low.startswith("0b"):
            return sign * int(low[2:], 2)
        if low.startswith("0o"):
            return sign * int(low[2:] or "0", 8)
        if low.startswith("0") and len(low) > 1:
            return sign * int(low, 8)
        return sign * int(low)
    if _FLOAT_TEXT.match(text):
        return float(text.strip().replace("_", ""))
    return None


@function("abs", "Numeric $val", "String $val")
def abs_(call: Call, v: Any) -> int | float:
    if isinstance(v, str):
        if re.search(r"^-?\d+\.\d+$", v, re.M):
            return abs(float(v.strip()))
        if re.search(r"^-?\d+$", v, re.M):
            return abs(int(v.strip()))
        call.fail("Requires float or integer to work with - was given non decimal string")
    return abs(v)


_RUBY_FLOAT = re.compile(r"\A\s*[-+]?(?:\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?(?:[eE][-+]?\d+)?|\.\d+)\s*\Z")
_RUBY_HEX = re.compile(r"\A\s*[-+]?0[xX][0-9a-fA-F]+(?:_[0-9a-fA-F]+)*\s*\Z")


def ruby_float(text: str) -> float | None:
    """Ruby's ``Float(text)``: decimal (underscores between digits) or hexadecimal, else None."""
    if _RUBY_HEX.match(text):
        body = text.strip().replace("_", "")
        return float(int(body, 16))
    if _RUBY_FLOAT.match(text) and not text.strip().startswith((".", "-.", "+.")):
        return float(text.strip().replace("_", ""))
    return None


def _float_of(call: Call, v: Any) -> float:
    if isinstance(v, str):
        n = ruby_float(v)
        if n is None:
            call.fail("cannot convert given value to a floating point value.")
        return n
    return float(v)


@function("ceiling", "Numeric $val", "String $val")
def ceiling(call: Call, v: Any) -> int:
    return math.ceil(_float_of(call, v))


@function("floor", "Numeric $val", "String $val")
def floor(call: Call, v: Any) -> int:
    return math.floor(_float_of(call, v))


@function("round", "Numeric $val")
def round_(call: Call, v: Any) -> int:
    if isinstance(v, int):
        return v
    if v != v or v in (math.inf, -math.inf):
        call.fail(f"cannot round {ruby_to_s(v)}")
    return int(math.floor(abs(v) + 0.5)) * (1 if v >= 0 else -1)  # half away from zero, as Ruby


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@function("compare", "Numeric $a, Numeric $b", "String $a, String $b, Boolean $ignore_case?", "Any $a, Any $b, Any $ignore_case?")
def compare(call: Call, a: Any, b: Any, ignore_case: bool = True) -> int:
    if call.dispatch == 2:
        from ..valuerules import compare as order

        try:
            return order(a, b)  # versions, and Timespans/Timestamps with their kind or a number
        except TypeError:
            pass
        comparable = (str, int, float, Version, Timespan, Timestamp)
        if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, comparable) \
                or not isinstance(b, comparable):
            call.type_error("Non comparable type. Only values of the types Numeric, String, Semver, Timestamp and "
                            f"Timespan can be compared. Got {T.generalized_name(a)} and {T.generalized_name(b)}")
        call.type_error("Can only compare values of the same type (or for Timestamp/Timespan also against "
                        f"Numeric). Got {T.generalized_name(a)} and {T.generalized_name(b)}")
    if isinstance(a, str):
        if ignore_case:  # Ruby's casecmp: ASCII letters folded to lower case
            a, b = a.translate(_ASCII_LOWER), b.translate(_ASCII_LOWER)
        ea, eb = a.encode(), b.encode()
        return (ea > eb) - (ea < eb)
    return (a > b) - (a < b)


_VERSION_TOKEN = re.compile(r"[-.]|\d+|[^-.\d]+")


def _normalize_version(v: str) -> str:
    parts = v.split("-")
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    parts[0] = re.sub(r"[.0]+\Z", "", parts[0])
    return "-".join(parts)


def version_compare(a: str, b: str, ignore_trailing_zeroes: bool = False) -> int:
    """Puppet's ``versioncmp``: numbers compare as numbers (unless one has a leading zero), other
    words case-insensitively, and '-' and '.' sort before anything."""
    if ignore_trailing_zeroes:
        a, b = _normalize_version(a), _normalize_version(b)
    ta, tb = _VERSION_TOKEN.findall(a), _VERSION_TOKEN.findall(b)
    for x, y in zip(ta, tb):
        if x == y:
            continue
        if x == "-":
            return -1
        if y == "-":
            return 1
        if x == ".":
            return -1
        if y == ".":
            return 1
        if x.isdigit() and y.isdigit() and not (x.startswith("0") or y.startswith("0")):
            return (int(x) > int(y)) - (int(x) < int(y))
        ux, uy = x.upper().encode(), y.upper().encode()
        return (ux > uy) - (ux < uy)
    ea, eb = a.encode(), b.encode()
    return (ea > eb) - (ea < eb)


@function("versioncmp", "String $a, String $b, Boolean $ignore_trailing_zeroes?")
def versioncmp(call: Call, a: str, b: str, ignore_trailing_zeroes: bool = False) -> int:
    return version_compare(a, b, ignore_trailing_zeroes)


def _ruby_to_i(v: Any) -> int:
    from .collection import ruby_to_i

    return ruby_to_i(v)


@function("clamp", "Any +$values", legacy=True)
def clamp(call: Call, *values: Any) -> int:
    from .collection import _flatten

    items = _flatten(list(values))
    if len(items) != 3:
        call.fail("Wrong number of arguments, need three to clamp")
    for v in items:
        if isinstance(v, str) and not re.fullmatch(r"\d+", v):
            call.fail(f"Required explicit numeric ({v}:String)")
        if isinstance(v, dict):
            call.type_error(f"The Hash type is not allowed ({ruby_to_s(v)})")
    return sorted(_ruby_to_i(v) for v in items)[1]


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


@function("convert_base", "Variant[Integer, Pattern[/^[0-9]+$/]] $number, Variant[Integer, Pattern[/^[0-9]+$/]] $base",
          legacy=True)
def convert_base(call: Call, number: Any, base: Any) -> str:
    n, b = int(number), int(base)
    if not 2 <= b <= 36:
        call.fail("base must be at least 2 and must not be greater than 36")
    if n == 0:
        return "0"
    digits = []
    m = abs(n)
    while m:
        m, r = divmod(m, b)
        digits.append(_DIGITS[r])
    return ("-" if n < 0 else "") + "".join(reversed(digits))


_BYTES = re.compile(r"([0-9.e+-]*)\s*([^bB]?)")
_PREFIXES = {"": 0, "k": 10, "M": 20, "G": 30, "T": 40, "P": 50, "E": 60}


@function("to_bytes", "Variant[Numeric, String] $value", legacy=True)
def to_bytes(call: Call, v: Any) -> int | float:
    if not isinstance(v, str):
        return v
    m = _BYTES.match(v)
    number, prefix = (m.group(1), m.group(2)) if m else ("", "")
    if prefix not in _PREFIXES:
        call.fail(f"Unknown prefix {prefix}")
    value = to_number(number.rstrip("e+-.")) if number else 0
    return int(float(value or 0) * (1 << _PREFIXES[prefix]))

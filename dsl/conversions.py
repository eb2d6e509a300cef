"""``new`` and the type-call conversions: ``Integer('42')``, ``String(5)``, ``Array($h)``, ``Hash($a)``."""

from __future__ import annotations

import re
from typing import Any

from . import types as T
from .evaluator import Evaluator, to_number, to_str
from .formatlimits import field_error
from .semver import Version, VersionError, VersionRange, check_prerelease
from .timevalues import (
    NSECS_PER_SEC,
    TimeError,
    Timespan,
    Timestamp,
    parse_timespan,
    parse_timestamp,
    to_nanos,
)
from .values import DEFAULT, RegexValue, Sensitive


def new_value(ev: Evaluator, t: Any, args: list[Any], node: Any) -> Any:
    if not isinstance(t, T.PType):
        ev.fail(node, "new() expects a type as its first argument")
    r = T.resolve(t)
    if not args and isinstance(r, T.PTimestamp):
        args = [Timestamp.now()]  # Timestamp(): now
    if not args:
        ev.fail(node, f"creating a new {t} needs an argument")
    v = args[0]
    result: Any
    if isinstance(r, (T.PSemVer, T.PSemVerRange, T.PTimespan, T.PTimestamp)):
        try:
            result = _new_rich(r, args)
        except (VersionError, TimeError) as exc:
            ev.fail(node, f"{r.name}.new: {exc}")
    elif isinstance(r, (T.PInteger, T.PFloat, T.PNumeric)):
        result = _to_num(ev, r, v, args[1:], node)
    elif isinstance(r, (T.PUndef, T.PDefault)):
        result = v  # Undef(undef), Default(default): the value itself (anything else fails the type check)
    elif isinstance(r, (T.PEnum, T.PPattern)):
        result = _to_string(v, args[1:])
    elif isinstance(r, T.PString):
        too_large = _format_error(args[1:])
        if too_large is not None:
            ev.fail(node, f"String.new: {too_large}")
        result = v.pattern if isinstance(v, RegexValue) and len(args) == 1 else _to_string(v, args[1:])
    elif isinstance(r, T.PBoolean):
        result = _to_bool(ev, v, node)
    elif isinstance(r, (T.PArray, T.PTuple)):
        wrap = len(args) > 1 and args[1] is True
        if v is None and not wrap:
            ev.fail(node, "Array.new: an Undef value cannot be converted to an Array")
        if isinstance(v, list):
            result = list(v)
        elif wrap:
            result = [v]
        elif isinstance(v, (Version, VersionRange, Timespan, Timestamp)):
            ev.fail(node, f"Array.new: a value of type {T.generalized_name(v)} cannot be converted to an Array")
        elif isinstance(v, dict):
            result = [[k, x] for k, x in v.items()]
        elif isinstance(v, str):
            result = list(v)
        elif isinstance(v, int) and not isinstance(v, bool):
            result = list(range(v))
        else:
            result = [v]
    elif isinstance(r, (T.PHash, T.PStruct)):
        if isinstance(v, dict):
            result = dict(v)
        elif isinstance(v, list):
            if all(isinstance(x, list) and len(x) == 2 for x in v):
                result = {x[0]: x[1] for x in v}
            elif len(v) % 2 == 0:
                result = {v[i]: v[i + 1] for i in range(0, len(v), 2)}
            else:
                ev.fail(node, "Hash.new: an Array needs an even number of elements or [key, value] pairs")
        else:
            ev.fail(node, f"Hash.new: cannot convert {T.generalized_name(v)} to a Hash")
    elif isinstance(r, T.PRegexp):
        result = RegexValue(v.pattern if isinstance(v, RegexValue) else str(v))
    elif isinstance(r, T.PSensitive):
        result = Sensitive(v)
    elif isinstance(r, T.POptional):
        return new_value(ev, r.type, args, node)
    elif isinstance(r, T.PVariant):
        for inner in r.types:
            try:
                candidate = new_value(ev, inner, args, node)
            except Exception:  # noqa: BLE001 - try the next alternative
                continue
            return candidate
        ev.fail(node, f"cannot convert {T.generalized_name(v)} to {t}")
    else:
        ev.fail(node, f"creating a new instance of {t} is not supported")
    if not t.instance(result):
        ev.fail(node, f"converted value {T.mismatch_message(t, result)}")
    return result


def _to_num(ev: Evaluator, r: T.PType, v: Any, extra: list[Any], node: Any) -> Any:
    if isinstance(v, (Timespan, Timestamp)):  # seconds: Integer truncates, Float and Numeric are exact
        return v.seconds_int() if isinstance(r, T.PInteger) else v.seconds_float()
    if isinstance(v, bool):
        n: Any = 1 if v else 0
    elif isinstance(v, (int, float)):
        n = v
    elif isinstance(v, str):
        radix = extra[0] if extra and isinstance(extra[0], int) else None
        if radix is not None and radix not in (2, 8, 10, 16):
            ev.fail(node, f"illegal radix {radix}: expected 2, 8, 10 or 16")
        text = v.strip()
        try:
            if radix is not None:
                n = int(text, radix)
            else:
                n = to_number(text)
                if n is None and text.lower().startswith(("0b", "-0b")):
                    n = int(text, 2)
        except ValueError:
            n = None
        if n is None or (isinstance(r, T.PInteger) and isinstance(n, float)):
            ev.fail(node, f"the string '{v}' cannot be converted to {r.name}")
    else:
        ev.fail(node, f"cannot convert {T.generalized_name(v)} to {r.name}")
    if isinstance(r, T.PInteger):
        return int(n)
    if isinstance(r, T.PFloat):
        return float(n)
    return n


_FORMAT_RE = re.compile(r"%([-+ 0#]*)(\d+)?(?:\.(\d+))?([sdifxXobBeEgGp])")


def _to_string(v: Any, extra: list[Any]) -> str:
    fmt = extra[0] if extra and isinstance(extra[0], str) else None
    if fmt is not None:
        return _format_one(v, fmt)
    if isinstance(v, float):
        return f"{v:f}"
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "[" + ", ".join(_quoted(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_quoted(k)} => {_quoted(x)}" for k, x in v.items()) + "}"
    return to_str(v)


def _format_error(extra: list[Any]) -> str | None:
    """Why the format directive of ``String(v, FORMAT)`` would build too large a string, if it would."""
    fmt = extra[0] if extra and isinstance(extra[0], str) else None
    m = _FORMAT_RE.fullmatch(fmt) if fmt is not None else None
    return field_error(m.group(2), m.group(3)) if m is not None else None


def _format_one(v: Any, fmt: str) -> str:
    """``String(255, '%x')``: one value through a format directive."""
    m = _FORMAT_RE.fullmatch(fmt)
    if m is None:
        return to_str(v)
    flags, width, prec, conv = m.groups()
    spec = "%" + flags + (width or "") + (f".{prec}" if prec is not None else "")
    if conv == "p":
        return (spec + "s") % (_quoted(v))
    if conv in "dixXo":
        n = to_number(v)
        return (spec + ("d" if conv == "i" else conv)) % int(n if n is not None else 0)
    if conv in "feEgG":
        n = to_number(v)
        return (spec + conv) % float(n if n is not None else 0)
    if conv in "bB":
        return format(int(to_number(v) or 0), "b")
    return (spec + "s") % to_str(v)


def _quoted(v: Any) -> str:
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if v is None:
        return "undef"
    return _to_string(v, [])


def _to_bool(ev: Evaluator, v: Any, node: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return v != 0
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "yes", "y"):
            return True
        if s in ("false", "no", "n"):
            return False
    ev.fail(node, f"cannot convert '{to_str(v)}' to Boolean")


# -- SemVer, SemVerRange, Timespan, Timestamp -------------------------------------------------------------
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _signature(name: str, args: list[Any]) -> TimeError:
    got = ", ".join(T.generalized_name(a) for a in args)
    return TimeError(f"the arguments ({got}) are not accepted by {name}.new")


def _new_rich(r: T.PType, args: list[Any]) -> Any:
    if isinstance(r, T.PSemVer):
        return _new_semver(args)
    if isinstance(r, T.PSemVerRange):
        return _new_semver_range(args)
    if isinstance(r, T.PTimespan):
        return _new_timespan(args)
    return _new_timestamp(args)


_SEMVER_KEYS = {"major", "minor", "patch", "prerelease", "build"}
_IDENT_RE = re.compile(r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*\Z")


def _new_semver(args: list[Any]) -> Version:
    positional = True
    if len(args) == 1:
        v = args[0]
        if isinstance(v, Version):
            return v
        if isinstance(v, str):
            return Version.parse(v)
        if isinstance(v, dict) and {"major", "minor", "patch"} <= set(v) and set(v) <= _SEMVER_KEYS:
            args = [v["major"], v["minor"], v["patch"], v.get("prerelease"), v.get("build")]
            positional = False
        else:
            raise _signature("SemVer", args)
    if not 3 <= len(args) <= 5:
        raise TimeError(f"expects between 1 and 5 arguments, got {len(args)}")
    major, minor, patch = args[:3]
    pre = args[3] if len(args) > 3 else None
    build = args[4] if len(args) > 4 else None
    if not all(_is_int(n) and n >= 0 for n in (major, minor, patch)) \
            or not all(x is None or (isinstance(x, str) and _IDENT_RE.match(x)) for x in (pre, build)) \
            or (positional and pre is None and len(args) > 3):
        raise _signature("SemVer", args)
    pre_ids = tuple(pre.split(".")) if pre is not None else None
    check_prerelease(pre_ids)
    return Version(major, minor, patch, pre_ids, build)


def _new_semver_range(args: list[Any]) -> VersionRange:
    from .semver import MAX, MIN

    if len(args) == 1 and isinstance(args[0], VersionRange):
        return args[0]
    if len(args) == 1 and isinstance(args[0], str) and args[0]:
        return VersionRange.parse(args[0])
    if len(args) == 1 and isinstance(args[0], dict) and {"min", "max"} <= set(args[0]) \
            and set(args[0]) <= {"min", "max", "exclude_max"}:
        h = args[0]
        args = [h["min"], h["max"]] + ([h["exclude_max"]] if "exclude_max" in h else [])
    if 2 <= len(args) <= 3 and all(isinstance(a, Version) or a is DEFAULT for a in args[:2]) \
            and (len(args) == 2 or isinstance(args[2], bool)):
        lo = MIN if args[0] is DEFAULT else args[0]
        hi = MAX if args[1] is DEFAULT else args[1]
        return VersionRange.between(lo, hi, len(args) == 3 and args[2] is True)
    raise _signature("SemVerRange", args)


_SPAN_KEYS = {"days": 86400 * NSECS_PER_SEC, "hours": 3600 * NSECS_PER_SEC, "minutes": 60 * NSECS_PER_SEC,
              "seconds": NSECS_PER_SEC, "milliseconds": 1_000_000, "microseconds": 1000, "nanoseconds": 1}


def _formats(v: Any) -> list[str] | None:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
        return list(v)
    return None


def _new_timespan(args: list[Any]) -> Timespan:
    v = args[0]
    if len(args) == 1:
        if isinstance(v, Timespan):
            return v
        if _is_num(v):
            return Timespan(to_nanos(v))
        if isinstance(v, str):
            return parse_timespan(v)
        if isinstance(v, dict) and set(v) <= {"string", "format"} and isinstance(v.get("string"), str):
            fmts = _formats(v["format"]) if "format" in v else None
            if "format" in v and fmts is None:
                raise _signature("Timespan", args)
            return parse_timespan(v["string"], fmts)
        if isinstance(v, dict) and set(v) <= set(_SPAN_KEYS) | {"negative"} \
                and all(_is_int(x) for k, x in v.items() if k != "negative") \
                and isinstance(v.get("negative", False), bool):
            ns = sum(x * _SPAN_KEYS[k] for k, x in v.items() if k != "negative")
            return Timespan(-ns if v.get("negative") else ns)
        raise _signature("Timespan", args)
    if len(args) == 2 and isinstance(v, str) and _formats(args[1]) is not None:
        return parse_timespan(v, _formats(args[1]))
    if 4 <= len(args) <= 7 and all(_is_int(a) for a in args):
        units = list(_SPAN_KEYS.values())
        return Timespan(sum(a * u for a, u in zip(args, units, strict=False)))
    if len(args) > 7 or len(args) == 3:
        raise TimeError(f"expects between 1 and 7 arguments, got {len(args)}")
    raise _signature("Timespan", args)


def _new_timestamp(args: list[Any]) -> Timestamp:
    v = args[0]
    if len(args) == 1:
        if isinstance(v, Timestamp):
            return v
        if _is_num(v):
            return Timestamp(to_nanos(v))
        if isinstance(v, str):
            return parse_timestamp(v, None, None)
        if isinstance(v, dict) and set(v) <= {"string", "format", "timezone"} and isinstance(v.get("string"), str) \
                and isinstance(v.get("timezone", ""), str):
            fmts = _formats(v["format"]) if "format" in v else None
            if "format" in v and fmts is None:
                raise _signature("Timestamp", args)
            return parse_timestamp(v["string"], fmts, v.get("timezone"))
        raise _signature("Timestamp", args)
    if isinstance(v, str) and 2 <= len(args) <= 3 and _formats(args[1]) is not None \
            and (len(args) == 2 or isinstance(args[2], str)):
        return parse_timestamp(v, _formats(args[1]), args[2] if len(args) == 3 else None)
    raise _signature("Timestamp", args)

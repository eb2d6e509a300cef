"""``new`` and the type-call conversions: ``Integer('42')``, ``String(5)``, ``Array($h)``, ``Hash($a)``."""

from __future__ import annotations

import re
from typing import Any

from . import types as T
from .evaluator import Evaluator, to_number, to_str
from .formatlimits import field_error
from .values import RegexValue, Sensitive


def new_value(ev: Evaluator, t: Any, args: list[Any], node: Any) -> Any:
    if not isinstance(t, T.PType):
        ev.fail(node, "new() expects a type as its first argument")
    r = T.resolve(t)
    if not args:
        ev.fail(node, f"creating a new {t} needs an argument")
    v = args[0]
    result: Any
    if isinstance(r, (T.PInteger, T.PFloat, T.PNumeric)):
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

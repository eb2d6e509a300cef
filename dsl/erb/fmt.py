"""Ruby's ``format``/``sprintf``/``String#%``, with width and precision capped like every size a
template can choose."""

from __future__ import annotations

import math
import re
from typing import Any

from ..formatlimits import field_error
from .registry import check_size
from .rvalues import RubyError, Symbol, Unsupported, class_name, float_to_s, inspect, is_int, to_s

_SPEC = re.compile(
    r"%(?:(?P<pct>%)|<(?P<name>\w+)>(?P<nflags>[-+ 0#]*)(?P<nwidth>\d+)?(?:\.(?P<nprec>\d+))?(?P<ntype>[a-zA-Z])"
    r"|\{(?P<tname>\w+)\}|(?P<flags>[-+ 0#]*)(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d+))?(?P<type>[a-zA-Z]))")


def _to_integer(v: Any) -> int:
    if is_int(v):
        return int(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise RubyError("FloatDomainError", float_to_s(v))
        return int(v)
    if isinstance(v, str):
        from .methods_core import kernel_integer

        return int(kernel_integer(v))
    if v is None:
        raise RubyError("TypeError", "can't convert nil into Integer")
    raise RubyError("TypeError", f"can't convert {class_name(v)} into Integer")


def _to_float(v: Any) -> float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        from .methods_core import kernel_float

        return float(kernel_float(v))
    if v is None:
        raise RubyError("TypeError", "can't convert nil into Float")
    raise RubyError("TypeError", f"can't convert {class_name(v)} into Float")


def _cap(n: int, what: str = "width") -> int:
    error = field_error(**{what: n})
    if error is not None:
        raise RubyError("ArgumentError", error)
    return n


def _pad(body: str, flags: str, width: int | None, numeric: bool) -> str:
    if width is None or len(body) >= width:
        return body
    if "-" in flags:
        return body + " " * (width - len(body))
    if numeric and "0" in flags:
        sign = body[0] if body[:1] in "+- " and body[:1] else ""
        rest = body[len(sign):]
        prefix = ""
        if rest[:2].lower() in ("0x", "0b") or (rest[:1] == "0" and len(rest) > 1 and "#" in flags):
            prefix, rest = rest[:2], rest[2:]
        return sign + prefix + "0" * (width - len(body)) + rest
    return " " * (width - len(body)) + body


def _format_one(conv: str, flags: str, width: int | None, prec: int | None, arg: Any) -> str:
    if conv == "s":
        text = to_s(arg)
        if prec is not None:
            text = text[:prec]
        return _pad(text, flags, width, False)
    if conv == "p":
        text = inspect(arg)
        if prec is not None:
            text = text[:prec]
        return _pad(text, flags, width, False)
    if conv == "c":
        if is_int(arg):
            text = chr(arg)
        else:
            text = to_s(arg)[:1]
        return _pad(text, flags, width, False)
    if conv in "diu":
        n = _to_integer(arg)
        body = str(abs(n))
        if prec is not None:
            body = body.zfill(prec)
        sign = "-" if n < 0 else ("+" if "+" in flags else (" " if " " in flags else ""))
        return _pad(sign + body, flags if prec is None else flags.replace("0", ""), width, True)
    if conv in "xXobB":
        n = _to_integer(arg)
        if n < 0 and "+" not in flags and " " not in flags:
            raise Unsupported(f"format '%{conv}' of a negative number (Ruby's two's complement form)")
        base = {"x": "x", "X": "X", "o": "o", "b": "b", "B": "b"}[conv]
        body = format(abs(n), base)
        if prec is not None:
            body = body.zfill(prec)
        if "#" in flags and n != 0:
            body = {"x": "0x", "X": "0X", "o": "0", "b": "0b", "B": "0B"}[conv] + body
        sign = "-" if n < 0 else ("+" if "+" in flags else (" " if " " in flags else ""))
        return _pad(sign + body, flags, width, True)
    if conv in "feEgGaA":
        if conv in "aA":
            raise Unsupported("format '%a'")
        x = _to_float(arg)
        if math.isnan(x) or math.isinf(x):
            body = "NaN" if math.isnan(x) else "Inf"
            sign = "-" if x < 0 else ("+" if "+" in flags else (" " if " " in flags else ""))
            return _pad(sign + body, flags.replace("0", ""), width, False)
        py_flags = "".join(f for f in "+ #" if f in flags)
        body = format(x, f"{py_flags}.{6 if prec is None else prec}{conv}")
        return _pad(body, flags, width, True)
    raise RubyError("ArgumentError", f"malformed format string - %{conv}")


def ruby_format(fmt: str, args: list[Any]) -> str:
    out: list[str] = []
    pos = 0
    arg_i = 0
    hash_arg = args[0] if len(args) == 1 and isinstance(args[0], dict) else None

    def next_arg() -> Any:
        nonlocal arg_i
        if arg_i >= len(args):
            raise RubyError("ArgumentError", "too few arguments")
        v = args[arg_i]
        arg_i += 1
        return v

    def named(name: str) -> Any:
        if hash_arg is None:
            raise RubyError("ArgumentError", "one hash required")
        for key in (Symbol(name), name):
            if key in hash_arg:
                return hash_arg[key]
        raise RubyError("KeyError", f"key<{name}> not found")

    total = 0
    while True:
        i = fmt.find("%", pos)
        if i < 0:
            out.append(fmt[pos:])
            break
        out.append(fmt[pos:i])
        m = _SPEC.match(fmt, i)
        if m is None:
            if i == len(fmt) - 1:
                raise RubyError("ArgumentError", "incomplete format specifier; use %% (double %) instead")
            raise RubyError("ArgumentError", f"malformed format string - %{fmt[i + 1:i + 2]}")
        pos = m.end()
        if m.group("pct"):
            out.append("%")
            continue
        if m.group("tname") is not None:
            piece = to_s(named(m.group("tname")))
        elif m.group("name") is not None:
            width = _cap(int(m.group("nwidth"))) if m.group("nwidth") else None
            prec = _cap(int(m.group("nprec")), "precision") if m.group("nprec") else None
            piece = _format_one(m.group("ntype"), m.group("nflags"), width, prec, named(m.group("name")))
        else:
            flags = m.group("flags")
            w = m.group("width")
            if w == "*":
                wv = _to_integer(next_arg())
                if wv < 0:
                    flags += "-"
                    wv = -wv
                width = _cap(wv)
            else:
                width = _cap(int(w)) if w else None
            p = m.group("prec")
            if p == "*":
                prec = _cap(max(_to_integer(next_arg()), 0), "precision")
            else:
                prec = _cap(int(p), "precision") if p else None
            piece = _format_one(m.group("type"), flags, width, prec, next_arg())
        total += len(piece)
        check_size(total, "this format")
        out.append(piece)
    return "".join(out)

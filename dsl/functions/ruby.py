"""Ruby's behaviour where Puppet's functions hand values to Ruby: ``to_s`` and ``inspect`` of a value,
``format``, ``split`` and ``gsub`` with a regular expression, character sets. The Ruby semantics live
in :mod:`dsl.erb` (ERB templates need them too); this module adapts them to a function call, and
imports them on first use, so that a compilation without templates does not load the ERB package."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..formatlimits import MAX_STRING_SIZE
from ..semver import Version, VersionRange
from ..timevalues import Timespan, Timestamp
from ..values import RegexValue
from .contract import Call

__all__ = ["char_set", "cmp", "eq", "eql_key", "float_to_s", "format_values", "gsub", "regexp", "ruby_inspect",
           "ruby_to_s", "split", "str_to_f", "uniq"]

WHITESPACE = " \t\n\v\f\r\0"


#: the language's rich scalar values: SemVer, SemVerRange, Timespan, Timestamp
_RICH = (Version, VersionRange, Timespan, Timestamp)


def ruby_to_s(v: Any) -> str:
    """Ruby's ``to_s`` of a value."""
    from ..erb.rvalues import to_s

    if isinstance(v, _RICH):
        return str(v)
    return to_s(v)


def ruby_inspect(v: Any) -> str:
    """Ruby's ``inspect`` of a value."""
    from ..erb.rvalues import inspect

    return inspect(v)


def float_to_s(v: float) -> str:
    """Ruby's ``Float#to_s``."""
    from ..erb.rvalues import float_to_s as to_s

    return to_s(v)


def format_values(call: Call, fmt: str, args: list[Any]) -> str:
    """Ruby's ``format(fmt, *args)``; its errors name the function."""
    from ..erb.fmt import ruby_format
    from ..erb.rvalues import RubyError, Unsupported

    try:
        return ruby_format(fmt, args)
    except (RubyError, Unsupported) as exc:
        call.fail(exc.message)


def regexp(call: Call, pattern: Any, flags: int = 0) -> re.Pattern[str]:
    """A compiled pattern from a Regexp value or a string (compiled as Ruby's ``Regexp.new``)."""
    if isinstance(pattern, RegexValue):
        rx = pattern
    else:
        try:
            rx = RegexValue(str(pattern))
        except re.error as exc:
            call.fail(f"invalid regular expression '{pattern}': {exc}")
    if flags:
        return re.compile(rx.compiled.pattern, rx.compiled.flags | flags)
    return rx.compiled


def split(text: str, rx: re.Pattern[str]) -> list[str]:
    """Ruby's ``String#split(regexp)``: captures are kept, trailing empty fields dropped, an empty
    match splits between characters."""
    if not text:
        return []
    parts: list[str] = []
    start = 0
    pos = 0
    while pos <= len(text):
        m = rx.search(text, pos)
        if m is None:
            break
        if m.end() == m.start():
            if m.start() >= len(text):
                break
            if m.start() == start:
                pos = m.start() + 1
                parts.append(text[start:pos])
                parts.extend(g for g in m.groups() if g is not None)
                start = pos
                continue
        parts.append(text[start:m.start()])
        parts.extend(g for g in m.groups() if g is not None)
        start = m.end()
        pos = m.end() if m.end() > m.start() else m.end() + 1
    parts.append(text[start:])
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def gsub(call: Call, text: str, rx: re.Pattern[str], replacement: Any, count: int = 0) -> str:
    """Ruby's ``sub``/``gsub`` (``count`` 1 or 0): a replacement string with ``\\1``, ``\\k<name>``,
    ``\\0`` ..., or a hash from matched text to replacement."""
    from ..erb.methods_str import _expand_replacement
    from ..erb.rvalues import RubyError

    total = [len(text)]

    def grown(piece: str) -> str:
        total[0] += len(piece)
        if total[0] > MAX_STRING_SIZE:
            call.fail(f"the result would be longer than {MAX_STRING_SIZE} characters")
        return piece

    repl: Callable[[re.Match[str]], str]
    if isinstance(replacement, dict):
        def repl(m: re.Match[str]) -> str:
            return grown(ruby_to_s(replacement.get(m.group(0))))
    else:
        text_repl = str(replacement)

        def repl(m: re.Match[str]) -> str:
            try:
                return grown(_expand_replacement(text_repl, m))
            except RubyError as exc:
                call.fail(exc.message)

    return rx.sub(repl, text, count=count)


def char_set(call: Call, spec: str) -> Callable[[str], bool]:
    """A Ruby character set (``a-z``, ``^0-9``) as used by ``squeeze``, ``count`` and ``delete``."""
    from ..erb.methods_str import _char_set
    from ..erb.rvalues import RubyError

    try:
        test: Callable[[str], bool] = _char_set(spec)
    except RubyError as exc:
        call.fail(exc.message)
    return test


def eq(a: Any, b: Any) -> bool:
    """Ruby's ``==`` (``1 == 1.0``, but ``true != 1`` and strings by case)."""
    from ..erb.rvalues import equal

    return equal(a, b)


def eql_key(v: Any) -> Any:
    """A key under which Ruby's ``eql?`` equal values collide: ``uniq``, ``-``, ``&`` and ``|`` of arrays."""
    if isinstance(v, list):
        return ("Array", tuple(eql_key(x) for x in v))
    if isinstance(v, dict):
        return ("Hash", tuple((eql_key(k), eql_key(x)) for k, x in v.items()))
    if isinstance(v, (str, int, float, bool)) or v is None:
        return (type(v).__name__, v)
    try:
        hash(v)
    except TypeError:
        return ("object", id(v))
    return (type(v).__name__, v)


def uniq(items: list[Any], key: Callable[[Any], Any] | None = None) -> list[Any]:
    """Ruby's ``Array#uniq``: the first of each group of ``eql?`` values (or of equal block results)."""
    seen: set[Any] = set()
    out = []
    for x in items:
        k = eql_key(key(x) if key is not None else x)
        if k not in seen:
            seen.add(k)
            out.append(x)
    return out


def cmp(a: Any, b: Any) -> int | None:
    """Ruby's ``<=>``: -1, 0, 1, or None when the two do not compare."""
    from ..erb.rvalues import compare

    if isinstance(a, _RICH) or isinstance(b, _RICH):
        from ..valuerules import compare as order

        try:
            return order(a, b)
        except TypeError:
            return None
    return compare(a, b)


_FLOAT_PREFIX = re.compile(r"\s*[-+]?(?:\d+(?:_\d+)*)?(?:\.\d+(?:_\d+)*)?(?:[eE][-+]?\d+)?")


def str_to_f(s: str) -> float:
    """Ruby's ``String#to_f``: the leading number, else 0.0."""
    m = _FLOAT_PREFIX.match(s)
    text = m.group(0).replace("_", "").strip() if m else ""
    try:
        return float(text) if text and any(c.isdigit() for c in text) else 0.0
    except ValueError:
        return 0.0

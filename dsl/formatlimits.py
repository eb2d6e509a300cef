"""How big one format directive (or one padding, joining, replacing call) may make a string.

``sprintf('%999999999s', 'x')``, ``"%999999999d" % 1`` or ``"{:>999999999}".format(1)`` in a template
would each build a gigabyte in the compiler from a handful of characters. Widths and precisions above
:data:`MAX_STRING_SIZE` (the same bound as a template's string repetition) are refused before anything
is built; the callers turn the message into a positioned error. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: The longest string a single format, padding or repetition may build (16 MiB).
MAX_STRING_SIZE = 16 * 1024 * 1024

#: One printf-style conversion as Python's ``%`` reads it: %(key)flags width .precision length type.
_PRINTF = re.compile(r"%(\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.)", re.DOTALL)
_DIGITS = re.compile(r"\d+")


def _number(text: str) -> int:
    # More than 9 digits is over the limit whatever they say (and int() of thousands of digits is slow).
    return int(text) if len(text) <= 9 else MAX_STRING_SIZE + 1


def field_error(width: Any = None, precision: Any = None) -> str | None:
    """The message for a width or precision over the limit, else None. Non-integers are left to the
    formatting itself to reject."""
    for what, value in (("width", width), ("precision", precision)):
        if isinstance(value, str) and value.isdigit():
            value = _number(value)
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_STRING_SIZE:
            shown = value if value <= 10**12 else "of more than 12 digits"
            return f"format {what} {shown} is too large (at most {MAX_STRING_SIZE})"
    return None


def count_error(value: Any, what: str) -> str | None:
    """The message when ``value`` (an Integer argument: a batch size, an indent) is over the limit."""
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_STRING_SIZE:
        return f"{what} {value} is too large (at most {MAX_STRING_SIZE})"
    return None


def size_error(size: int, what: str) -> str | None:
    """The message when ``what`` would build a string of ``size`` characters, over the limit."""
    if size > MAX_STRING_SIZE:
        return f"{what} would build a string of {size} characters (at most {MAX_STRING_SIZE})"
    return None


def printf_error(fmt: str, args: Any) -> str | None:
    """For Python's ``fmt % args`` (templates' ``%`` and ``format`` filter): the first width or
    precision over the limit, ``*`` ones taken from ``args`` as Python does."""
    positional = list(args) if isinstance(args, tuple) else [args]
    index = 0
    for m in _PRINTF.finditer(fmt):
        key, width, precision, conversion = m.groups()
        if conversion == "%" and m.group(0) == "%%":
            continue
        values: list[Any] = []
        for part in (width, precision):
            if part == "*":
                values.append(positional[index] if index < len(positional) else None)
                index += 1
            else:
                values.append(part)
        error = field_error(*values)
        if error is not None:
            return error
        if key is None:
            index += 1
    return None


def format_spec_error(spec: str) -> str | None:
    """For one ``str.format`` field's spec (nested fields already substituted): any number in it over
    the limit, be it the width, the precision or a date format's digits."""
    for digits in _DIGITS.findall(spec):
        error = field_error(_number(digits))
        if error is not None:
            return error
    return None


def join_error(separator: str, items: Any) -> str | None:
    """``separator.join(items)`` when the separator alone, repeated between the items, is over the limit."""
    if isinstance(items, (list, tuple, str)) and len(items) > 1:
        return size_error(len(separator) * (len(items) - 1), "joining")
    return None


def replace_error(text: str, old: str, new: str, count: Any = -1) -> str | None:
    """``text.replace(old, new, count)`` when its result would be over the limit."""
    occurrences = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
        occurrences = min(occurrences, count)
    return size_error(len(text) + occurrences * (len(new) - len(old)), "replacing")


def mapping_or_args(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """What ``fmt % ...`` receives from a ``format(*args, **kwargs)`` filter call."""
    return dict(kwargs) if kwargs else args

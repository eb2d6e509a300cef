"""Ruby (Onigmo) regular expressions translated to Python's ``re``.

Where the dialects differ: ``^``/``$`` always match at line ends in Ruby (so ``re.M`` always), Ruby's
``/m`` is Python's ``re.S``, ``\\w``/``\\d``/``\\s`` are ASCII-only (``re.A``), ``\\z``/``\\Z``/``\\h``
are spelled differently, named groups are ``(?<name>)``, back-references ``\\k<name>``, and POSIX
bracket classes (``[[:alpha:]]``) exist. Constructs Python lacks raise :class:`Unsupported`.
"""

from __future__ import annotations

import functools
import re

from .rvalues import RubyError, Unsupported

_POSIX = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\r\n\f\v", "blank": r" \t", "xdigit": "0-9a-fA-F", "word": r"\w",
    "punct": r"!-/:-@\[-`{-~", "cntrl": r"\x00-\x1f\x7f", "print": r" -~", "graph": r"!-~",
}
_ESCAPES = {"z": r"\Z", "Z": r"(?=\n?\Z)", "h": "[0-9a-fA-F]", "H": "[^0-9a-fA-F]"}
_IN_CLASS_ESCAPES = {"h": "0-9a-fA-F"}


def translate(source: str) -> str:
    out: list[str] = []
    i = 0
    n = len(source)
    depth = 0  # inside [...]
    while i < n:
        c = source[i]
        if c == "\\" and i + 1 < n:
            e = source[i + 1]
            if depth == 0 and e in _ESCAPES:
                out.append(_ESCAPES[e])
            elif depth > 0 and e in _IN_CLASS_ESCAPES:
                out.append(_IN_CLASS_ESCAPES[e])
            elif e == "k" and i + 2 < n and source[i + 2] == "<":
                end = source.find(">", i + 3)
                if end < 0:
                    raise RubyError("RegexpError", f"invalid backref name: /{source}/")
                name = source[i + 3:end]
                out.append(f"(?P={name})" if not name.isdigit() else f"\\{name}")
                i = end + 1
                continue
            elif e in "pPGRXK" or (e == "g" and depth == 0):
                raise Unsupported(f"regular expression escape '\\{e}'")
            else:
                out.append(source[i:i + 2])
            i += 2
            continue
        if depth == 0:
            if c == "[":
                depth = 1
                out.append(c)
                i += 1
                if i < n and source[i] == "^":
                    out.append("^")
                    i += 1
                if i < n and source[i] == "]":  # a ']' right after '[' is literal
                    out.append("\\]")
                    i += 1
                continue
            if c == "(" and source.startswith("(?<", i) and i + 3 < n and source[i + 3] not in "=!":
                out.append("(?P<")
                i += 3
                continue
            if c == "(" and source.startswith("(?", i):
                m = re.compile(r"\(\?([mix]*)(?:-([mix]*))?([:)])").match(source, i)
                if m is not None:
                    on, off = m.group(1), m.group(2) or ""
                    on_py = on.replace("m", "s")
                    off_py = off.replace("m", "s")
                    if m.group(3) == ")":
                        raise Unsupported("inline regular expression options '(?" + on + ")' in the middle")
                    out.append(f"(?{on_py}{'-' + off_py if off_py else ''}:" if (on_py or off_py) else "(?:")
                    i = m.end()
                    continue
                if source.startswith("(?~", i):
                    raise Unsupported("absent operator '(?~' in a regular expression")
            out.append(c)
            i += 1
            continue
        # inside a character class
        if c == "[" and source.startswith("[:", i):
            end = source.find(":]", i + 2)
            if end > 0:
                name = source[i + 2:end]
                negate = name.startswith("^")
                cls = _POSIX.get(name.lstrip("^"))
                if cls is None:
                    raise RubyError("RegexpError", f"invalid POSIX bracket type: /{source}/")
                if negate:
                    raise Unsupported("negated POSIX bracket class in a regular expression")
                out.append(cls)
                i = end + 2
                continue
        if c == "[":
            raise Unsupported("nested character class in a regular expression")
        if c == "&" and source.startswith("&&", i):
            raise Unsupported("character class intersection '&&' in a regular expression")
        if c == "]":
            depth = 0
        out.append(c)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=512)
def compile_ruby_regex(source: str, flags: str = "") -> re.Pattern[str]:
    py_flags = re.M | re.A
    if "i" in flags:
        py_flags |= re.I
    if "m" in flags:
        py_flags |= re.S
    if "x" in flags:
        py_flags |= re.X
    try:
        return re.compile(translate(source), py_flags)
    except re.error as exc:
        raise RubyError("RegexpError", f"{exc}: /{source}/") from None


def escape(text: str) -> str:
    """Ruby's ``Regexp.escape``."""
    out = []
    for c in text:
        if c in ".*?+^$|()[]{}\\-#":
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif c == " ":
            out.append("\\ ")
        else:
            out.append(c)
    return "".join(out)

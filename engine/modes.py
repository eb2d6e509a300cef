"""File modes: numeric (``'0644'``) and symbolic (``'u=rw,go=r'``, ``'a+X'``). Pure functions."""

from __future__ import annotations

import re

from engine.errors import ValidationError

_CLAUSE = re.compile(r"([ugoa]*)([-+=])([rwxXst]*|[ugo])")
_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o1007}
_PERM = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}


def parse_mode(value: object) -> int | str:
    """Normalise a mode: an ``int`` for numeric modes, the cleaned string for symbolic ones."""
    if isinstance(value, bool):
        raise ValidationError(f"invalid mode {value!r}")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"invalid mode {value!r}")
    text = value.strip()
    if text.isdigit():
        if len(text) > 4 or any(c not in "01234567" for c in text):
            raise ValidationError(f"invalid mode '{value}': numeric modes are 3 or 4 octal digits")
        return int(text, 8)
    for clause in text.split(","):
        if not _CLAUSE.fullmatch(clause):
            raise ValidationError(f"invalid mode '{value}': '{clause}' is not a symbolic mode clause "
                                  "like u=rw, go-w or a+X")
    return text


def format_mode(mode: int) -> str:
    return f"{mode:04o}"


def desired_mode(spec: int | str, current: int, is_dir: bool) -> int:
    """The mode a file should end up with, given its current mode (for relative symbolic modes)."""
    if isinstance(spec, int):
        if is_dir:
            # Like Puppet: on directories, search permission wherever read permission is set.
            spec |= (spec & 0o444) >> 2
        return spec
    mode = current & 0o7777
    for clause in spec.split(","):
        m = _CLAUSE.fullmatch(clause)
        assert m is not None
        who, op, perms = m.groups()
        if not who or who == "a":
            who = "ugo"
        mask = 0
        for w in who:
            mask |= _WHO[w]
        bits = 0
        if perms in ("u", "g", "o"):
            shift = {"u": 6, "g": 3, "o": 0}[perms]
            src = (current >> shift) & 0o7
            bits = (src << 6) | (src << 3) | src
        else:
            for p in perms:
                if p == "X":
                    if is_dir or current & 0o111:
                        bits |= 0o111
                else:
                    bits |= _PERM[p]
        bits &= mask
        if op == "=":
            mode = (mode & ~(mask & 0o777 if "s" not in perms and "t" not in perms else mask)) | bits
        elif op == "+":
            mode |= bits
        else:
            mode &= ~bits
    return mode & 0o7777

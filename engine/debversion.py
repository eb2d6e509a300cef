"""Debian version comparison (Debian Policy 5.6.12), pure Python so checks need no subprocess."""

from __future__ import annotations

import re
from functools import cmp_to_key

_DIGITS = re.compile(r"\d+|\D+")


def _order(c: str) -> int:
    if c == "~":
        return -1
    if c.isdigit():
        return 0
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _cmp_part(a: str, b: str) -> int:
    while a or b:
        # non-digit prefix
        ia = 0
        while ia < len(a) and not a[ia].isdigit():
            ia += 1
        ib = 0
        while ib < len(b) and not b[ib].isdigit():
            ib += 1
        sa, sb = a[:ia], b[:ib]
        for i in range(max(len(sa), len(sb))):
            ca = _order(sa[i]) if i < len(sa) else 0
            cb = _order(sb[i]) if i < len(sb) else 0
            if ca != cb:
                return -1 if ca < cb else 1
        a, b = a[ia:], b[ib:]
        ja = 0
        while ja < len(a) and a[ja].isdigit():
            ja += 1
        jb = 0
        while jb < len(b) and b[jb].isdigit():
            jb += 1
        na = int(a[:ja]) if ja else 0
        nb = int(b[:jb]) if jb else 0
        if na != nb:
            return -1 if na < nb else 1
        a, b = a[ja:], b[jb:]
    return 0


def _split(v: str) -> tuple[int, str, str]:
    epoch = 0
    if ":" in v:
        e, v = v.split(":", 1)
        epoch = int(e) if e.isdigit() else 0
    if "-" in v:
        upstream, revision = v.rsplit("-", 1)
    else:
        upstream, revision = v, ""
    return epoch, upstream, revision


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as ``dpkg --compare-versions a lt/eq/gt b`` would say."""
    ea, ua, ra = _split(a)
    eb, ub, rb = _split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _cmp_part(ua, ub) or _cmp_part(ra, rb)


version_key = cmp_to_key(compare_versions)

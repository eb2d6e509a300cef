"""Semantic versions (``SemVer``) and version ranges (``SemVerRange``) as values of the language.

A :class:`Version` orders by semver 2.0 (a prerelease sorts before its release, numeric identifiers
numerically and before alphanumeric ones, build metadata ignored in the order but kept by ``==``). A
:class:`VersionRange` is parsed from the npm-style syntax Puppet accepts (``>=1.0.0 <2.0.0``, ``~1.2``,
``^1.2.3``, ``1.x``, ``1.2.3 - 2.0.0``, alternatives joined by ``||``) into a union of intervals; a
prerelease version is only in a range whose interval names a prerelease of the same ``x.y.z``.
"""

from __future__ import annotations

import math
import re
from typing import Any

_IDENT = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_VERSION_RE = re.compile(rf"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-({_IDENT}))?(?:\+({_IDENT}))?\Z")


class VersionError(ValueError):
    """A string that is not a version or not a version range; the message is the user's."""


class Version:
    """One semantic version. ``major`` is infinite only for the open end of a range."""

    __slots__ = ("major", "minor", "patch", "prerelease", "build")
    ruby_class = "SemanticPuppet::Version"  # what templates see as its class

    def __init__(self, major: float, minor: int, patch: int, prerelease: tuple[str, ...] | None = None,
                 build: str | None = None) -> None:
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.build = build

    @classmethod
    def parse(cls, text: str) -> Version:
        m = _VERSION_RE.match(text)
        if m is None:
            raise VersionError(f"The string '{text}' cannot be converted to a SemVer")
        pre = tuple(m.group(4).split(".")) if m.group(4) is not None else None
        check_prerelease(pre)
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)), pre, m.group(5))

    def key(self) -> tuple[Any, ...]:
        if self.prerelease is None:
            pre: tuple[Any, ...] = (1,)
        else:
            pre = (0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease))
        return (self.major, self.minor, self.patch, pre)

    @property
    def stable(self) -> bool:
        return self.prerelease is None

    def __str__(self) -> str:
        major = "Infinity" if self.major == math.inf else str(int(self.major))
        text = f"{major}.{self.minor}.{self.patch}"
        if self.prerelease is not None:
            text += "-" + ".".join(self.prerelease)
        if self.build is not None:
            text += "+" + self.build
        return text

    def __repr__(self) -> str:
        return str(self)

    def ruby_to_s(self) -> str:
        return str(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.key() == other.key() and self.build == other.build

    def __hash__(self) -> int:
        return hash(("semver", self.key(), self.build))

    def __lt__(self, other: Version) -> bool:
        return self.key() < other.key()

    def __le__(self, other: Version) -> bool:
        return self.key() <= other.key()

    def __gt__(self, other: Version) -> bool:
        return self.key() > other.key()

    def __ge__(self, other: Version) -> bool:
        return self.key() >= other.key()


def check_prerelease(pre: tuple[str, ...] | None) -> None:
    for p in pre or ():
        if len(p) > 1 and p.isdigit() and p.startswith("0"):
            raise VersionError("Numeric pre-release identifiers MUST NOT contain leading zeroes")


#: the lowest version (below every prerelease of 0.0.0) and the open upper end
MIN = Version(0, 0, 0, ())
MAX = Version(math.inf, 0, 0)


class Interval:
    """``begin`` .. ``end``, each end in or out."""

    __slots__ = ("begin", "end", "excl_begin", "excl_end")

    def __init__(self, begin: Version, end: Version, excl_begin: bool = False, excl_end: bool = False) -> None:
        self.begin = begin
        self.end = end
        self.excl_begin = excl_begin
        self.excl_end = excl_end

    def _key(self) -> tuple[Any, ...]:
        return (self.begin.key(), self.end.key(), self.excl_begin, self.excl_end)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Interval) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def covers(self, v: Version) -> bool:
        k = v.key()
        b, e = self.begin.key(), self.end.key()
        if k < b or (self.excl_begin and k == b):
            return False
        return not (k > e or (self.excl_end and k == e))

    def names_prerelease_of(self, v: Version) -> bool:
        same = (v.major, v.minor, v.patch)
        return any(b.prerelease and (b.major, b.minor, b.patch) == same for b in (self.begin, self.end))

    def intersect(self, other: Interval) -> Interval:
        if (other.begin.key(), other.excl_begin) > (self.begin.key(), self.excl_begin):
            begin, eb = other.begin, other.excl_begin
        else:
            begin, eb = self.begin, self.excl_begin
        if (other.end.key(), not other.excl_end) < (self.end.key(), not self.excl_end):
            end, ee = other.end, other.excl_end
        else:
            end, ee = self.end, self.excl_end
        return Interval(begin, end, eb, ee)

    @property
    def empty(self) -> bool:
        return self.begin is MIN and self.end is MIN

    def touches(self, other: Interval) -> bool:
        """Whether the two overlap or meet end to start (ends in or out alike)."""
        return self.begin.key() <= other.end.key() and other.begin.key() <= self.end.key()

    def merge(self, other: Interval) -> Interval:
        """The interval spanning both. Where the ends differ, which end is in follows Puppet 7's
        merge: the later end's own, except that the first interval's later end is in when the
        second's is out (and equal ends are out only when both are)."""
        if (other.begin.key(), other.excl_begin) < (self.begin.key(), self.excl_begin):
            begin, eb = other.begin, other.excl_begin
        else:
            begin, eb = self.begin, self.excl_begin
        se, oe = self.end.key(), other.end.key()
        if (se == other.begin.key() or oe == self.begin.key()) and se != oe \
                and not self.empty and not other.empty:  # end to start: the later end
            end, ee = (other.end, other.excl_end) if se < oe else (self.end, self.excl_end)
        elif se < oe:
            end, ee = other.end, other.excl_end
        elif se == oe:
            end, ee = self.end, self.excl_end and other.excl_end
        else:
            end, ee = self.end, self.excl_end and not other.excl_end
        return Interval(begin, end, eb, ee)

    def built_text(self) -> str:
        # a range made from versions prints its upper end first, as Puppet 7 prints it
        if self.excl_end:
            return f">={self.end} <{self.begin}"
        return f"{self.end} - {self.begin}"


class VersionRange:
    """A union of :class:`Interval` with the text it was written as."""

    __slots__ = ("text", "intervals")
    ruby_class = "SemanticPuppet::VersionRange"

    def __init__(self, text: str, intervals: list[Interval]) -> None:
        self.text = text
        self.intervals = intervals

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        intervals = []
        for alternative in re.split(r"\s*\|\|\s*", text):
            if alternative == "" and text.strip() != "":
                continue
            intervals.append(_parse_alternative(alternative, text))
        return cls(text, intervals)

    @classmethod
    def between(cls, begin: Version, end: Version, excl_end: bool = False) -> VersionRange:
        interval = Interval(begin, end, False, excl_end)
        return cls(interval.built_text(), [interval])

    def include(self, v: Version) -> bool:
        last = self.intervals[-1] if self.intervals else None
        if last is not None and last.begin is MIN and last.end is MAX:
            return True  # a range ending in '*' takes every version, prereleases too (as Puppet 7)
        return any(i.covers(v) and (v.stable or i.names_prerelease_of(v)) for i in self.intervals)

    def touches(self, other: VersionRange) -> bool:
        return any(a.touches(b) for a in self.intervals for b in other.intervals)

    def merge(self, other: VersionRange) -> VersionRange:
        merged: list[Interval] = []
        for i in self.intervals + other.intervals:
            for n, m in enumerate(merged):
                if m.touches(i):
                    merged[n] = m.merge(i)
                    break
            else:
                merged.append(i)
        return VersionRange(" || ".join(i.built_text() for i in merged), merged)

    def contains_range(self, other: VersionRange) -> bool:
        return all(any(a.intersect(b) == b for a in self.intervals) for b in other.intervals)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def ruby_to_s(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VersionRange) and self.intervals == other.intervals

    def __hash__(self) -> int:
        return hash(tuple(self.intervals))


_PART = r"(?:0|[1-9]\d*|[xX*])"
_PARTIAL_RE = re.compile(rf"({_PART})(?:\.({_PART}))?(?:\.({_PART}))?(?:-({_IDENT}))?(?:\+({_IDENT}))?\Z")
_COMPARATOR_RE = re.compile(r"\s*(~>|>=|<=|[<>=~^])?\s*([^\s<>=~^]\S*)")


def _partial(text: str, whole: str) -> tuple[list[int], tuple[str, ...] | None]:
    """The numbers of a partial version up to its first wildcard, and its prerelease."""
    m = _PARTIAL_RE.match(text)
    if m is None:
        raise VersionError(f'Unparsable version range: "{whole}"')
    nums: list[int] = []
    for g in m.group(1, 2, 3):
        if g is None or g in "xX*":
            break
        nums.append(int(g))
    pre = tuple(m.group(4).split(".")) if m.group(4) is not None and len(nums) == 3 else None
    check_prerelease(pre)
    return nums, pre


def _zero_filled(text: str, nums: list[int]) -> list[int]:
    """The numbers of a partial version with its wildcards as 0 (``3.x.2`` is 3.0.2), as Puppet 7 reads
    the bound of ``>=``, ``<`` and of a hyphen range."""
    m = _PARTIAL_RE.match(text)
    if m is None or not nums:
        return nums
    given = [g for g in m.group(1, 2, 3) if g is not None]
    return [0 if g in "xX*" else int(g) for g in given]


def _at(nums: list[int], pre: tuple[str, ...] | None = None) -> Version:
    filled = nums + [0] * (3 - len(nums))
    return Version(filled[0], filled[1], filled[2], pre)


def _bump(nums: list[int]) -> Version:
    """The first version after every version that ``nums`` (1 or 2 numbers) stands for."""
    up = nums[:-1] + [nums[-1] + 1]
    return _at(up)


def _parse_alternative(text: str, whole: str) -> Interval:
    if text in ("", "*"):
        return Interval(MIN, MAX)
    m = re.fullmatch(r"(\S+)\s+-\s+(\S+)", text)
    if m is not None:
        lo, lo_pre = _partial(m.group(1), whole)
        hi, hi_pre = _partial(m.group(2), whole)
        lo, hi = _zero_filled(m.group(1), lo), _zero_filled(m.group(2), hi)
        return _nonempty(Interval(_at(lo, lo_pre), _at(hi, hi_pre)))
    result = Interval(MIN, MAX)
    pos = 0
    for cm in _COMPARATOR_RE.finditer(text):
        if text[pos:cm.start()].strip():
            raise VersionError(f'Unparsable version range: "{whole}"')
        pos = cm.end()
        result = result.intersect(_comparator(cm.group(1) or "", cm.group(2), whole))
    if text[pos:].strip():
        raise VersionError(f'Unparsable version range: "{whole}"')
    return _nonempty(result)


def _nonempty(i: Interval) -> Interval:
    """An interval, or the one empty interval (below 0.0.0-) when nothing is in it: Puppet 7 merges
    that one with a range starting at the lowest version, and with no other."""
    b, e = i.begin.key(), i.end.key()
    if b < e or (b == e and not i.excl_begin and not i.excl_end):
        return i
    return Interval(MIN, MIN, False, True)


def _comparator(op: str, text: str, whole: str) -> Interval:
    nums, pre = _partial(text, whole)
    if not nums:
        if op in ("<", ">"):
            return Interval(MIN, MIN, True, True)  # nothing is below 0.0.0 or above every version
        return Interval(MIN, MAX)
    exact = len(nums) == 3
    if op in ("", "="):
        return Interval(_at(nums, pre), _at(nums, pre)) if exact else Interval(_at(nums), _bump(nums), False, True)
    if op == ">=":
        return Interval(_at(_zero_filled(text, nums), pre), MAX)
    if op == ">":
        return Interval(_at(nums, pre), MAX, True) if exact else Interval(_bump(nums), MAX)
    if op == "<":
        return Interval(MIN, _at(_zero_filled(text, nums), pre), False, True)
    if op == "<=":
        return Interval(MIN, _at(nums, pre)) if exact else Interval(MIN, _bump(nums), False, True)
    if op in ("~", "~>"):
        return Interval(_at(nums, pre), _bump(nums[:2]), False, True)
    # '^': the left-most non-zero number may not change (the minor number for 0.x)
    if nums[0] != 0 or len(nums) == 1:
        return Interval(_at(nums, pre), _bump(nums[:1]), False, True)
    return Interval(_at(nums, pre), _bump(nums[:2]), False, True)

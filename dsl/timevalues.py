"""``Timespan`` and ``Timestamp`` values: integral nanoseconds, their string forms, formats and parsing.

A Timespan prints and parses with its own directives (``%D`` days, ``%H`` hours, ``%M`` minutes, ``%S``
seconds, ``%L`` milliseconds, ``%N`` nanoseconds, flags ``-`` ``_`` ``0`` and a width); the directive of
the largest unit in a format counts the whole span (``%H`` of 25 hours is ``25``), the others the rest
below it, and ``%L``/``%N`` are fractions. A Timestamp is UTC nanoseconds since the epoch, formatted and
parsed with strftime/strptime directives and an optional time zone.
"""

from __future__ import annotations

import datetime
import math
import re
import time as time_module
from typing import Any

from . import compilecache

NSECS_PER_SEC = 1_000_000_000
_UNIT_NS = {"D": 86400 * NSECS_PER_SEC, "H": 3600 * NSECS_PER_SEC, "M": 60 * NSECS_PER_SEC,
            "S": NSECS_PER_SEC, "L": 1_000_000, "N": 1}
_DEFAULT_WIDTH = {"D": 1, "H": 2, "M": 2, "S": 2, "L": 3, "N": 9}


class TimeError(ValueError):
    """A conversion or format the user got wrong; the message is theirs to read."""


def to_nanos(seconds: int | float) -> int:
    if isinstance(seconds, int):
        return seconds * NSECS_PER_SEC
    if math.isnan(seconds) or math.isinf(seconds):
        raise TimeError(f"{seconds} cannot be converted to a time")
    return int(seconds * NSECS_PER_SEC)  # truncated, as Puppet 7 converts a Float


class _TimeValue:
    __slots__ = ("nsecs",)

    def __init__(self, nsecs: int) -> None:
        self.nsecs = nsecs

    def seconds_float(self) -> float:
        return self.nsecs / NSECS_PER_SEC

    def seconds_int(self) -> int:
        return self.nsecs // NSECS_PER_SEC  # floored, as Puppet's Integer() of a time

    # Equal times are `==` in the language (valuerules), but as hash keys and for `unique` each value is
    # itself only, as in Puppet 7: hence no __eq__/__hash__ here; compare ``nsecs``.

    def __repr__(self) -> str:
        return str(self)

    def ruby_to_s(self) -> str:  # what a template prints
        return str(self)


class Timespan(_TimeValue):
    __slots__ = ()
    ruby_class = "Puppet::Pops::Time::Timespan"

    def __str__(self) -> str:
        return format_timespan(self, "%D-%H:%M:%S.%-N")


class Timestamp(_TimeValue):
    __slots__ = ()
    ruby_class = "Puppet::Pops::Time::Timestamp"

    @classmethod
    def now(cls) -> Timestamp:
        compilecache.impure("asked for the time")
        return cls(time_module.time_ns())

    def __str__(self) -> str:
        return format_timestamp(self, "%FT%T.%N %Z", None)


# -- Timespan formats ---------------------------------------------------------------------------------
_SPAN_DIRECTIVE = re.compile(r"%([-_0^#]?)(\d*)([DHMSLN%])")


def _span_segments(fmt: str) -> list[Any]:
    """A Timespan format as literal strings and ``(flag, width, unit)`` tuples."""
    out: list[Any] = []
    i = 0
    literal = ""
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            literal += c
            i += 1
            continue
        j = i + 1
        flag = ""
        if j < len(fmt) and fmt[j] in "-_0":
            flag = fmt[j]
            j += 1
        width = ""
        while j < len(fmt) and fmt[j].isdigit():
            width += fmt[j]
            j += 1
        if j >= len(fmt) or fmt[j] not in "DHMSLN%" or (fmt[j] == "%" and (flag or width)):
            at = j if j < len(fmt) else max(j - 1, i)
            raise TimeError(f"Bad format specifier '{fmt[i:at]}' in '{fmt}', at position {at}")
        if fmt[j] == "%":
            literal += "%"
        else:
            if literal:
                out.append(literal)
                literal = ""
            out.append((flag, int(width) if width else None, fmt[j]))
        i = j + 1
    if literal:
        out.append(literal)
    return out


def _total_unit(segments: list[Any]) -> str | None:
    units = [s[2] for s in segments if isinstance(s, tuple)]
    for u in "DHMSLN":
        if u in units:
            return u
    return None


def format_timespan(span: Timespan, fmt: str) -> str:
    segments = _span_segments(fmt)
    total_unit = _total_unit(segments)
    neg = span.nsecs < 0
    ns = abs(span.nsecs)
    out = ["-"] if neg else []
    used_total = False
    for seg in segments:
        if isinstance(seg, str):
            out.append(seg)
            continue
        flag, width, unit = seg
        total = unit == total_unit and not used_total
        if total:
            used_total = True
        if unit in "LN":
            out.append(_fraction(ns, flag, width, unit, total))
            continue
        n = ns // _UNIT_NS[unit]
        if not total:
            n %= {"D": 1 << 62, "H": 24, "M": 60, "S": 60}[unit]
        w = width if width is not None else _DEFAULT_WIDTH[unit]
        if flag == "-":
            out.append(str(n))
        elif flag == "_":
            out.append(str(n).rjust(w))
        else:
            out.append(str(n).zfill(w))
    return "".join(out)


def _fraction(ns: int, flag: str, width: int | None, unit: str, total: bool) -> str:
    w = width if width is not None else _DEFAULT_WIDTH[unit]
    if unit == "L":
        n = ns // 1_000_000 if total else (ns // 1_000_000) % 1000
    elif w < 9:
        n = ns // 10 ** (9 - w)
        if not total:
            n %= 10 ** w
    else:
        n = ns if total else ns % NSECS_PER_SEC
    text = str(n)
    if flag in ("-", "_") and not total:
        text = text.rstrip("0") or "0"
    if flag == "-":
        return text
    return text.ljust(w)


def parse_timespan(text: str, formats: list[str] | None = None) -> Timespan:
    given = formats is not None
    fmts = formats if formats is not None else DEFAULT_SPAN_FORMATS
    for fmt in fmts:
        span = _parse_span_one(text, fmt)
        if span is not None:
            return span
    if given and len(fmts) == 1:
        raise TimeError(f"Unable to parse '{text}' using format '{fmts[0]}'")
    raise TimeError(f"Unable to parse '{text}' using any of the formats {', '.join(fmts)}")


DEFAULT_SPAN_FORMATS = ["%D-%H:%M:%S.%-N", "%H:%M:%S.%-N", "%M:%S.%-N", "%S.%-N", "%D-%H:%M:%S", "%H:%M:%S",
                        "%D-%H:%M", "%S"]


def _parse_span_one(text: str, fmt: str) -> Timespan | None:
    segments = _span_segments(fmt)
    total_unit = _total_unit(segments)
    if total_unit in ("L", "N"):
        raise TimeError("Format specifiers %L and %N denotes fractions and must be used together with a "
                        "specifier of higher magnitude")
    pattern = "(-)?"
    units = []
    for seg in segments:
        if isinstance(seg, str):
            pattern += re.escape(seg)
            continue
        _flag, width, unit = seg
        if unit == total_unit:
            pattern += r"(\d+)"
        elif unit in "LN":
            pattern += rf"(\d{{1,{width or _DEFAULT_WIDTH[unit]}}})"
        else:
            pattern += rf"(\d{{1,{width or 2}}})"
        units.append(unit)
    m = re.fullmatch(pattern, text)
    if m is None:
        return None
    ns = 0
    for unit, digits in zip(units, m.groups()[1:], strict=True):
        if unit in "LN":
            places = 3 if unit == "L" else 9
            ns += int(digits) * 10 ** (places - len(digits)) * _UNIT_NS[unit] if len(digits) <= places \
                else int(digits[:places]) * _UNIT_NS[unit]
        else:
            ns += int(digits) * _UNIT_NS[unit]
    return Timespan(-ns if m.group(1) else ns)


# -- Timestamp formats --------------------------------------------------------------------------------
_ZONES = {"UTC": 0, "UT": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
          "PST": -8, "PDT": -7}
_MILITARY = {**{c: i + 1 for i, c in enumerate("ABCDEFGHI")}, "K": 10, "L": 11, "M": 12,
             **{c: -(i + 1) for i, c in enumerate("NOPQRSTUVWXY")}}
_OFFSET_RE = re.compile(r"([-+])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?\Z")


def zone_offset(zone: str) -> int | None:
    """Seconds east of UTC of a zone name Puppet knows (abbreviations, military letters, ``+hh:mm``)."""
    upper = zone.upper()
    if upper in _ZONES:
        return _ZONES[upper] * 3600
    if len(upper) == 1 and upper in _MILITARY:
        return _MILITARY[upper] * 3600
    m = _OFFSET_RE.match(zone)
    if m is not None:
        secs = int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60 + int(m.group(4) or 0)
        return -secs if m.group(1) == "-" else secs
    return None


def timezone_offset(timezone: str | None) -> tuple[int, bool]:
    """The offset of a strftime/new timezone argument and whether it is UTC by default."""
    if timezone is None or timezone == "":
        return 0, True
    if timezone.lower() == "current":
        return -time_module.timezone if not time_module.localtime().tm_isdst else -time_module.altzone, False
    off = zone_offset(timezone)
    if off is None:
        raise TimeError(f"Illegal timezone '{timezone}'")
    return off, False


_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_STAMP_DIRECTIVE = re.compile(r"%([-_0^#]*)(\d*)(:{0,2}z|[a-zA-Z%+])")


def format_timestamp(ts: Timestamp, fmt: str, timezone: str | None) -> str:
    offset, is_utc = timezone_offset(timezone)
    local_ns = ts.nsecs + offset * NSECS_PER_SEC
    secs, frac = divmod(local_ns, NSECS_PER_SEC)
    dt = _Civil(secs)
    zone_name = "UTC" if is_utc else ""

    def one(m: re.Match[str]) -> str:
        flags, width_text, conv = m.group(1), m.group(2), m.group(3)
        width = int(width_text) if width_text else None
        if conv in ("L", "N"):
            digits = width if width is not None else (3 if conv == "L" else 9)
            text = f"{frac:09d}"
            return text[:digits] if digits <= 9 else text + "0" * (digits - 9)
        if conv == "%":
            return "%" if "-" in flags else "%".rjust(width or 0, "0" if "0" in flags else " ")
        if conv.endswith("z"):
            return _zone_text(offset, conv, flags, width, is_utc)
        value = _stamp_field(conv, dt, local_ns, ts, zone_name)
        if value is None:
            return m.group(0)
        text, numeric, default_width, pad = value
        if conv == "Z" and not text:
            return ""
        if "^" in flags:
            text = text.upper()
        if "#" in flags and conv in "aAbBhpPZ":
            text = text.lower() if conv in "pZ" else text.upper()
        if conv in "FTDRXxcrv":  # a composite pads with spaces to the width, whatever the flags
            return text.rjust(width or 0, "0" if "0" in flags else " ")
        if "-" in flags:  # no padding at all
            return (text.lstrip("0 ") or "0") if numeric else text
        if "_" in flags:
            pad = " "
        elif "0" in flags:
            pad = "0"
        w = width if width is not None else (default_width if numeric else 0)
        if numeric:
            text = text.lstrip("0 ") or "0"
            neg = text.startswith("-")
            body = text[1:] if neg else text
            if pad == "0":
                return ("-" if neg else "") + body.rjust(w - (1 if neg else 0), "0")
            return text.rjust(w)
        return text.rjust(w, "0" if "0" in flags else " ")

    return _STAMP_DIRECTIVE.sub(one, fmt)


def _zone_text(offset: int, conv: str, flags: str, width: int | None, is_utc: bool) -> str:
    """``%z``, ``%:z``, ``%::z``: the width pads the hours (zeros after the sign, or with ``_`` spaces
    before it and hours without a leading zero)."""
    sign = "-" if offset < 0 else "+"
    a = abs(offset)
    hh, mm, ss = a // 3600, a % 3600 // 60, a % 60
    rest = {"z": f"{mm:02d}", ":z": f":{mm:02d}", "::z": f":{mm:02d}:{ss:02d}"}[conv]
    hours_width = max((width if width is not None else 3 + len(rest)) - len(rest), 3)
    if "-" in flags and is_utc and conv == "z":
        sign = "-"  # '%-z' of the default UTC is '-0000', as in Puppet
    if "-" in flags and width is None:
        return f"{sign}{hh:02d}{rest}"
    if "_" in flags:
        return f"{sign}{hh}".rjust(hours_width) + rest
    return sign + str(hh).zfill(hours_width - 1) + rest


def _stamp_field(conv: str, dt: _Civil, local_ns: int, ts: Timestamp,
                 zone: str) -> tuple[str, bool, int, str] | None:
    """(text, numeric, default width, default pad) of one directive, or None when it is not one."""
    num = {"Y": (dt.year, 1, "0"), "C": (dt.year // 100, 2, "0"), "y": (dt.year % 100, 2, "0"),
           "m": (dt.month, 2, "0"), "d": (dt.day, 2, "0"), "e": (dt.day, 2, " "), "j": (dt.yday, 3, "0"),
           "H": (dt.hour, 2, "0"), "k": (dt.hour, 2, " "), "I": ((dt.hour % 12) or 12, 2, "0"),
           "l": ((dt.hour % 12) or 12, 2, " "), "M": (dt.minute, 2, "0"), "S": (dt.second, 2, "0"),
           "u": (dt.isoweekday(), 1, "0"), "w": (dt.isoweekday() % 7, 1, "0"),
           "U": (dt.week("%U"), 2, "0"), "W": (dt.week("%W"), 2, "0"),
           "V": (dt.isocalendar()[1], 2, "0"), "G": (dt.isocalendar()[0], 1, "0"),
           "g": (dt.isocalendar()[0] % 100, 2, "0"), "s": (ts.nsecs // NSECS_PER_SEC, 1, "0")}
    if conv in num:
        n, w, pad = num[conv]
        return str(n), True, w, pad
    day, month = _DAYS[dt.weekday()], _MONTHS[dt.month - 1]
    text = {"a": day[:3], "A": day, "b": month[:3], "h": month[:3], "B": month, "p": "AM" if dt.hour < 12 else "PM",
            "P": "am" if dt.hour < 12 else "pm", "Z": zone, "n": "\n", "t": "\t",
            "F": f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}",
            "T": f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}", "X": f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}",
            "D": f"{dt.month:02d}/{dt.day:02d}/{dt.year % 100:02d}", "x": f"{dt.month:02d}/{dt.day:02d}/{dt.year % 100:02d}",
            "R": f"{dt.hour:02d}:{dt.minute:02d}",
            "r": f"{(dt.hour % 12) or 12:02d}:{dt.minute:02d}:{dt.second:02d} {'AM' if dt.hour < 12 else 'PM'}",
            "c": f"{day[:3]} {month[:3]} {dt.day:2d} {dt.hour:02d}:{dt.minute:02d}:{dt.second:02d} {dt.year}",
            "v": f"{dt.day:2d}-{month[:3].upper()}-{dt.year:04d}"}.get(conv)
    if text is None:
        return None
    return text, False, 0, " "


DEFAULT_STAMP_FORMATS = ["%FT%T.%N %Z", "%FT%T %Z", "%F %T.%N %Z", "%F %T %Z", "%F %Z", "%FT%T.%N", "%FT%T",
                         "%F %T.%N", "%F %T", "%F"]
_EXPAND = {"F": "%Y-%m-%d", "T": "%H:%M:%S", "D": "%m/%d/%y", "R": "%H:%M", "X": "%H:%M:%S", "x": "%m/%d/%y",
           "c": "%a %b %e %H:%M:%S %Y", "r": "%I:%M:%S %p", "v": "%e-%b-%Y"}
_FIELD_RE = {"Y": r"([-+]?\d+)", "C": r"([-+]?\d{1,2})", "y": r"(\d{1,2})", "m": r"(\d{1,2})", "d": r"\s*(\d{1,2})",
             "e": r"\s*(\d{1,2})", "j": r"(\d{1,3})", "H": r"\s*(\d{1,2})", "k": r"\s*(\d{1,2})", "I": r"\s*(\d{1,2})",
             "l": r"\s*(\d{1,2})", "M": r"(\d{1,2})", "S": r"(\d{1,2})", "L": r"(\d+)", "N": r"(\d+)",
             "p": r"([AaPp]\.?[Mm]\.?)", "P": r"([AaPp]\.?[Mm]\.?)",
             "a": r"(" + "|".join(d[:3] + f"(?:{d[3:]})?" for d in _DAYS) + r")",
             "A": r"(" + "|".join(d[:3] + f"(?:{d[3:]})?" for d in _DAYS) + r")",
             "b": r"(" + "|".join(mo[:3] + f"(?:{mo[3:]})?" for mo in _MONTHS) + r")",
             "B": r"(" + "|".join(mo[:3] + f"(?:{mo[3:]})?" for mo in _MONTHS) + r")",
             "h": r"(" + "|".join(mo[:3] + f"(?:{mo[3:]})?" for mo in _MONTHS) + r")",
             "z": r"([-+]\d{1,2}(?::?\d{2}(?::?\d{2})?)?|[A-Za-z]+)", "Z": r"([-+]\d{1,2}(?::?\d{2}(?::?\d{2})?)?|[A-Za-z]+)",
             "u": r"(\d)", "w": r"(\d)", "s": r"(-?\d+)"}


def _strptime_regex(fmt: str) -> tuple[str, list[str]] | None:
    while True:
        expanded = re.sub(r"%([FTDRXxcrv])", lambda m: _EXPAND[m.group(1)], fmt)
        if expanded == fmt:
            break
        fmt = expanded
    pattern = ""
    fields: list[str] = []
    i = 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%" and i + 1 < len(fmt):
            j = i + 1
            while j < len(fmt) and (fmt[j] in "-_0^#:" or fmt[j].isdigit()):
                j += 1
            conv = fmt[j] if j < len(fmt) else ""
            if conv == "%":
                pattern += "%"
            elif conv in _FIELD_RE:
                pattern += _FIELD_RE[conv]
                fields.append(conv)
            else:
                return None
            i = j + 1
        elif c.isspace():
            pattern += r"\s*"
            i += 1
        else:
            pattern += re.escape(c)
            i += 1
    return pattern, fields


def parse_timestamp(text: str, formats: list[str] | None, timezone: str | None) -> Timestamp:
    given = formats is not None
    fmts = formats if formats is not None else DEFAULT_STAMP_FORMATS
    for fmt in fmts:
        if timezone is not None and re.search(r"%:{0,2}[zZ]", fmt):
            raise TimeError("Using a Timezone designator in format specification is mutually exclusive to "
                            "providing an explicit timezone argument")
        ts = _parse_stamp_one(text, fmt, timezone)
        if ts is not None:
            return ts
    if given and len(fmts) == 1:
        raise TimeError(f"Unable to parse '{text}' using format '{fmts[0]}'")
    raise TimeError(f"Unable to parse '{text}' using any of the formats {', '.join(fmts)}")


def _parse_stamp_one(text: str, fmt: str, timezone: str | None) -> Timestamp | None:
    compiled = _strptime_regex(fmt)
    if compiled is None:
        return None
    pattern, fields = compiled
    m = re.fullmatch(pattern, text, re.I)
    if m is None:
        return None
    year, month, day, hour, minute, second, nanos = 1970, 1, 1, 0, 0, 0, 0
    pm: bool | None = None
    century: int | None = None
    offset: int | None = None
    for conv, value in zip(fields, m.groups(), strict=True):
        if conv == "Y":
            year = int(value)
        elif conv == "C":
            century = int(value)
        elif conv == "y":
            year = int(value) + (1900 if int(value) >= 69 else 2000)
        elif conv == "m":
            month = int(value)
        elif conv in "de":
            day = int(value)
        elif conv in "HkIl":
            hour = int(value)
        elif conv == "M":
            minute = int(value)
        elif conv == "S":
            second = int(value)
        elif conv in "LN":
            nanos = int((value + "0" * 9)[:9])
        elif conv == "j":
            pass  # Puppet 7 reads a day of the year and ignores it
        elif conv in "pP":
            pm = value.lower().startswith("p")
        elif conv in "bBh":
            month = [mo[:3].lower() for mo in _MONTHS].index(value[:3].lower()) + 1
        elif conv in "zZ":
            offset = zone_offset(value)
            if offset is None:
                return None
        elif conv == "s":
            return Timestamp(int(value) * NSECS_PER_SEC)
    if century is not None:
        year = century * 100 + year % 100
    if pm is not None:
        hour = hour % 12 + (12 if pm else 0)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 24 and minute <= 59 and second <= 60):
        return None
    if offset is None:
        offset, _ = timezone_offset(timezone)
    days = _days_from_civil(year, month, 1) + day - 1
    secs = days * 86400 + hour * 3600 + minute * 60 + second - offset
    return Timestamp(secs * NSECS_PER_SEC + nanos)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (any year)."""
    y = year - (1 if month <= 2 else 0)
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(z: int) -> tuple[int, int, int]:
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if month <= 2 else 0), month, day


class _Civil:
    """The calendar fields of a UTC second count, for any year (``datetime`` stops at 9999)."""

    def __init__(self, secs: int) -> None:
        days, rest = divmod(secs, 86400)
        self.year, self.month, self.day = _civil_from_days(days)
        self.hour, self.minute, self.second = rest // 3600, rest % 3600 // 60, rest % 60
        self._weekday = (days + 3) % 7  # 1970-01-01 was a Thursday (Monday is 0)
        self.yday = days - _days_from_civil(self.year, 1, 1) + 1
        self._dt = datetime.date(self.year, self.month, self.day) if 1 <= self.year <= 9999 else None

    def weekday(self) -> int:
        return self._weekday

    def isoweekday(self) -> int:
        return self._weekday + 1

    def week(self, code: str) -> int:
        return int(self._dt.strftime(code)) if self._dt is not None else 0

    def isocalendar(self) -> tuple[int, int]:
        if self._dt is None:
            return self.year, 0
        iso = self._dt.isocalendar()
        return iso[0], iso[1]


# -- arithmetic -----------------------------------------------------------------------------------------
def _an(name: str) -> str:
    return f"an {name}" if name[:1] in "AEIOU" else f"a {name}"


def time_arith(op: str, a: Any, b: Any, number: Any) -> Any:
    """``a op b`` where one side is a Timespan or Timestamp; ``number`` is the language's number reading
    of a value (None when it is none). Raises :class:`TimeError` with the user's message."""
    def nanos(v: Any) -> int | None:
        if isinstance(v, Timespan):
            return v.nsecs
        if isinstance(v, Timestamp):
            return None
        n = number(v)
        return None if n is None else to_nanos(n)

    def scalar(v: Any) -> int | float:
        n = number(v)
        if n is None:
            raise TimeError(f"The value '{'' if v is None else v}' cannot be converted to Numeric.")
        return n  # type: ignore[no-any-return]

    if isinstance(a, Timestamp):
        if op in ("+", "-"):
            if isinstance(b, Timestamp):
                if op == "-":
                    return Timespan(a.nsecs - b.nsecs)
                raise TimeError("A Timestamp cannot be added to a Timestamp")
            n = nanos(b)
            if n is None:
                scalar(b)
                raise TimeError(f"A {type(b).__name__} cannot be added to a Timestamp")
            return Timestamp(a.nsecs + n if op == "+" else a.nsecs - n)
        raise TimeError(f"Operator '{op}' is not applicable to a Timestamp.")
    if isinstance(a, Timespan):
        if op == "+" and isinstance(b, Timestamp):
            return Timestamp(b.nsecs + a.nsecs)
        if op in ("+", "-"):
            if isinstance(b, Timestamp):
                raise TimeError("A Timestamp cannot be subtracted from a Timespan")
            n = nanos(b)
            if n is None:
                scalar(b)
                raise TimeError(f"Operator '{op}' is not applicable to a Timespan.")
            return Timespan(a.nsecs + n if op == "+" else a.nsecs - n)
        if op == "*":
            if isinstance(b, (Timespan, Timestamp)):
                raise TimeError("A Timestamp cannot be multiplied by a Timespan")
            return Timespan(int(a.nsecs * scalar(b)))
        if op == "/":
            if isinstance(b, Timespan):
                if b.nsecs == 0:
                    raise TimeError("Division by 0")
                return a.nsecs / b.nsecs
            if isinstance(b, Timestamp):
                raise TimeError("A Timespan cannot be divided by a Timestamp")
            d = scalar(b)
            if d == 0:
                raise TimeError("Division by 0")
            q = a.nsecs / d
            return Timespan(int(q) if isinstance(d, float) else _int_div(a.nsecs, d))
        if op == "%":
            if isinstance(b, (Timespan, Timestamp)):
                raise TimeError(f"Can not do modulus on a Timespan using {_an(type(b).__name__)}")
            d = scalar(b)
            if d == 0:
                raise TimeError("Division by 0")
            secs = a.seconds_int()
            return secs % d
        raise TimeError(f"Operator '{op}' is not applicable to a Timespan.")
    # a number (or string) on the left, a time value on the right
    left = {bool: "Boolean", int: "Integer", float: "Float", str: "String"}.get(type(a), type(a).__name__)
    if isinstance(b, Timestamp):
        if op == "+":
            n = nanos(a)
            if n is not None:
                return Timestamp(b.nsecs + n)
        raise TimeError(f"Operator '{op}' is not applicable to {_an(left)} when right side is a Timestamp.")
    n = nanos(a)
    if op in ("+", "-", "*") and n is not None:
        if op == "+":
            return Timespan(n + b.nsecs)
        if op == "-":
            return Timespan(n - b.nsecs)
        return Timespan(int(b.nsecs * scalar(a)))
    raise TimeError(f"Operator '{op}' is not applicable to {_an(left)} when right side is a Timespan.")


def _int_div(n: int, d: int) -> int:
    q = abs(n) // abs(d)
    return q if (n >= 0) == (d >= 0) else -q

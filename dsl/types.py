"""The Puppet type system: types as values, instance checks, assignability and display.

``Integer[1, 5]``, ``Optional[String]``, ``Struct[{a => Integer}]`` and resource references such as
``File['/etc/motd']`` (a ``Resource`` type with a title) are all :class:`PType` instances.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from .semver import Version, VersionRange
from .timevalues import Timespan, Timestamp
from .values import DEFAULT, Default, RegexValue, Sensitive

INF = math.inf


class PType:
    """Base of all types. Subclasses implement :meth:`instance` and :meth:`__str__`."""

    __slots__ = ()
    name = "Any"

    def instance(self, v: Any) -> bool:  # pragma: no cover - overridden
        return True

    def assignable(self, other: PType) -> bool:
        """Whether every instance of ``other`` is an instance of self (best effort)."""
        other = resolve(other)
        if isinstance(other, PVariant):
            return all(self.assignable(t) for t in other.types)
        return type(other) is type(self) and other == self

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return str(self)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def _key(self) -> tuple[Any, ...]:
        return ()


class PAny(PType):
    __slots__ = ()
    name = "Any"

    def instance(self, v: Any) -> bool:
        return True

    def assignable(self, other: PType) -> bool:
        return True


class PUndef(PType):
    __slots__ = ()
    name = "Undef"

    def instance(self, v: Any) -> bool:
        return v is None


class PDefault(PType):
    __slots__ = ()
    name = "Default"

    def instance(self, v: Any) -> bool:
        return v is DEFAULT


class PBoolean(PType):
    __slots__ = ("value",)
    name = "Boolean"

    def __init__(self, value: bool | None = None) -> None:
        self.value = value

    def _key(self) -> tuple[Any, ...]:
        return (self.value,)

    def instance(self, v: Any) -> bool:
        return isinstance(v, bool) and (self.value is None or v is self.value)

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        if isinstance(other, PVariant):
            return all(self.assignable(t) for t in other.types)
        return isinstance(other, PBoolean) and (self.value is None or other.value == self.value)

    def __str__(self) -> str:
        return "Boolean" if self.value is None else f"Boolean[{'true' if self.value else 'false'}]"


class _Ranged(PType):
    __slots__ = ("lo", "hi")

    def __init__(self, lo: float = -INF, hi: float = INF) -> None:
        self.lo = lo
        self.hi = hi

    def _key(self) -> tuple[Any, ...]:
        return (self.lo, self.hi)

    def __str__(self) -> str:
        if self.lo == -INF and self.hi == INF:
            return self.name
        lo = "default" if self.lo == -INF else _num(self.lo)
        if self.hi == INF:
            return f"{self.name}[{lo}]"
        return f"{self.name}[{lo}, {_num(self.hi)}]"

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        if isinstance(other, PVariant):
            return all(self.assignable(t) for t in other.types)
        return type(other) is type(self) and self.lo <= other.lo and other.hi <= self.hi  # type: ignore[attr-defined]


def _num(v: float) -> str:
    if isinstance(v, float) and v.is_integer() and not isinstance(v, bool) and abs(v) < 1e16:
        return repr(v)
    return str(v)


class PInteger(_Ranged):
    __slots__ = ()
    name = "Integer"

    def instance(self, v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and self.lo <= v <= self.hi


class PFloat(_Ranged):
    __slots__ = ()
    name = "Float"

    def __init__(self, lo: float = -INF, hi: float = INF) -> None:
        super().__init__(float(lo), float(hi))  # Float[1, 2] is Float[1.0, 2.0]

    def instance(self, v: Any) -> bool:
        return isinstance(v, float) and self.lo <= v <= self.hi


class PNumeric(PType):
    __slots__ = ()
    name = "Numeric"

    def instance(self, v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        if isinstance(other, PVariant):
            return all(self.assignable(t) for t in other.types)
        return isinstance(other, (PNumeric, PInteger, PFloat))


class PString(PType):
    __slots__ = ("lo", "hi")
    name = "String"

    def __init__(self, lo: float = 0, hi: float = INF) -> None:
        self.lo = lo
        self.hi = hi

    def _key(self) -> tuple[Any, ...]:
        return (self.lo, self.hi)

    def instance(self, v: Any) -> bool:
        return isinstance(v, str) and self.lo <= len(v) <= self.hi

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        if isinstance(other, PVariant):
            return all(self.assignable(t) for t in other.types)
        if isinstance(other, PString):
            return self.lo <= other.lo and other.hi <= self.hi
        if isinstance(other, PEnum):
            return all(self.lo <= len(s) <= self.hi for s in other.values)
        return isinstance(other, PPattern) and self.lo == 0 and self.hi == INF

    def __str__(self) -> str:
        if self.lo == 0 and self.hi == INF:
            return "String"
        if self.hi == INF:
            return f"String[{int(self.lo)}]"
        return f"String[{int(self.lo)}, {int(self.hi)}]"


class PEnum(PType):
    __slots__ = ("values", "case_insensitive")
    name = "Enum"

    def __init__(self, values: Sequence[str], case_insensitive: bool = False) -> None:
        self.values = tuple(sorted(set(values)))
        self.case_insensitive = case_insensitive

    def _key(self) -> tuple[Any, ...]:
        return (self.values, self.case_insensitive)

    def instance(self, v: Any) -> bool:
        if not isinstance(v, str):
            return False
        if self.case_insensitive:
            return v.lower() in (x.lower() for x in self.values)
        return v in self.values

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        if isinstance(other, PVariant):
            return all(self.assignable(t) for t in other.types)
        return isinstance(other, PEnum) and all(self.instance(x) for x in other.values)

    def __str__(self) -> str:
        return "Enum[" + ", ".join(f"'{v}'" for v in self.values) + "]"


class PPattern(PType):
    __slots__ = ("patterns",)
    name = "Pattern"

    def __init__(self, patterns: Sequence[RegexValue]) -> None:
        self.patterns = tuple(patterns)

    def _key(self) -> tuple[Any, ...]:
        return tuple(p.pattern for p in self.patterns)

    def instance(self, v: Any) -> bool:
        if not isinstance(v, str):
            return False
        if not self.patterns:
            return True
        return any(p.compiled.search(v) for p in self.patterns)

    def __str__(self) -> str:
        return "Pattern[" + ", ".join(f"/{p.pattern}/" for p in self.patterns) + "]"


class PRegexp(PType):
    __slots__ = ("pattern",)
    name = "Regexp"

    def __init__(self, pattern: RegexValue | None = None) -> None:
        self.pattern = pattern

    def _key(self) -> tuple[Any, ...]:
        return (self.pattern.pattern if self.pattern else None,)

    def instance(self, v: Any) -> bool:
        return isinstance(v, RegexValue) and (self.pattern is None or v.pattern == self.pattern.pattern)

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        if isinstance(other, PVariant):
            return all(self.assignable(t) for t in other.types)
        return isinstance(other, PRegexp) and (self.pattern is None or other == self)

    def __str__(self) -> str:
        return f"Regexp[/{self.pattern.pattern}/]" if self.pattern else "Regexp"


class PArray(PType):
    __slots__ = ("elem", "lo", "hi")
    name = "Array"

    def __init__(self, elem: PType | None = None, lo: float = 0, hi: float = INF) -> None:
        self.elem = elem or ANY
        self.lo = lo
        self.hi = hi

    def _key(self) -> tuple[Any, ...]:
        return (self.elem, self.lo, self.hi)

    def instance(self, v: Any) -> bool:
        if not isinstance(v, list) or not (self.lo <= len(v) <= self.hi):
            return False
        elem = self.elem
        if isinstance(elem, PAny):
            return True
        return all(elem.instance(x) for x in v)

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        if isinstance(other, PVariant):
            return all(self.assignable(t) for t in other.types)
        if isinstance(other, PArray):
            return self.lo <= other.lo and other.hi <= self.hi and self.elem.assignable(other.elem)
        if isinstance(other, PTuple):
            return all(self.elem.assignable(t) for t in other.types)
        return False

    def __str__(self) -> str:
        if isinstance(self.elem, PAny) and self.lo == 0 and self.hi == INF:
            return "Array"
        parts = [str(self.elem)]
        if self.lo != 0 or self.hi != INF:
            parts.append(str(int(self.lo)))
            if self.hi != INF:
                parts.append(str(int(self.hi)))
        return f"Array[{', '.join(parts)}]"


class PHash(PType):
    __slots__ = ("key", "value", "lo", "hi")
    name = "Hash"

    def __init__(self, key: PType | None = None, value: PType | None = None, lo: float = 0,
                 hi: float = INF) -> None:
        self.key = key or ANY
        self.value = value or ANY
        self.lo = lo
        self.hi = hi

    def _key(self) -> tuple[Any, ...]:
        return (self.key, self.value, self.lo, self.hi)

    def instance(self, v: Any) -> bool:
        if not isinstance(v, dict) or not (self.lo <= len(v) <= self.hi):
            return False
        if isinstance(self.key, PAny) and isinstance(self.value, PAny):
            return True
        return all(self.key.instance(k) and self.value.instance(x) for k, x in v.items())

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        if isinstance(other, PVariant):
            return all(self.assignable(t) for t in other.types)
        if isinstance(other, PHash):
            return self.key.assignable(other.key) and self.value.assignable(other.value)
        if isinstance(other, PStruct):
            return all(self.value.assignable(t) for _, t, _ in other.members)
        return False

    def __str__(self) -> str:
        if isinstance(self.key, PAny) and isinstance(self.value, PAny) and self.lo == 0 and self.hi == INF:
            return "Hash"
        parts = [str(self.key), str(self.value)]
        if self.lo != 0 or self.hi != INF:
            parts.append(str(int(self.lo)))
            if self.hi != INF:
                parts.append(str(int(self.hi)))
        return f"Hash[{', '.join(parts)}]"


class PTuple(PType):
    __slots__ = ("types", "lo", "hi")
    name = "Tuple"

    def __init__(self, types: Sequence[PType], lo: float | None = None, hi: float | None = None) -> None:
        self.types = tuple(types)
        self.lo = len(self.types) if lo is None else lo
        self.hi = (len(self.types) if lo is None else INF) if hi is None else hi

    def _key(self) -> tuple[Any, ...]:
        return (self.types, self.lo, self.hi)

    def instance(self, v: Any) -> bool:
        if not isinstance(v, list) or not (self.lo <= len(v) <= self.hi):
            return False
        if not self.types:
            return True
        for i, x in enumerate(v):
            t = self.types[i] if i < len(self.types) else self.types[-1]
            if not t.instance(x):
                return False
        return True

    def __str__(self) -> str:
        parts = [str(t) for t in self.types]
        if self.lo != len(self.types) or self.hi != len(self.types):
            parts.append(str(int(self.lo)))
            if self.hi != INF:
                parts.append(str(int(self.hi)))
        return f"Tuple[{', '.join(parts)}]"


class PStruct(PType):
    __slots__ = ("members",)
    name = "Struct"

    def __init__(self, members: Sequence[tuple[str, PType, bool]]) -> None:
        # (key, value type, required)
        self.members = tuple(members)

    def _key(self) -> tuple[Any, ...]:
        return self.members

    def instance(self, v: Any) -> bool:
        if not isinstance(v, dict):
            return False
        known = set()
        for key, t, required in self.members:
            known.add(key)
            if key in v:
                if not t.instance(v[key]):
                    return False
            elif required and not t.instance(None):
                return False
        return all(k in known for k in v)

    def __str__(self) -> str:
        inner = []
        for key, t, required in self.members:
            k = f"'{key}'" if required or isinstance(t, POptional) else f"Optional['{key}']"
            inner.append(f"{k} => {t}")
        return "Struct[{" + ", ".join(inner) + "}]"


class POptional(PType):
    __slots__ = ("type",)
    name = "Optional"

    def __init__(self, t: PType) -> None:
        self.type = t

    def _key(self) -> tuple[Any, ...]:
        return (self.type,)

    def instance(self, v: Any) -> bool:
        return v is None or self.type.instance(v)

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        return isinstance(other, PUndef) or (isinstance(other, POptional) and self.type.assignable(other.type)) \
            or self.type.assignable(other)

    def __str__(self) -> str:
        return f"Optional[{self.type}]"


class PNotUndef(PType):
    __slots__ = ("type",)
    name = "NotUndef"

    def __init__(self, t: PType | None = None) -> None:
        self.type = t or ANY

    def _key(self) -> tuple[Any, ...]:
        return (self.type,)

    def instance(self, v: Any) -> bool:
        return v is not None and self.type.instance(v)

    def __str__(self) -> str:
        return "NotUndef" if isinstance(self.type, PAny) else f"NotUndef[{self.type}]"


class PVariant(PType):
    __slots__ = ("types",)
    name = "Variant"

    def __init__(self, types: Sequence[PType]) -> None:
        self.types = tuple(types)

    def _key(self) -> tuple[Any, ...]:
        return self.types

    def instance(self, v: Any) -> bool:
        return any(t.instance(v) for t in self.types)

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        if isinstance(other, PVariant):
            return all(self.assignable(t) for t in other.types)
        return any(t.assignable(other) for t in self.types)

    def __str__(self) -> str:
        return "Variant[" + ", ".join(str(t) for t in self.types) + "]"


class PScalar(PType):
    __slots__ = ()
    name = "Scalar"

    def instance(self, v: Any) -> bool:
        return isinstance(v, (str, int, float, bool, RegexValue, Version, VersionRange, Timespan, Timestamp))

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        return isinstance(other, (PScalar, PScalarData, PString, PInteger, PFloat, PNumeric, PBoolean,
                                  PEnum, PPattern, PRegexp, PSemVer, PSemVerRange, PTimespan, PTimestamp))


class PScalarData(PType):
    __slots__ = ()
    name = "ScalarData"

    def instance(self, v: Any) -> bool:
        return isinstance(v, (str, int, float, bool))


class PData(PType):
    __slots__ = ()
    name = "Data"

    def instance(self, v: Any) -> bool:
        if v is None or isinstance(v, (str, int, float, bool)):
            return True
        if isinstance(v, list):
            return all(self.instance(x) for x in v)
        if isinstance(v, dict):
            return all(isinstance(k, str) and self.instance(x) for k, x in v.items())
        return False

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        return not isinstance(other, (PRegexp, PTypeType, PSensitive, PCallable, PDefault, PSemVer, PSemVerRange,
                                      PTimespan, PTimestamp))


class PRichData(PType):
    __slots__ = ()
    name = "RichData"

    def instance(self, v: Any) -> bool:
        return v is not DEFAULT


class PCollection(PType):
    __slots__ = ("lo", "hi")
    name = "Collection"

    def __init__(self, lo: float = 0, hi: float = INF) -> None:
        self.lo = lo
        self.hi = hi

    def _key(self) -> tuple[Any, ...]:
        return (self.lo, self.hi)

    def instance(self, v: Any) -> bool:
        return isinstance(v, (list, dict)) and self.lo <= len(v) <= self.hi

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        if isinstance(other, PVariant):
            return all(self.assignable(t) for t in other.types)
        if isinstance(other, (PCollection, PArray, PHash)):
            return self.lo <= other.lo and other.hi <= self.hi
        if isinstance(other, (PTuple, PStruct)):
            return self.lo == 0 and self.hi == INF
        return False


class PIterable(PType):
    __slots__ = ()
    name = "Iterable"

    def instance(self, v: Any) -> bool:
        return isinstance(v, (list, dict, str)) or (isinstance(v, int) and not isinstance(v, bool)) \
            or isinstance(v, PType)


class PTypeType(PType):
    __slots__ = ("type",)
    name = "Type"

    def __init__(self, t: PType | None = None) -> None:
        self.type = t or ANY

    def _key(self) -> tuple[Any, ...]:
        return (self.type,)

    def instance(self, v: Any) -> bool:
        return isinstance(v, PType) and self.type.assignable(v)

    def __str__(self) -> str:
        return "Type" if isinstance(self.type, PAny) else f"Type[{self.type}]"


class PCallable(PType):
    __slots__ = ()
    name = "Callable"

    def instance(self, v: Any) -> bool:
        return callable(v) and not isinstance(v, PType)


class PSensitive(PType):
    __slots__ = ("type",)
    name = "Sensitive"

    def __init__(self, t: PType | None = None) -> None:
        self.type = t or ANY

    def _key(self) -> tuple[Any, ...]:
        return (self.type,)

    def instance(self, v: Any) -> bool:
        return isinstance(v, Sensitive) and self.type.instance(v.value)

    def __str__(self) -> str:
        return "Sensitive" if isinstance(self.type, PAny) else f"Sensitive[{self.type}]"


class PCatalogEntry(PType):
    __slots__ = ()
    name = "CatalogEntry"

    def instance(self, v: Any) -> bool:
        return isinstance(v, (PResource, PClass))

    def assignable(self, other: PType) -> bool:
        return isinstance(resolve(other), (PResource, PClass, PCatalogEntry))


class PResource(PType):
    """``Resource``, ``File`` (= ``Resource['file']``) and ``File['/x']`` (a reference)."""

    __slots__ = ("type_name", "title")
    name = "Resource"

    def __init__(self, type_name: str | None = None, title: str | None = None) -> None:
        self.type_name = type_name  # capitalised, e.g. 'File', 'Foo::Bar'
        self.title = title

    def _key(self) -> tuple[Any, ...]:
        return (self.type_name, self.title)

    def instance(self, v: Any) -> bool:
        return False

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        if not isinstance(other, PResource):
            return False
        if self.type_name is None:
            return True
        return other.type_name == self.type_name and (self.title is None or other.title == self.title)

    def __str__(self) -> str:
        if self.type_name is None:
            return "Resource"
        if self.title is None:
            return self.type_name
        return f"{self.type_name}['{self.title}']"

    @property
    def ref(self) -> str:
        return f"{self.type_name}[{self.title}]"


class PClass(PType):
    __slots__ = ("class_name",)
    name = "Class"

    def __init__(self, class_name: str | None = None) -> None:
        self.class_name = class_name  # lower-case, e.g. 'foo::bar'

    def _key(self) -> tuple[Any, ...]:
        return (self.class_name,)

    def instance(self, v: Any) -> bool:
        return False

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        return isinstance(other, PClass) and (self.class_name is None or other.class_name == self.class_name)

    def __str__(self) -> str:
        if self.class_name is None:
            return "Class"
        return f"Class['{self.class_name}']"

    @property
    def ref(self) -> str:
        from engine.catalog import capitalize_type

        title = "main" if self.class_name == "main" else capitalize_type(self.class_name or "")
        return f"Class[{title}]"


class PSemVer(PType):
    """``SemVer`` and ``SemVer['>=1.0.0', ...]``: versions within any of the ranges."""

    __slots__ = ("ranges",)
    name = "SemVer"

    def __init__(self, ranges: Sequence[VersionRange] = ()) -> None:
        # ranges that overlap or meet are one range, as Puppet merges them: the last range takes in
        # each earlier one it touches, in order; the rest are merged the same way
        merged: list[VersionRange] = []
        pending = list(ranges)
        while pending:
            memo = pending.pop()
            rest = []
            for r in pending:
                if memo.touches(r):
                    memo = r.merge(memo)
                else:
                    rest.append(r)
            merged.append(memo)
            pending = rest
        self.ranges = tuple(reversed(merged))

    def _key(self) -> tuple[Any, ...]:
        return self.ranges

    def instance(self, v: Any) -> bool:
        return isinstance(v, Version) and (not self.ranges or any(r.include(v) for r in self.ranges))

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        if isinstance(other, PVariant):
            return all(self.assignable(t) for t in other.types)
        if not isinstance(other, PSemVer):
            return False
        if not self.ranges:
            return True
        return bool(other.ranges) and all(any(r.contains_range(o) for r in self.ranges) for o in other.ranges)

    def __str__(self) -> str:
        if not self.ranges:
            return "SemVer"
        return "SemVer[" + ", ".join(f"'{r}'" for r in self.ranges) + "]"


class PSemVerRange(PType):
    __slots__ = ()
    name = "SemVerRange"

    def instance(self, v: Any) -> bool:
        return isinstance(v, VersionRange)


class _TimeType(PType):
    """``Timespan[from, to]`` / ``Timestamp[from, to]``; an absent end is open."""

    __slots__ = ("lo", "hi")
    value_class: type = object

    def __init__(self, lo: Any = None, hi: Any = None) -> None:
        self.lo = lo
        self.hi = hi

    def _key(self) -> tuple[Any, ...]:
        return (None if self.lo is None else self.lo.nsecs, None if self.hi is None else self.hi.nsecs)

    def instance(self, v: Any) -> bool:
        if type(v) is not self.value_class:
            return False
        assert isinstance(v, (Timespan, Timestamp))
        return (self.lo is None or v.nsecs >= self.lo.nsecs) and (self.hi is None or v.nsecs <= self.hi.nsecs)

    def assignable(self, other: PType) -> bool:
        other = resolve(other)
        if isinstance(other, PVariant):
            return all(self.assignable(t) for t in other.types)
        if type(other) is not type(self):
            return False
        assert isinstance(other, _TimeType)
        lo_ok = self.lo is None or (other.lo is not None and other.lo.nsecs >= self.lo.nsecs)
        hi_ok = self.hi is None or (other.hi is not None and other.hi.nsecs <= self.hi.nsecs)
        return lo_ok and hi_ok

    def __str__(self) -> str:
        if self.lo is None and self.hi is None:
            return self.name
        lo = "default" if self.lo is None else f"'{self.lo}'"
        if self.hi is None or (self.lo is not None and self.hi.nsecs == self.lo.nsecs):
            return f"{self.name}[{lo}]"
        return f"{self.name}[{lo}, '{self.hi}']"


class PTimespan(_TimeType):
    __slots__ = ()
    name = "Timespan"
    value_class = Timespan


class PTimestamp(_TimeType):
    __slots__ = ()
    name = "Timestamp"
    value_class = Timestamp


class PTypeAlias(PType):
    """A named alias (``type Port = Integer[1, 65535]``), resolved on first use."""

    __slots__ = ("alias_name", "_resolver", "_resolved")
    name = "Alias"

    def __init__(self, alias_name: str, resolver: Callable[[], PType]) -> None:
        self.alias_name = alias_name
        self._resolver = resolver
        self._resolved: PType | None = None

    @property
    def resolved(self) -> PType:
        if self._resolved is None:
            self._resolved = ANY  # guards recursion through self-referencing aliases
            self._resolved = self._resolver()
        return self._resolved

    def _key(self) -> tuple[Any, ...]:
        return (self.alias_name,)

    def instance(self, v: Any) -> bool:
        return self.resolved.instance(v)

    def assignable(self, other: PType) -> bool:
        return self.resolved.assignable(other)

    def __str__(self) -> str:
        return self.alias_name


class PRuntime(PType):
    __slots__ = ()
    name = "Runtime"

    def instance(self, v: Any) -> bool:
        return False


def resolve(t: PType) -> PType:
    while isinstance(t, PTypeAlias):
        t = t.resolved
    return t


ANY = PAny()

#: Types named by a bare capitalised word.
SIMPLE_TYPES: dict[str, PType] = {
    "Any": ANY, "Undef": PUndef(), "Default": PDefault(), "Boolean": PBoolean(), "Integer": PInteger(),
    "Float": PFloat(), "Numeric": PNumeric(), "String": PString(), "Enum": PEnum(()),
    "Pattern": PPattern(()), "Regexp": PRegexp(), "Array": PArray(), "Hash": PHash(),
    "Tuple": PTuple((), 0, INF), "Struct": PStruct(()), "Optional": POptional(ANY),
    "NotUndef": PNotUndef(), "Variant": PVariant(()), "Scalar": PScalar(), "ScalarData": PScalarData(),
    "Data": PData(), "RichData": PRichData(), "Collection": PCollection(), "Iterable": PIterable(),
    "Iterator": PIterable(), "Type": PTypeType(), "Callable": PCallable(), "Sensitive": PSensitive(),
    "CatalogEntry": PCatalogEntry(), "Resource": PResource(), "Class": PClass(), "Runtime": PRuntime(),
    "Object": ANY, "Init": ANY, "SemVer": PSemVer(), "SemVerRange": PSemVerRange(), "Timespan": PTimespan(),
    "Timestamp": PTimestamp(), "Binary": PString(), "URI": PString(), "Error": ANY, "TypeSet": ANY,
}


def type_of(v: Any) -> PType:
    """The most specific type of a value, as Puppet's ``type()`` reports it."""
    if v is None:
        return PUndef()
    if isinstance(v, bool):
        return PBoolean(v)
    if isinstance(v, int):
        return PInteger(v, v)
    if isinstance(v, float):
        return PFloat(v, v)
    if isinstance(v, str):
        return PString()
    if isinstance(v, Default):
        return PDefault()
    if isinstance(v, RegexValue):
        return PRegexp(v)
    if isinstance(v, Sensitive):
        return PSensitive(type_of(v.value))
    if isinstance(v, PType):
        return PTypeType(v)
    if isinstance(v, Version):
        return PSemVer([VersionRange.between(v, v)])
    if isinstance(v, VersionRange):
        return PSemVerRange()
    if isinstance(v, Timespan):
        return PTimespan(v, v)
    if isinstance(v, Timestamp):
        return PTimestamp(v, v)
    if isinstance(v, list):
        if not v:
            return PArray(ANY, 0, 0)
        return PTuple([type_of(x) for x in v])
    if isinstance(v, dict):
        if all(isinstance(k, str) for k in v):
            return PStruct([(k, type_of(x), True) for k, x in v.items()])
        return PHash(ANY, ANY, len(v), len(v))
    return PRuntime()


def generalize(t: PType) -> PType:
    """The generalised form of an inferred type: ``Tuple[Integer[1, 1], String]`` -> ``Array[ScalarData]``."""
    t = resolve(t)
    if isinstance(t, PInteger):
        return PInteger()
    if isinstance(t, PFloat):
        return PFloat()
    if isinstance(t, PString):
        return PString()
    if isinstance(t, PBoolean):
        return PBoolean()
    if isinstance(t, (PSemVer, PTimespan, PTimestamp)):
        return type(t)()
    if isinstance(t, PTuple):
        return PArray(common_type([generalize(x) for x in t.types]))
    if isinstance(t, PStruct):
        return PHash(PString(), common_type([generalize(x) for _, x, _ in t.members]))
    if isinstance(t, PArray):
        return PArray(generalize(t.elem))
    if isinstance(t, PHash):
        return PHash(generalize(t.key), generalize(t.value))
    return t


def common_type(types: Sequence[PType]) -> PType:
    if not types:
        return ANY
    first = types[0]
    if all(x == first for x in types):
        return first
    if all(isinstance(x, (PInteger, PFloat, PNumeric)) for x in types):
        return PNumeric()
    if all(isinstance(x, (PInteger, PFloat, PNumeric, PString, PBoolean, PScalarData)) for x in types):
        return PScalarData()
    if all(isinstance(x, (PInteger, PFloat, PNumeric, PString, PBoolean, PScalarData, PRegexp, PScalar))
           for x in types):
        return PScalar()
    if all(PData().assignable(x) for x in types):
        return PData()
    return ANY


def generalized_name(v: Any) -> str:
    """The short type name used in mismatch messages: ``String``, ``Integer``, ``Array`` ..."""
    if v is None:
        return "Undef"
    if isinstance(v, bool):
        return "Boolean"
    if isinstance(v, int):
        return "Integer"
    if isinstance(v, float):
        return "Float"
    if isinstance(v, str):
        return "String"
    if isinstance(v, list):
        return "Array"
    if isinstance(v, dict):
        return "Hash"
    if isinstance(v, RegexValue):
        return "Regexp"
    if isinstance(v, Sensitive):
        return "Sensitive"
    if isinstance(v, Default):
        return "Default"
    if isinstance(v, PType):
        return f"Type[{v}]"
    if isinstance(v, Version):
        return "SemVer"
    if isinstance(v, VersionRange):
        return "SemVerRange"
    if isinstance(v, Timespan):
        return "Timespan"
    if isinstance(v, Timestamp):
        return "Timestamp"
    return "Runtime"


def describe_expected(t: PType) -> str:
    """``an Integer value``, ``a value of type Undef or String`` - as Puppet words it."""
    t0 = t
    t = resolve(t)
    if isinstance(t, POptional):
        return f"a value of type Undef or {_article_less(t.type)}"
    if isinstance(t, PVariant):
        names = [_article_less(x) for x in t.types]
        if len(names) == 1:
            return describe_expected(t.types[0])
        return "a value of type " + ", ".join(names[:-1]) + " or " + names[-1]
    if isinstance(t, PEnum):
        return "a match for " + str(t)
    if isinstance(t, PPattern):
        return "a match for " + str(t)
    name = str(t0) if isinstance(t0, PTypeAlias) else (t.name if isinstance(t, (_Ranged, PString)) else str(t))
    article = "an" if name[:1] in "AEIOU" else "a"
    if isinstance(t, (PArray, PHash, PTuple, PStruct)) and str(t) != t.name:
        return f"{article} {name} value"
    return f"{article} {name} value"


def _article_less(t: PType) -> str:
    r = resolve(t)
    if isinstance(r, (_Ranged, PString)):
        return r.name
    return str(t)


def mismatch_message(t: PType, v: Any) -> str:
    """``expects an Integer value, got String`` (with range detail where it explains the failure)."""
    r = resolve(t)
    got = generalized_name(v)
    if isinstance(r, _Ranged) and type(r)().instance(v):
        article = "an" if r.name[0] in "AEIOU" else "a"
        return f"expects {article} {r} value, got {type_of(v)}"
    if isinstance(r, PString) and isinstance(v, str):
        return f"expects a {r} value, got String"
    if isinstance(r, (PSemVer, PTimespan, PTimestamp)) and type(r)().instance(v):
        return f"expects a {r} value, got {type_of(v)}"
    if isinstance(r, PEnum) and isinstance(v, str):
        return f"expects a match for {r}, got '{v}'"
    if isinstance(r, PPattern) and isinstance(v, str):
        return f"expects a match for {r}, got '{v}'"
    if isinstance(r, PArray) and isinstance(v, list) and isinstance(r.elem, PType):
        for i, x in enumerate(v):
            if not r.elem.instance(x):
                return f"index {i} {mismatch_message(r.elem, x)}"
    if isinstance(r, PHash) and isinstance(v, dict):
        for k, x in v.items():
            if not r.key.instance(k):
                return f"key of entry '{k}' {mismatch_message(r.key, k)}"
            if not r.value.instance(x):
                return f"entry '{k}' {mismatch_message(r.value, x)}"
    if isinstance(r, PStruct) and isinstance(v, dict):
        names = {m[0] for m in r.members}
        for k in v:
            if k not in names:
                return f"unrecognized key '{k}'"
        for key, mt, required in r.members:
            if key in v and not mt.instance(v[key]):
                return f"entry '{key}' {mismatch_message(mt, v[key])}"
            if key not in v and required and not mt.instance(None):
                return f"expects a value for key '{key}'"
    return f"expects {describe_expected(t)}, got {got}"

"""Ruby values as the template interpreter holds them, and Ruby's conversions between them.

Ruby's own types map to Python's where they behave alike - nil ``None``, true/false ``bool``, Integer
``int``, Float ``float``, String ``str``, Array ``list``, Hash ``dict`` (both keep insertion order) -
and get small classes where Python has no counterpart: :class:`Symbol`, :class:`RRange`,
:class:`RRegexp`, :class:`RMatch`, :class:`RProc`, :class:`RClass`. Puppet values arrive as they are
(undef is already ``None``); Puppet's ``default``, regexes and Sensitive values are shown the way Puppet's
Ruby shows them (``:default``, ``/re/``, ``Sensitive [value redacted]``).

Ruby strings are mutable but Python's are not; ``s << "x"`` therefore rebinds the variable, element or
instance variable it was read from (see the interpreter), which matches Ruby for every use templates make
of it short of aliasing one string under two names.
"""

from __future__ import annotations

import re
from typing import Any

from .. import types as T
from ..values import Default, RegexValue, Sensitive


class RubyError(Exception):
    """A Ruby exception raised by the template (``rescue`` can catch it): class name and message."""

    def __init__(self, cls: str, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.cls = cls
        self.message = message
        self.line = line


class Unsupported(Exception):
    """Valid Ruby outside the subset Bunraku renders; not rescuable, since Ruby would have run it."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class Symbol:
    """A Ruby Symbol; interned, so symbols compare by identity."""

    __slots__ = ("name",)
    name: str
    _table: dict[str, Symbol] = {}

    def __new__(cls, name: str) -> Symbol:
        sym = cls._table.get(name)
        if sym is None:
            sym = super().__new__(cls)
            sym.name = name
            cls._table[name] = sym
        return sym

    def __repr__(self) -> str:
        return inspect(self)


class RRange:
    __slots__ = ("low", "high", "exclusive")

    def __init__(self, low: Any, high: Any, exclusive: bool) -> None:
        self.low = low
        self.high = high
        self.exclusive = exclusive

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RRange) and other.exclusive == self.exclusive and \
            equal(self.low, other.low) and equal(self.high, other.high)

    def __hash__(self) -> int:
        return hash(("range", self.low, self.high, self.exclusive))

    def int_bounds(self) -> tuple[int, int] | None:
        """(first, last) inclusive for an Integer range with both ends, else None."""
        lo, hi = self.low, self.high
        if not (is_int(lo) and (is_int(hi) or isinstance(hi, float))):
            return None
        if isinstance(hi, float):
            if hi != hi or hi in (float("inf"), float("-inf")):
                return None
            last = int(hi) if hi >= 0 or hi == int(hi) else int(hi) - 1
            if self.exclusive and last == hi:
                last -= 1
            return lo, last
        return lo, hi - 1 if self.exclusive else hi


class RRegexp:
    __slots__ = ("source", "flags", "compiled")

    def __init__(self, source: str, flags: str = "") -> None:
        from .regex import compile_ruby_regex

        self.source = source
        self.flags = "".join(f for f in "mix" if f in flags)
        self.compiled = compile_ruby_regex(source, self.flags)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RRegexp) and other.source == self.source and other.flags == self.flags

    def __hash__(self) -> int:
        return hash(("regexp", self.source, self.flags))


class RMatch:
    """MatchData: the match and the string it was found in."""

    __slots__ = ("m",)

    def __init__(self, m: re.Match[str]) -> None:
        self.m = m

    def group(self, i: int | str) -> str | None:
        try:
            return self.m.group(i)
        except IndexError:
            return None


class RProc:
    """A block turned into an object (``lambda {}``, ``->(x) {}``, ``&block``)."""

    __slots__ = ("block", "env", "is_lambda", "self_obj")

    def __init__(self, block: Any, env: Any, is_lambda: bool, self_obj: Any = None) -> None:
        self.block = block
        self.env = env
        self.is_lambda = is_lambda
        self.self_obj = self_obj


class RMethodRef:
    """``&:sym`` turned into a proc, or ``method(:name)``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


class RClass:
    """A class or module as a value: ``String`` in ``x.is_a?(String)``, ``Hash.new``."""

    __slots__ = ("name",)
    name: str
    _table: dict[str, RClass] = {}

    def __new__(cls, name: str) -> RClass:
        obj = cls._table.get(name)
        if obj is None:
            obj = super().__new__(cls)
            obj.name = name
            cls._table[name] = obj
        return obj

    def __repr__(self) -> str:
        return self.name


#: what ``is_a?`` sees: each class with its ancestors
ANCESTORS: dict[str, tuple[str, ...]] = {
    "NilClass": ("NilClass", "Object", "Kernel", "BasicObject"),
    "TrueClass": ("TrueClass", "Object", "Kernel", "BasicObject"),
    "FalseClass": ("FalseClass", "Object", "Kernel", "BasicObject"),
    "Integer": ("Integer", "Numeric", "Comparable", "Object", "Kernel", "BasicObject"),
    "Float": ("Float", "Numeric", "Comparable", "Object", "Kernel", "BasicObject"),
    "String": ("String", "Comparable", "Object", "Kernel", "BasicObject"),
    "Symbol": ("Symbol", "Comparable", "Object", "Kernel", "BasicObject"),
    "Array": ("Array", "Enumerable", "Object", "Kernel", "BasicObject"),
    "Hash": ("Hash", "Enumerable", "Object", "Kernel", "BasicObject"),
    "Range": ("Range", "Enumerable", "Object", "Kernel", "BasicObject"),
    "Regexp": ("Regexp", "Object", "Kernel", "BasicObject"),
    "MatchData": ("MatchData", "Object", "Kernel", "BasicObject"),
    "Proc": ("Proc", "Object", "Kernel", "BasicObject"),
    "Class": ("Class", "Module", "Object", "Kernel", "BasicObject"),
    "Puppet::Pops::Types::PSensitiveType::Sensitive": (
        "Puppet::Pops::Types::PSensitiveType::Sensitive", "Object", "Kernel", "BasicObject"),
    "Puppet::Parser::Scope": ("Puppet::Parser::Scope", "Object", "Kernel", "BasicObject"),
    "Puppet::Parser::TemplateWrapper": ("Puppet::Parser::TemplateWrapper", "Object", "Kernel", "BasicObject"),
    "IPAddr": ("IPAddr", "Comparable", "Object", "Kernel", "BasicObject"),
    "Enumerator": ("Enumerator", "Enumerable", "Object", "Kernel", "BasicObject"),
    "Puppet::Pops::Types::PAnyType": ("Puppet::Pops::Types::PAnyType", "Object", "Kernel", "BasicObject"),
}


#: error classes and their superclasses, for ``rescue`` and ``is_a?``
ERROR_PARENTS = {
    "Exception": None, "StandardError": "Exception", "ScriptError": "Exception",
    "NotImplementedError": "ScriptError", "RuntimeError": "StandardError", "FrozenError": "RuntimeError",
    "ArgumentError": "StandardError", "TypeError": "StandardError", "NameError": "StandardError",
    "NoMethodError": "NameError", "ZeroDivisionError": "StandardError", "IndexError": "StandardError",
    "KeyError": "IndexError", "StopIteration": "IndexError", "RangeError": "StandardError",
    "FloatDomainError": "RangeError", "RegexpError": "StandardError", "LocalJumpError": "StandardError",
    "EncodingError": "StandardError", "IOError": "StandardError", "SystemCallError": "StandardError",
    "Puppet::Error": "RuntimeError", "Puppet::ParseError": "Puppet::Error",
    "Puppet::ParseErrorWithIssue": "Puppet::ParseError", "JSON::ParserError": "StandardError",
    "IPAddr::Error": "ArgumentError", "IPAddr::InvalidAddressError": "IPAddr::Error",
    "IPAddr::AddressFamilyError": "IPAddr::Error", "IPAddr::InvalidPrefixError": "IPAddr::InvalidAddressError",
}

for _cls in ERROR_PARENTS:
    _chain: list[str] = []
    _c: str | None = _cls
    while _c is not None:
        _chain.append(_c)
        _c = ERROR_PARENTS[_c]
    ANCESTORS[_cls] = (*_chain, "Object", "Kernel", "BasicObject")


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def truthy(v: Any) -> bool:
    return v is not None and v is not False


def class_name(v: Any) -> str:
    """Ruby's ``v.class.name``."""
    if v is None:
        return "NilClass"
    if v is True:
        return "TrueClass"
    if v is False:
        return "FalseClass"
    t = type(v)
    name = _CLASS_OF.get(t)
    if name is not None:
        return name
    if isinstance(v, int):
        return "Integer"
    if isinstance(v, str):
        return "String"
    if isinstance(v, list):
        return "Array"
    if isinstance(v, dict):
        return "Hash"
    if isinstance(v, T.PType):
        return "Puppet::Pops::Types::PAnyType"
    obj_class = getattr(v, "ruby_class", None)
    if obj_class is not None:
        return str(obj_class)
    return "Object"


_CLASS_OF: dict[type, str] = {
    int: "Integer", float: "Float", str: "String", list: "Array", dict: "Hash", Symbol: "Symbol",
    RRange: "Range", RRegexp: "Regexp", RegexValue: "Regexp", RMatch: "MatchData", RProc: "Proc",
    RMethodRef: "Proc", RClass: "Class", Default: "Symbol",
    Sensitive: "Puppet::Pops::Types::PSensitiveType::Sensitive",
}


def as_regexp(v: RegexValue) -> RRegexp:
    return RRegexp(v.pattern)


# -- to_s and inspect ----------------------------------------------------------------------------------
def float_to_s(v: float) -> str:
    """Ruby's Float#to_s: the shortest digits that round-trip, in fixed notation for decimal exponents
    from -4 to 15 and as ``d.ddde+XX`` outside, always with a fractional part."""
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "Infinity" if v > 0 else "-Infinity"
    sign = "-" if v < 0 or (v == 0 and str(v).startswith("-")) else ""
    text = repr(abs(v))
    mant, _, exp_text = text.partition("e")
    exp = int(exp_text) if exp_text else 0
    int_part, _, frac_part = mant.partition(".")
    digits = (int_part + frac_part).lstrip("0")
    # decimal exponent of the first significant digit
    if int_part.strip("0"):
        decpt = len(int_part.lstrip("0")) + exp
    else:
        lead = len(frac_part) - len(frac_part.lstrip("0"))
        decpt = -lead + exp
    digits = digits.rstrip("0") or "0"
    if digits == "0":
        return sign + "0.0"
    if -4 < decpt <= 15:
        if decpt <= 0:
            return f"{sign}0.{'0' * -decpt}{digits}"
        if len(digits) <= decpt:
            return f"{sign}{digits}{'0' * (decpt - len(digits))}.0"
        return f"{sign}{digits[:decpt]}.{digits[decpt:]}"
    e = decpt - 1
    frac = digits[1:] or "0"
    return f"{sign}{digits[0]}.{frac}e{'+' if e >= 0 else '-'}{abs(e):02d}"


def to_s(v: Any) -> str:
    """Ruby's ``to_s`` - what ``<%= %>`` and ``"#{}"`` print."""
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return int_to_s(v)
    if isinstance(v, float):
        return float_to_s(v)
    if isinstance(v, Symbol):
        return v.name
    if isinstance(v, (list, dict)):
        return inspect(v)
    if isinstance(v, RRange):
        return f"{to_s(v.low)}{'...' if v.exclusive else '..'}{to_s(v.high)}"
    if isinstance(v, (RRegexp, RegexValue)):
        rx = v if isinstance(v, RRegexp) else as_regexp(v)
        off = "".join(f for f in "mix" if f not in rx.flags)
        return f"(?{rx.flags}{'-' + off if off else ''}:{rx.source})"
    if isinstance(v, Default):
        return "default"
    if isinstance(v, Sensitive):
        return "Sensitive [value redacted]"
    if isinstance(v, RMatch):
        return v.m.group(0)
    if isinstance(v, RClass):
        return v.name
    if isinstance(v, T.PType):
        return str(v)
    custom = getattr(v, "ruby_to_s", None)
    if custom is not None:
        return str(custom())
    return f"#<{class_name(v)}>"


def int_to_s(v: int) -> str:
    try:
        return str(v)
    except ValueError:  # more digits than Python converts by default; such numbers are refused
        raise RubyError("RangeError", "integer too large to print") from None


_STR_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\e", "\f": "\\f", "\v": "\\v",
                "\a": "\\a", "\b": "\\b", '"': '\\"', "\\": "\\\\"}
_SIMPLE_SYMBOL = re.compile(r"\A(?:[A-Za-z_][A-Za-z0-9_]*[?!=]?|\[\]=?|[+\-*/%<>!~^&|]|<=>|===?|=~|!=|!~|\*\*"
                            r"|<<|>>|<=|>=|[+-]@)\Z")


def inspect_str(s: str) -> str:
    out = ['"']
    n = len(s)
    for i, c in enumerate(s):
        esc = _STR_ESCAPES.get(c)
        if esc is not None:
            out.append(esc)
        elif c == "#" and i + 1 < n and s[i + 1] in "{$@":
            out.append("\\#")
        elif c < " " or c == "\x7f":
            out.append(f"\\x{ord(c):02X}" if c != "\0" else "\\u0000")
        elif not c.isprintable() and ord(c) > 127:
            out.append(f"\\u{ord(c):04X}" if ord(c) <= 0xFFFF else f"\\u{{{ord(c):X}}}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def inspect(v: Any) -> str:
    """Ruby 3.1's ``inspect`` - what ``Array#to_s`` and ``Hash#to_s`` show."""
    if v is None:
        return "nil"
    if isinstance(v, str):
        return inspect_str(v)
    if isinstance(v, Symbol):
        return ":" + (v.name if _SIMPLE_SYMBOL.match(v.name) else inspect_str(v.name))
    if isinstance(v, list):
        return "[" + ", ".join(inspect(x) for x in v) + "]"
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{" + ", ".join(f"{inspect(k)}=>{inspect(x)}" for k, x in v.items()) + "}"
    if isinstance(v, RRange):
        return f"{inspect(v.low) if v.low is not None else ''}{'...' if v.exclusive else '..'}" \
               f"{inspect(v.high) if v.high is not None else ''}"
    if isinstance(v, (RRegexp, RegexValue)):
        rx = v if isinstance(v, RRegexp) else as_regexp(v)
        return f"/{rx.source}/" + "".join(f for f in "mix" if f in rx.flags)
    if isinstance(v, Default):
        return ":default"
    if isinstance(v, RMatch):
        m = v.m
        names = {i: n for n, i in m.re.groupindex.items()}
        groups = "".join(f" {names.get(i, i)}:{inspect(m.group(i))}" for i in range(1, m.re.groups + 1))
        return f"#<MatchData {inspect_str(m.group(0))}{groups}>"
    return to_s(v)


# -- equality and order ------------------------------------------------------------------------------
def equal(a: Any, b: Any) -> bool:
    """Ruby's ``==``."""
    if a is b:
        return True
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return False
    if isinstance(a, str):
        return isinstance(b, str) and a == b
    if isinstance(a, (int, float)):
        return isinstance(b, (int, float)) and a == b
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        for k, v in a.items():
            if k not in b or not equal(v, b[k]):
                return False
        return True
    if isinstance(a, Default) or isinstance(b, Default):
        return _as_symbol(a) is _as_symbol(b)
    if isinstance(a, RegexValue) or isinstance(b, RegexValue):
        ra = as_regexp(a) if isinstance(a, RegexValue) else a
        rb = as_regexp(b) if isinstance(b, RegexValue) else b
        return bool(ra == rb)
    return bool(a == b)


def _as_symbol(v: Any) -> Any:
    return Symbol("default") if isinstance(v, Default) else v


def eql(a: Any, b: Any) -> bool:
    """Ruby's ``eql?`` (hash-key equality): like ``==`` but 1 and 1.0 differ."""
    if type(a) is not type(b) and not (isinstance(a, Default) or isinstance(b, Default)):
        return False
    return equal(a, b)


def compare(a: Any, b: Any) -> int | None:
    """Ruby's ``<=>``: -1, 0, 1, or None when the two don't compare."""
    if is_num(a) and is_num(b):
        if a != a or b != b:
            return None
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        ea, eb = a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
        return (ea > eb) - (ea < eb)
    if isinstance(a, list) and isinstance(b, list):
        for x, y in zip(a, b):
            c = compare(x, y)
            if c is None or c != 0:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    if isinstance(a, Symbol) and isinstance(b, Symbol):
        return compare(a.name, b.name)
    if equal(a, b):
        return 0
    return None


def hash_key(v: Any) -> Any:
    """``v`` as a key of a Python dict; arrays and hashes as keys are outside the subset."""
    if isinstance(v, (list, dict)):
        raise Unsupported(f"{class_name(v)} as a Hash key")
    if isinstance(v, Default):
        return Symbol("default")
    return v

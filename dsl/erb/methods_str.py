"""Built-in methods of String.

Methods that change the string in Ruby (``<<``, ``gsub!``, ``strip!``...) answer a pair here, the new
string and Ruby's return value; the interpreter writes the new string back to where the receiver came
from (see :data:`dsl.erb.interp.STRING_MUTATORS`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..values import RegexValue
from . import fmt
from .methods_core import kernel_float, regex_match, regexp_of
from .registry import Method, argc, check_size, range_slice, rmethod, type_error
from .registry import int_arg as _int
from .rvalues import (
    RMatch,
    RRange,
    RRegexp,
    RubyError,
    Symbol,
    Unsupported,
    compare,
    inspect_str,
    is_int,
    to_s,
)

if TYPE_CHECKING:
    from .interp import Blk, Interp


def _str(v: Any) -> str:
    """An argument that must be a String (Ruby's implicit conversion)."""
    if isinstance(v, str):
        return v
    raise type_error(v, "String")


def _pattern(v: Any) -> re.Pattern[str]:
    """A String (matched literally) or Regexp argument."""
    if isinstance(v, (RRegexp, RegexValue)):
        return regexp_of(v).compiled
    return re.compile(re.escape(_str(v)))


# -- operators ---------------------------------------------------------------------------------------
@rmethod("String", "+")
def _add(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    other = _str(args[0])
    check_size(len(recv) + len(other))
    return recv + other


@rmethod("String", "*")
def _mul(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    n = _int(args[0])
    if n < 0:
        raise RubyError("ArgumentError", "negative argument")
    check_size(len(recv) * n)
    return recv * n


@rmethod("String", "%")
def _percent(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    a = args[0]
    return fmt.ruby_format(recv, a if isinstance(a, list) else [a])


@rmethod("String", "==", "===", "eql?")
def _eq(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return isinstance(args[0], str) and recv == args[0]


@rmethod("String", "<=>")
def _cmp(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return compare(recv, args[0]) if isinstance(args[0], str) else None


@rmethod("String", "=~")
def _match_op(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    if isinstance(args[0], str):
        raise RubyError("TypeError", "wrong argument type String (expected Regexp)")
    m = regex_match(it, regexp_of(args[0]), recv)
    return m.m.start() if m is not None else None


@rmethod("String", "match")
def _match(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    pat = args[0]
    rx = regexp_of(pat) if isinstance(pat, (RRegexp, RegexValue)) else RRegexp(_str(pat))
    m = regex_match(it, rx, recv, _int(args[1]) if len(args) > 1 else 0)
    if m is not None and blk is not None:
        return blk(m)
    return m


@rmethod("String", "match?")
def _match_p(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    pat = args[0]
    rx = regexp_of(pat) if isinstance(pat, (RRegexp, RegexValue)) else RRegexp(_str(pat))
    return rx.compiled.search(recv, _int(args[1]) if len(args) > 1 else 0) is not None


# -- size and case -------------------------------------------------------------------------------------
@rmethod("String", "length", "size")
def _length(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return len(recv)


@rmethod("String", "bytesize")
def _bytesize(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return len(recv.encode("utf-8", "surrogatepass"))


@rmethod("String", "empty?")
def _empty(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return not recv


@rmethod("String", "upcase")
def _upcase(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return recv.upper()


@rmethod("String", "downcase")
def _downcase(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return recv.lower()


@rmethod("String", "capitalize")
def _capitalize(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return recv[:1].upper() + recv[1:].lower()


@rmethod("String", "swapcase")
def _swapcase(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return recv.swapcase()


_WS = " \t\n\v\f\r\0"


@rmethod("String", "strip")
def _strip(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return recv.strip(_WS)


@rmethod("String", "lstrip")
def _lstrip(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return recv.lstrip(_WS)


@rmethod("String", "rstrip")
def _rstrip(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return recv.rstrip(_WS)


def _chomp_value(recv: str, args: list[Any]) -> str:
    argc(args, 0, 1)
    if args:
        if args[0] is None:
            return recv
        suffix = _str(args[0])
        if suffix == "":
            return recv.rstrip("\r\n") if recv.endswith("\n") else recv
        return recv[: -len(suffix)] if recv.endswith(suffix) else recv
    if recv.endswith("\r\n"):
        return recv[:-2]
    if recv.endswith("\n") or recv.endswith("\r"):
        return recv[:-1]
    return recv


@rmethod("String", "chomp")
def _chomp(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return _chomp_value(recv, args)


@rmethod("String", "chop")
def _chop(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return recv[:-2] if recv.endswith("\r\n") else recv[:-1]


@rmethod("String", "chr")
def _chr(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return recv[:1]


@rmethod("String", "reverse")
def _reverse(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return recv[::-1]


def _bang(plain: Method) -> Method:
    """``strip!`` from ``strip``: the new string, and nil when nothing changed (as Ruby answers)."""

    def fn(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
        new = plain(it, recv, args, blk)
        return new, (None if new == recv else new)

    return fn


for _name, _plain in (("upcase!", _upcase), ("downcase!", _downcase), ("capitalize!", _capitalize),
                      ("swapcase!", _swapcase), ("strip!", _strip), ("lstrip!", _lstrip), ("rstrip!", _rstrip),
                      ("chomp!", _chomp), ("chop!", _chop), ("reverse!", _reverse)):
    rmethod("String", _name)(_bang(_plain))


# -- conversion -----------------------------------------------------------------------------------------
@rmethod("String", "to_s", "to_str")
def _to_s(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return recv


@rmethod("String", "inspect", "dump")
def _inspect(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return inspect_str(recv)


@rmethod("String", "to_sym", "intern")
def _to_sym(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return Symbol(recv)


_TO_I = re.compile(r"[ \t\n\v\f\r]*([+-]?)(\d+(?:_\d+)*)")


@rmethod("String", "to_i")
def _to_i(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    base = _int(args[0]) if args else 10
    if base == 10:
        m = _TO_I.match(recv)
        if m is None:
            return 0
        n = int(m.group(2).replace("_", ""))
        return -n if m.group(1) == "-" else n
    if not 2 <= base <= 36:
        raise RubyError("ArgumentError", f"invalid radix {base}")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"[:base]
    text = recv.strip(_WS)
    sign = 1
    if text[:1] in "+-":
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if base == 16 and text[:2].lower() == "0x":
        text = text[2:]
    elif base == 2 and text[:2].lower() == "0b":
        text = text[2:]
    elif base == 8 and text[:2].lower() == "0o":
        text = text[2:]
    n = 0
    for c in text.lower():
        if c == "_":
            continue
        d = digits.find(c)
        if d < 0:
            break
        n = n * base + d
    return sign * n


_TO_F = re.compile(r"[ \t\n\v\f\r]*[+-]?(?:\d+(?:_\d+)*)?(?:\.\d+(?:_\d+)*)?(?:[eE][+-]?\d+)?")


@rmethod("String", "to_f")
def _to_f(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    m = _TO_F.match(recv)
    text = m.group(0).strip().replace("_", "") if m else ""
    if not re.search(r"\d", text):
        return 0.0
    if re.match(r"[+-]?\.", text) or re.search(r"[eE][+-]?$", text):
        text = re.sub(r"[eE][+-]?$", "", text)
        if re.match(r"[+-]?\.", text):
            return 0.0
    try:
        return float(kernel_float(text))
    except RubyError:
        return 0.0


@rmethod("String", "to_r", "to_c")
def _to_r(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    raise Unsupported("Rational and Complex numbers")


@rmethod("String", "hex")
def _hex(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return _to_i(it, recv, [16], blk)


@rmethod("String", "oct")
def _oct(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return _to_i(it, recv, [8], blk)


@rmethod("String", "ord")
def _ord(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    if not recv:
        raise RubyError("ArgumentError", "empty string")
    return ord(recv[0])


@rmethod("String", "chars")
def _chars(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return list(recv)


@rmethod("String", "bytes")
def _bytes(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return list(recv.encode("utf-8", "surrogatepass"))


def _lines(recv: str, sep: str = "\n") -> list[str]:
    if not recv:
        return []
    out = []
    pos = 0
    while True:
        i = recv.find(sep, pos)
        if i < 0:
            if pos < len(recv):
                out.append(recv[pos:])
            return out
        out.append(recv[pos:i + len(sep)])
        pos = i + len(sep)


@rmethod("String", "lines")
def _lines_m(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    return _lines(recv, _str(args[0]) if args else "\n")


@rmethod("String", "each_line")
def _each_line(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    if blk is None:
        return _lines(recv, _str(args[0]) if args else "\n")
    for line in _lines(recv, _str(args[0]) if args else "\n"):
        blk(line)
    return recv


@rmethod("String", "each_char")
def _each_char(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    if blk is None:
        return list(recv)
    for c in recv:
        blk(c)
    return recv


@rmethod("String", "freeze", "-@", "+@", "dup", "clone", "itself", "b", "scrub", "unicode_normalize",
         "encode")
def _same(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return recv


@rmethod("String", "force_encoding")
def _force_encoding(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return recv, recv


@rmethod("String", "frozen?")
def _frozen(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return True


@rmethod("String", "valid_encoding?")
def _valid_encoding(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return True


@rmethod("String", "ascii_only?")
def _ascii_only(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return recv.isascii()


# -- search ---------------------------------------------------------------------------------------------
@rmethod("String", "include?")
def _include(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return _str(args[0]) in recv


@rmethod("String", "start_with?")
def _start_with(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    for a in args:
        if isinstance(a, (RRegexp, RegexValue)):
            m = regexp_of(a).compiled.match(recv)
            if m is not None:
                it.last_match = RMatch(m)
                return True
        elif recv.startswith(_str(a)):
            return True
    return False


@rmethod("String", "end_with?")
def _end_with(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return any(recv.endswith(_str(a)) for a in args)


@rmethod("String", "index")
def _index(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    start = _int(args[1]) if len(args) > 1 else 0
    if start < 0:
        start += len(recv)
        if start < 0:
            return None
    if isinstance(args[0], (RRegexp, RegexValue)):
        m = regex_match(it, regexp_of(args[0]), recv, start)
        return m.m.start() if m is not None else None
    i = recv.find(_str(args[0]), start)
    return i if i >= 0 else None


@rmethod("String", "rindex")
def _rindex(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    end = _int(args[1]) if len(args) > 1 else len(recv)
    if end < 0:
        end += len(recv)
    if isinstance(args[0], (RRegexp, RegexValue)):
        rx = regexp_of(args[0]).compiled
        for i in range(min(end, len(recv)), -1, -1):
            if rx.match(recv, i):
                return i
        return None
    needle = _str(args[0])
    i = recv.rfind(needle, 0, end + len(needle))
    return i if i >= 0 else None


@rmethod("String", "count")
def _count(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, None)
    sets = [_char_set(_str(a)) for a in args]
    return sum(1 for c in recv if all(s(c) for s in sets))


@rmethod("String", "scan")
def _scan(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    pat = _pattern(args[0])
    out: list[Any] = []
    for m in pat.finditer(recv):
        it.tick()
        item: Any = list(m.groups()) if pat.groups else m.group(0)
        if blk is not None:
            it.last_match = RMatch(m)
            blk(item)
        else:
            out.append(item)
    return recv if blk is not None else out


@rmethod("String", "casecmp")
def _casecmp(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    if not isinstance(args[0], str):
        return None
    return compare(recv.lower(), args[0].lower())


@rmethod("String", "casecmp?")
def _casecmp_p(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    if not isinstance(args[0], str):
        return None
    return recv.casefold() == args[0].casefold()


# -- slicing ------------------------------------------------------------------------------------------
def _slice(it: Interp, recv: str, args: list[Any]) -> str | None:
    argc(args, 1, 2)
    a = args[0]
    n = len(recv)
    if len(args) == 2:
        if isinstance(a, (RRegexp, RegexValue)):
            m = regex_match(it, regexp_of(a), recv)
            return m.group(args[1].name if isinstance(args[1], Symbol) else args[1]) if m is not None else None
        start, length = _int(a), _int(args[1])
        if start < 0:
            start += n
        if start < 0 or start > n or length < 0:
            return None
        return recv[start:start + length]
    if is_int(a) or isinstance(a, float):
        i = _int(a)
        if i < 0:
            i += n
        return recv[i] if 0 <= i < n else None
    if isinstance(a, RRange):
        return range_slice(recv, a)
    if isinstance(a, str):
        return a if a in recv else None
    if isinstance(a, (RRegexp, RegexValue)):
        m = regex_match(it, regexp_of(a), recv)
        return m.group(0) if m is not None else None
    raise type_error(a, "Integer")


@rmethod("String", "[]", "slice")
def _aref(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return _slice(it, recv, args)


@rmethod("String", "[]=")
def _aset(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 2, 3)
    value = _str(args[-1])
    key = args[0]
    n = len(recv)
    if len(args) == 3:
        start, length = _int(args[0]), _int(args[1])
        if start < 0:
            start += n
        if start < 0 or start > n:
            raise RubyError("IndexError", f"index {args[0]} out of string")
        return recv[:start] + value + recv[start + length:], value
    if is_int(key):
        i = key + n if key < 0 else key
        if not 0 <= i < n:
            raise RubyError("IndexError", f"index {key} out of string")
        return recv[:i] + value + recv[i + 1:], value
    if isinstance(key, str):
        i = recv.find(key)
        if i < 0:
            raise RubyError("IndexError", "string not matched")
        return recv[:i] + value + recv[i + len(key):], value
    if isinstance(key, (RRegexp, RegexValue)):
        m = regexp_of(key).compiled.search(recv)
        if m is None:
            raise RubyError("IndexError", "regexp not matched")
        return recv[:m.start()] + value + recv[m.end():], value
    raise Unsupported("String#[]= with a range")


@rmethod("String", "slice!")
def _slice_bang(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    part = _slice(it, recv, args)
    if part is None:
        return recv, None
    i = recv.find(part) if not (args and is_int(args[0])) else (_int(args[0]) % max(len(recv), 1))
    return recv[:i] + recv[i + len(part):], part


@rmethod("String", "<<", "concat")
def _append(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    parts = []
    for a in args:
        if is_int(a):
            parts.append(chr(a))
        else:
            parts.append(_str(a))
    new = recv + "".join(parts)
    check_size(len(new))
    return new, new


@rmethod("String", "prepend")
def _prepend(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    new = "".join(_str(a) for a in args) + recv
    check_size(len(new))
    return new, new


@rmethod("String", "insert")
def _insert(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 2)
    i = _int(args[0])
    other = _str(args[1])
    n = len(recv)
    if i < 0:
        i += n + 1
    if not 0 <= i <= n:
        raise RubyError("IndexError", f"index {args[0]} out of string")
    new = recv[:i] + other + recv[i:]
    check_size(len(new))
    return new, new


@rmethod("String", "replace")
def _replace(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    new = _str(args[0])
    return new, new


@rmethod("String", "clear")
def _clear(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return "", ""


# -- substitution ------------------------------------------------------------------------------------
def _expand_replacement(repl: str, m: re.Match[str]) -> str:
    """Ruby's replacement string: ``\\1``, ``\\0``/``\\&``, ``\\k<name>``, ``\\```, ``\\'``, ``\\\\``."""
    if "\\" not in repl:
        return repl
    out = []
    i = 0
    n = len(repl)
    while i < n:
        c = repl[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = repl[i + 1]
        if e.isdigit():
            try:
                out.append(m.group(int(e)) or "")
            except IndexError:
                pass
            i += 2
        elif e == "&":
            out.append(m.group(0))
            i += 2
        elif e == "`":
            out.append(m.string[:m.start()])
            i += 2
        elif e == "'":
            out.append(m.string[m.end():])
            i += 2
        elif e == "\\":
            out.append("\\")
            i += 2
        elif e == "k" and i + 2 < n and repl[i + 2] == "<":
            end = repl.find(">", i + 3)
            if end < 0:
                out.append("\\k")
                i += 2
                continue
            name = repl[i + 3:end]
            try:
                out.append(m.group(name) or "")
            except IndexError:
                raise RubyError("IndexError", f"undefined group name reference: {name}") from None
            i = end + 1
        else:
            out.append("\\" + e)
            i += 2
    return "".join(out)


def _substitute(it: Interp, recv: str, args: list[Any], blk: Blk | None, count: int) -> str:
    if blk is None:
        argc(args, 2)
    else:
        argc(args, 1, 2)
    pat = _pattern(args[0])
    total = [0]
    if len(args) == 2:
        repl = args[1]
        if isinstance(repl, dict):
            def by_hash(m: re.Match[str]) -> str:
                return _grow(total, to_s(repl.get(m.group(0))), len(recv))
            sub_fn = by_hash
        else:
            text = _str(repl)

            def by_text(m: re.Match[str]) -> str:
                return _grow(total, _expand_replacement(text, m), len(recv))
            sub_fn = by_text
    else:
        assert blk is not None

        def by_block(m: re.Match[str]) -> str:
            it.last_match = RMatch(m)
            return _grow(total, to_s(blk(m.group(0))), len(recv))
        sub_fn = by_block
    result = pat.sub(sub_fn, recv, count=count)
    if blk is None and isinstance(args[0], (RRegexp, RegexValue)):
        found = pat.search(recv)
        it.last_match = RMatch(found) if found is not None else None
    return result


def _grow(total: list[int], piece: str, base: int) -> str:
    """Count the replacement text as it is produced: 'x' * 16M with each 'x' replaced by 16M
    characters fails after the first few, not after building terabytes."""
    total[0] += len(piece)
    check_size(total[0] + base)
    return piece


@rmethod("String", "gsub")
def _gsub(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return _substitute(it, recv, args, blk, 0)


@rmethod("String", "sub")
def _sub(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return _substitute(it, recv, args, blk, 1)


@rmethod("String", "gsub!")
def _gsub_bang(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    new = _substitute(it, recv, args, blk, 0)
    return new, (None if new == recv else new)


@rmethod("String", "sub!")
def _sub_bang(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    new = _substitute(it, recv, args, blk, 1)
    return new, (None if new == recv else new)


def _char_set(spec: str) -> Any:
    """A ``tr``/``count``/``delete`` character set (``a-z``, ``^0-9``) as a membership test."""
    negate = len(spec) > 1 and spec[0] == "^"
    chars = _expand_tr(spec[1:] if negate else spec)
    members = set(chars)
    return (lambda c: c not in members) if negate else (lambda c: c in members)


def _expand_tr(spec: str) -> list[str]:
    out: list[str] = []
    i = 0
    n = len(spec)
    while i < n:
        c = spec[i]
        if c == "\\" and i + 1 < n:
            out.append(spec[i + 1])
            i += 2
            continue
        if i + 2 < n and spec[i + 1] == "-":
            lo, hi = ord(c), ord(spec[i + 2])
            if lo > hi:
                raise RubyError("ArgumentError", f'invalid range "{c}-{spec[i + 2]}" in string transliteration')
            out.extend(chr(x) for x in range(lo, hi + 1))
            i += 3
            continue
        out.append(c)
        i += 1
    return out


def _tr(recv: str, from_spec: str, to_spec: str, squeeze: bool) -> str:
    negate = len(from_spec) > 1 and from_spec[0] == "^"
    src = _expand_tr(from_spec[1:] if negate else from_spec)
    dst = _expand_tr(to_spec)
    out: list[str] = []
    last: str | None = None
    for c in recv:
        if negate:
            if c in src:
                out.append(c)
                last = None
                continue
            r = dst[-1] if dst else ""
        else:
            if c not in src:
                out.append(c)
                last = None
                continue
            i = src.index(c)
            r = (dst[i] if i < len(dst) else dst[-1]) if dst else ""
        if squeeze and r == last:
            continue
        out.append(r)
        last = r
    return "".join(out)


@rmethod("String", "tr")
def _tr_m(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 2)
    return _tr(recv, _str(args[0]), _str(args[1]), False)


@rmethod("String", "tr_s")
def _tr_s(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 2)
    return _tr(recv, _str(args[0]), _str(args[1]), True)


@rmethod("String", "tr!")
def _tr_bang(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    new = _tr_m(it, recv, args, blk)
    return new, (None if new == recv else new)


@rmethod("String", "delete")
def _delete(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, None)
    sets = [_char_set(_str(a)) for a in args]
    return "".join(c for c in recv if not all(s(c) for s in sets))


@rmethod("String", "delete!")
def _delete_bang(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    new = _delete(it, recv, args, blk)
    return new, (None if new == recv else new)


@rmethod("String", "delete_prefix")
def _delete_prefix(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    p = _str(args[0])
    return recv[len(p):] if p and recv.startswith(p) else recv


@rmethod("String", "delete_suffix")
def _delete_suffix(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    p = _str(args[0])
    return recv[: -len(p)] if p and recv.endswith(p) else recv


@rmethod("String", "squeeze")
def _squeeze(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    test = _char_set(_str(args[0])) if args else (lambda c: True)
    out: list[str] = []
    for c in recv:
        if out and out[-1] == c and test(c):
            continue
        out.append(c)
    return "".join(out)


@rmethod("String", "squeeze!")
def _squeeze_bang(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    new = _squeeze(it, recv, args, blk)
    return new, (None if new == recv else new)


# -- split and join --------------------------------------------------------------------------------------
@rmethod("String", "split")
def _split(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 2)
    limit = _int(args[1]) if len(args) > 1 else 0
    sep = args[0] if args else None
    if limit == 1:
        return [recv] if recv else []
    parts: list[str]
    if sep is None or (isinstance(sep, str) and sep == " "):
        # awk style: runs of whitespace separate, leading whitespace is ignored
        text = recv.lstrip(_WS)
        if limit > 0:
            parts = re.split(r"[ \t\n\v\f\r\0]+", text, maxsplit=limit - 1)
        else:
            parts = re.split(r"[ \t\n\v\f\r\0]+", text)
            if limit == 0:
                while parts and parts[-1] == "":
                    parts.pop()
        return [p for p in parts] if text else []
    if isinstance(sep, str):
        if sep == "":
            chars = list(recv)
            if limit > 0 and len(chars) > limit:
                chars = chars[:limit - 1] + ["".join(chars[limit - 1:])]
            return chars
        parts = recv.split(sep, limit - 1) if limit > 0 else recv.split(sep)
    else:
        rx = regexp_of(sep).compiled
        parts = []
        pos = 0
        start = 0
        while limit <= 0 or len(parts) < limit - 1:
            m = rx.search(recv, pos)
            if m is None:
                break
            if m.end() == m.start():
                if m.start() >= len(recv):
                    break
                if m.start() == start:  # an empty match splits between characters
                    pos = m.start() + 1
                    if pos > len(recv):
                        break
                    parts.append(recv[start:pos])
                    parts.extend(g for g in m.groups() if g is not None)
                    start = pos
                    continue
            parts.append(recv[start:m.start()])
            parts.extend(g for g in m.groups() if g is not None)
            start = m.end()
            pos = m.end() if m.end() > m.start() else m.end() + 1
            it.tick()
        parts.append(recv[start:])
    if not recv:
        return []
    if limit == 0:
        while parts and parts[-1] == "":
            parts.pop()
    return parts


# -- padding -----------------------------------------------------------------------------------------------
def _pad_args(args: list[Any]) -> tuple[int, str]:
    argc(args, 1, 2)
    width = _int(args[0])
    check_size(width)
    pad = _str(args[1]) if len(args) > 1 else " "
    if not pad:
        raise RubyError("ArgumentError", "zero width padding")
    return width, pad


def _fill(pad: str, n: int) -> str:
    return (pad * (n // len(pad) + 1))[:n] if n > 0 else ""


@rmethod("String", "ljust")
def _ljust(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    width, pad = _pad_args(args)
    return recv + _fill(pad, width - len(recv))


@rmethod("String", "rjust")
def _rjust(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    width, pad = _pad_args(args)
    return _fill(pad, width - len(recv)) + recv


@rmethod("String", "center")
def _center(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    width, pad = _pad_args(args)
    total = width - len(recv)
    if total <= 0:
        return recv
    left = total // 2
    return _fill(pad, left) + recv + _fill(pad, total - left)


# -- successor -----------------------------------------------------------------------------------------
def _succ(s: str) -> str:
    if not s:
        return ""
    chars = list(s)
    alnum = [i for i, c in enumerate(chars) if c.isascii() and c.isalnum()]
    if not alnum:
        i = len(chars) - 1
        chars[i] = chr(ord(chars[i]) + 1)
        return "".join(chars)
    i = alnum[-1]
    while True:
        c = chars[i]
        if c == "z":
            chars[i] = "a"
            carry = "a"
        elif c == "Z":
            chars[i] = "A"
            carry = "A"
        elif c == "9":
            chars[i] = "0"
            carry = "1"
        else:
            chars[i] = chr(ord(c) + 1)
            return "".join(chars)
        prev = [j for j in alnum if j < i]
        if not prev:
            chars.insert(i, carry)
            return "".join(chars)
        i = prev[-1]


@rmethod("String", "succ", "next")
def _succ_m(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return _succ(recv)


@rmethod("String", "upto")
def _upto(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    last = _str(args[0])
    if blk is None:
        raise Unsupported("'upto' without a block (an Enumerator)")
    s = recv
    while len(s) <= len(last):
        it.tick()
        blk(s)
        if s == last:
            break
        s = _succ(s)
    return recv


@rmethod("String", "sum")
def _sum(it: Interp, recv: str, args: list[Any], blk: Blk | None) -> Any:
    return sum(recv.encode("utf-8")) & 0xFFFF

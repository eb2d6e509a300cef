"""The table of built-in Ruby methods the interpreter knows, filled by decorator from the ``methods_*``
modules, and the helpers they share (argument counts, size caps, Ruby's error messages).

A method is ``fn(it, recv, args, blk)``: the interpreter, the receiver, the evaluated arguments and the
block (a callable, or None). Lookup follows the receiver's class and then its ancestors (Integer →
Numeric → Comparable → Object → Kernel), as Ruby's does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..formatlimits import MAX_STRING_SIZE, size_error
from .ruby_names import RUBY_METHODS
from .rvalues import ANCESTORS, RRange, RubyError, Unsupported, class_name, inspect, is_int

if TYPE_CHECKING:
    from .interp import Interp

Method = Callable[["Interp", Any, list[Any], Any], Any]

METHODS: dict[str, dict[str, Method]] = {}
_resolved: dict[tuple[str, str], Method | None] = {}

#: the longest String or output a template may build: far beyond any real configuration file, small
#: enough that a template cannot exhaust the master's memory ('x' * 10**10); the bound of every other
#: formatting function of the language
MAX_SIZE = MAX_STRING_SIZE
#: the most elements an Array built in one step (Array.new(n), (1..n).to_a, [0] * n) may have
MAX_ELEMENTS = 1024 * 1024


def rmethod(cls: str, *names: str) -> Callable[[Method], Method]:
    def register(fn: Method) -> Method:
        table = METHODS.setdefault(cls, {})
        for name in names:
            if name in table:
                raise RuntimeError(f"Ruby method {cls}#{name} registered twice")
            table[name] = fn
        return fn

    return register


def find_method(cls: str, name: str) -> Method | None:
    key = (cls, name)
    try:
        return _resolved[key]
    except KeyError:
        pass
    found: Method | None = None
    for anc in ANCESTORS.get(cls, (cls, "Object", "Kernel", "BasicObject")):
        table = METHODS.get(anc)
        if table is not None and name in table:
            found = table[name]
            break
    _resolved[key] = found
    return found


def ruby_has_method(cls: str, name: str) -> bool:
    """Whether Ruby 3.1 itself defines ``name`` for instances of ``cls``."""
    for anc in ANCESTORS.get(cls, (cls,)):
        names = RUBY_METHODS.get(anc)
        if names is not None and name in names:
            return True
    return False


def receiver_text(recv: Any) -> str:
    """How Ruby 3.1 names a receiver in NoMethodError: ``nil:NilClass``, ``"x":String``, ``an instance
    of Array`` (for objects whose inspect is long, Ruby shows the class)."""
    cls = class_name(recv)
    if recv is None:
        return "nil:NilClass"
    if recv is True or recv is False:
        return f"{inspect(recv)}:{cls}"
    if cls in ("Integer", "Float", "Symbol", "String") and len(inspect(recv)) <= 65:
        return f"{inspect(recv)}:{cls}"
    return f"an instance of {cls}"


def no_method(recv: Any, name: str) -> Exception:
    """Ruby's NoMethodError, or Unsupported when Ruby has the method and Bunraku does not."""
    cls = class_name(recv)
    if ruby_has_method(cls, name):
        return Unsupported(f"method '{name}' on {cls}")
    return RubyError("NoMethodError", f"undefined method `{name}' for {receiver_text(recv)}")


def argc(args: list[Any], lo: int, hi: int | None = -1) -> None:
    """Check the argument count: exactly ``lo``, or ``lo..hi`` (``hi`` None: no upper bound)."""
    n = len(args)
    top = lo if hi == -1 else hi
    if n < lo or (top is not None and n > top):
        if top == lo:
            want = str(lo)
        elif top is None:
            want = f"{lo}+"
        else:
            want = f"{lo}..{top}"
        raise RubyError("ArgumentError", f"wrong number of arguments (given {n}, expected {want})")


def need_block(blk: Any, name: str) -> Any:
    if blk is None:
        raise Unsupported(f"'{name}' without a block (an Enumerator)")
    return blk


def type_error(value: Any, into: str) -> RubyError:
    shown = "nil" if value is None else ("true" if value is True else "false" if value is False
                                          else class_name(value))
    return RubyError("TypeError", f"no implicit conversion of {shown} into {into}")


def check_size(n: int, what: str = "this") -> None:
    error = size_error(n, what)
    if error is not None:
        raise RubyError("ArgumentError", error)


def check_count(n: int) -> None:
    if n > MAX_ELEMENTS:
        raise RubyError("ArgumentError", f"this would build an Array of {n} elements (at most {MAX_ELEMENTS})")


def int_arg(v: Any) -> int:
    """An Integer argument as Ruby takes one (a Float is truncated)."""
    if is_int(v):
        return int(v)
    if isinstance(v, float):
        return int(v)
    raise type_error(v, "Integer")


def range_slice(seq: Any, rng: RRange) -> Any:
    """``seq[a..b]`` / ``seq[a...b]`` for an Array or a String: None when the start is out of range."""
    n = len(seq)
    start = 0 if rng.low is None else int_arg(rng.low)
    stop = n if rng.high is None else int_arg(rng.high)
    if start < 0:
        start += n
    if start < 0 or start > n:
        return None
    if stop < 0:
        stop += n
    if rng.high is not None and not rng.exclusive:
        stop += 1
    return seq[start:max(stop, start)]

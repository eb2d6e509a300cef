"""Built-in methods of Object, nil, true/false, numbers, Symbol, Proc, Regexp, MatchData and classes,
Kernel's functions (``Array()``, ``Integer()``, ``format``, ``raise``), and Puppet's template and scope
objects (``scope['x']``, ``scope.function_NAME([args])``, ``scope.call_function``)."""

from __future__ import annotations

import ipaddress
import math
import re
from typing import TYPE_CHECKING, Any

from ..values import DEFAULT, Default, RegexValue, Sensitive
from . import fmt
from .registry import MAX_ELEMENTS, METHODS, Method, argc, check_count, no_method, rmethod
from .rvalues import (
    RClass,
    RMatch,
    RMethodRef,
    RProc,
    RRange,
    RRegexp,
    RubyError,
    Symbol,
    Unsupported,
    as_regexp,
    class_name,
    compare,
    eql,
    equal,
    float_to_s,
    inspect,
    is_int,
    is_num,
    to_s,
    truthy,
)

if TYPE_CHECKING:
    from .interp import Blk, Interp


# -- Object -------------------------------------------------------------------------------------------
@rmethod("Object", "==", "equal?")
def _obj_eq(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return equal(recv, args[0])


@rmethod("Object", "!=")
def _obj_ne(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return not truthy(it.send(recv, "==", args, None))


@rmethod("Object", "!")
def _obj_not(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return not truthy(recv)


@rmethod("Object", "eql?")
def _obj_eql(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return eql(recv, args[0])


@rmethod("Object", "===")
def _obj_case_eq(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return truthy(it.send(recv, "==", args, None))


@rmethod("Object", "=~")
def _obj_match(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return None


@rmethod("Object", "nil?")
def _obj_nil(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return recv is None


def _class_arg(v: Any) -> str:
    if isinstance(v, RClass):
        return v.name
    raise RubyError("TypeError", "class or module required")


@rmethod("Object", "is_a?", "kind_of?")
def _obj_is_a(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    from .interp import is_a

    argc(args, 1)
    return is_a(recv, _class_arg(args[0]))


@rmethod("Object", "instance_of?")
def _obj_instance_of(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return class_name(recv) == _class_arg(args[0])


@rmethod("Object", "respond_to?")
def _obj_respond_to(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    name = args[0].name if isinstance(args[0], Symbol) else to_s(args[0])
    return it.responds_to(recv, name)


@rmethod("Object", "class")
def _obj_class(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return RClass(class_name(recv))


@rmethod("Object", "inspect")
def _obj_inspect(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return inspect(recv)


@rmethod("Object", "to_s")
def _obj_to_s(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return to_s(recv)


@rmethod("Object", "to_yaml")
def _obj_to_yaml(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    from .registry import check_size
    from .yaml_emit import to_yaml

    argc(args, 0, 1)
    if args:
        raise Unsupported("to_yaml with options")
    text = to_yaml(recv)
    check_size(len(text))
    return text


@rmethod("Object", "frozen?")
def _obj_frozen(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    # Puppet's strings are frozen; so are nil, booleans, numbers and symbols
    return not isinstance(recv, (list, dict))


@rmethod("Object", "freeze", "itself", "taint", "untaint", "trust", "untrust")
def _obj_itself(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return recv


@rmethod("Object", "dup", "clone")
def _obj_dup(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    if isinstance(recv, list):
        return list(recv)
    if isinstance(recv, dict):
        return dict(recv)
    return recv


@rmethod("Object", "tap")
def _obj_tap(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    if blk is None:
        raise RubyError("LocalJumpError", "no block given (yield)")
    blk(recv)
    return recv


@rmethod("Object", "then", "yield_self")
def _obj_then(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    if blk is None:
        raise Unsupported("'then' without a block")
    return blk(recv)


@rmethod("Object", "send", "public_send", "__send__")
def _obj_send(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, None)
    name = args[0].name if isinstance(args[0], Symbol) else to_s(args[0])
    return it.send(recv, name, args[1:], blk)


@rmethod("Object", "instance_variable_get")
def _obj_ivar_get(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    from .interp import TemplateObject

    if not isinstance(recv, TemplateObject):
        return None
    name = args[0].name if isinstance(args[0], Symbol) else to_s(args[0])
    if not name.startswith("@"):
        raise RubyError("NameError", f"'{name}' is not allowed as an instance variable name")
    return it.ivar(name[1:])


@rmethod("Object", "hash")
def _obj_hash(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    # Ruby's hash codes are seeded per process too: only their equality means anything
    return hash(inspect(recv))


@rmethod("Object", "object_id", "__id__")
def _obj_id(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    raise Unsupported(f"method 'object_id' on {class_name(recv)}")


@rmethod("Comparable", "between?")
def _cmp_between(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 2)
    return _cmp(it, recv, args[0]) >= 0 and _cmp(it, recv, args[1]) <= 0


@rmethod("Comparable", "clamp")
def _cmp_clamp(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    lo, hi = (args[0].low, args[0].high) if len(args) == 1 and isinstance(args[0], RRange) else (args[0], args[1])
    if lo is not None and _cmp(it, recv, lo) < 0:
        return lo
    if hi is not None and _cmp(it, recv, hi) > 0:
        return hi
    return recv


def _cmp(it: Interp, a: Any, b: Any) -> int:
    from .methods_enum import compare_or_fail

    return compare_or_fail(a, b)


def _relational(op: str) -> Method:
    def fn(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
        argc(args, 1)
        c = _cmp(it, recv, args[0])
        return {"<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]

    return fn


for _op in ("<", "<=", ">", ">="):
    rmethod("Comparable", _op)(_relational(_op))


@rmethod("Comparable", "<=>")
def _cmp_spaceship(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return compare(recv, args[0])


# -- nil, true, false ------------------------------------------------------------------------------------
@rmethod("NilClass", "to_a")
def _nil_to_a(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return []


@rmethod("NilClass", "to_h")
def _nil_to_h(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return {}


@rmethod("NilClass", "to_i")
def _nil_to_i(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return 0


@rmethod("NilClass", "to_f")
def _nil_to_f(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return 0.0


@rmethod("NilClass", "&")
@rmethod("FalseClass", "&")
def _false_and(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return False


@rmethod("NilClass", "|", "^")
@rmethod("FalseClass", "|", "^")
def _false_or(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return truthy(args[0])


@rmethod("TrueClass", "&")
def _true_and(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return truthy(args[0])


@rmethod("TrueClass", "|")
def _true_or(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return True


@rmethod("TrueClass", "^")
def _true_xor(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return not truthy(args[0])


# -- numbers -------------------------------------------------------------------------------------------
def _num_arg(op: str, recv: Any, v: Any) -> int | float:
    if is_num(v):
        return v  # type: ignore[no-any-return]
    if v is None:
        raise RubyError("TypeError", f"nil can't be coerced into {class_name(recv)}")
    if isinstance(v, str):
        raise RubyError("TypeError", f"String can't be coerced into {class_name(recv)}")
    raise RubyError("TypeError", f"{class_name(v)} can't be coerced into {class_name(recv)}")


#: the largest result of ** in bits; Ruby computes any size, a template has no use for such numbers
_MAX_POWER_BITS = 64 * 1024


def _arith(op: str) -> Method:
    def fn(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
        argc(args, 1)
        b = _num_arg(op, recv, args[0])
        a = recv
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op in ("/", "div"):
            if is_int(a) and is_int(b):
                if b == 0:
                    raise RubyError("ZeroDivisionError", "divided by 0")
                return a // b
            if op == "div":
                if b == 0:
                    raise RubyError("ZeroDivisionError", "divided by 0")
                return math.floor(a / b)
            return _float_div(float(a), float(b))
        if op in ("%", "modulo"):
            if is_int(a) and is_int(b):
                if b == 0:
                    raise RubyError("ZeroDivisionError", "divided by 0")
                return a % b
            if b == 0:
                return float("nan")
            return math.fmod(a, b) if (a % b == 0) else a % b
        if op == "**":
            if is_int(a) and is_int(b):
                if b < 0:
                    raise Unsupported("Integer ** negative Integer (a Rational)")
                if abs(a) > 1 and b * max(abs(a).bit_length(), 1) > _MAX_POWER_BITS:
                    raise RubyError("ArgumentError", f"exponent {b} too big (Bunraku's limit)")
                return a ** b
            try:
                return float(a) ** float(b)
            except OverflowError:
                return float("inf")
            except ZeroDivisionError:
                return float("inf")
        raise AssertionError(op)

    return fn


def _float_div(a: float, b: float) -> float:
    if b == 0:
        if a == 0 or a != a:
            return float("nan")
        neg = (a < 0) != (math.copysign(1.0, b) < 0)
        return float("-inf") if neg else float("inf")
    return a / b


for _op in ("+", "-", "*", "/", "%", "**", "div", "modulo"):
    rmethod("Numeric", _op)(_arith(_op))


def _bitop(op: str) -> Method:
    def fn(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
        argc(args, 1)
        b = args[0]
        if not is_int(b):
            raise RubyError("TypeError", f"{class_name(b) if b is not None else 'nil'} can't be coerced into Integer")
        if op == "&":
            return recv & b
        if op == "|":
            return recv | b
        if op == "^":
            return recv ^ b
        if op == "<<":
            if b > _MAX_POWER_BITS:
                raise RubyError("ArgumentError", f"shift width {b} too big (Bunraku's limit)")
            return recv << b if b >= 0 else recv >> -b
        return recv >> b if b >= 0 else recv << -b

    return fn


for _op in ("&", "|", "^", "<<", ">>"):
    rmethod("Integer", _op)(_bitop(_op))


@rmethod("Numeric", "==", "===")
def _num_eq(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return equal(recv, args[0])


@rmethod("Numeric", "-@")
def _num_neg(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return -recv


@rmethod("Numeric", "+@")
def _num_pos(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv


@rmethod("Integer", "~")
def _int_invert(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return ~recv


@rmethod("Numeric", "abs", "magnitude")
def _num_abs(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return abs(recv)


@rmethod("Integer", "to_s", "inspect")
def _int_to_s(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    if args:
        base = args[0]
        if not is_int(base) or not 2 <= base <= 36:
            raise RubyError("ArgumentError", f"invalid radix {to_s(base)}")
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"
        n = abs(recv)
        out = ""
        while True:
            n, r = divmod(n, base)
            out = digits[r] + out
            if n == 0:
                break
        return ("-" if recv < 0 else "") + out
    return to_s(recv)


@rmethod("Float", "to_s", "inspect")
def _float_to_s(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return float_to_s(recv)


@rmethod("Integer", "to_i", "to_int", "floor", "ceil", "truncate", "ord")
def _int_to_i(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    if args and is_int(args[0]) and args[0] < 0:
        p = 10 ** -args[0]
        return (recv // p) * p
    return recv


@rmethod("Integer", "round")
def _int_round(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 1)
    if args and is_int(args[0]) and args[0] < 0:
        p = 10 ** -args[0]
        q, r = divmod(abs(recv), p)
        if r * 2 >= p:
            q += 1
        return q * p * (1 if recv >= 0 else -1)
    return recv


@rmethod("Numeric", "to_f")
def _num_to_f(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return float(recv)


def _float_int(v: float) -> int:
    if v != v or v in (float("inf"), float("-inf")):
        raise RubyError("FloatDomainError", float_to_s(v))
    return int(v)


@rmethod("Float", "to_i", "to_int", "truncate")
def _float_to_i(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return _float_int(recv)


def _round_half_away(x: float, digits: int) -> float:
    """Ruby rounds halves away from zero (2.5.round == 3), using the decimal the float prints as."""
    from decimal import ROUND_HALF_UP, Decimal

    q = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(x)).quantize(q, rounding=ROUND_HALF_UP))


@rmethod("Float", "round")
def _float_round(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 2)
    digits = args[0] if args and is_int(args[0]) else 0
    if recv != recv or recv in (float("inf"), float("-inf")):
        if digits > 0:
            return recv
        raise RubyError("FloatDomainError", float_to_s(recv))
    if digits > 0:
        return _round_half_away(recv, digits)
    r = _round_half_away(recv, 0)
    if digits < 0:
        p = 10 ** -digits
        return int(_round_half_away(recv / p, 0)) * p
    return int(r)


def _float_to_digits(recv: float, args: list[Any], rounding: Any) -> Any:
    """Float#floor / Float#ceil: to an Integer, or to ``args[0]`` decimal digits."""
    if args and is_int(args[0]) and args[0] > 0:
        p = 10.0 ** args[0]
        return rounding(recv * p) / p
    return rounding(recv) if recv == recv and abs(recv) != float("inf") else _float_int(recv)


@rmethod("Float", "floor")
def _float_floor(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return _float_to_digits(recv, args, math.floor)


@rmethod("Float", "ceil")
def _float_ceil(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return _float_to_digits(recv, args, math.ceil)


@rmethod("Float", "nan?")
def _float_nan(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv != recv


@rmethod("Float", "infinite?")
def _float_infinite(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    if recv in (float("inf"), float("-inf")):
        return 1 if recv > 0 else -1
    return None


@rmethod("Numeric", "finite?")
def _num_finite(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return not (isinstance(recv, float) and (recv != recv or recv in (float("inf"), float("-inf"))))


@rmethod("Integer", "chr")
def _int_chr(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    if not 0 <= recv < 0x110000:
        raise RubyError("RangeError", f"{recv} out of char range")
    return chr(recv)


@rmethod("Integer", "times")
def _int_times(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    if blk is None:
        from .methods_enum import REnumerator

        check_count(recv)
        return REnumerator(it, recv, "times", args)
    for i in range(recv):
        blk(i)
    return recv


@rmethod("Integer", "upto")
def _int_upto(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    if blk is None:
        raise Unsupported("'upto' without a block (an Enumerator)")
    for i in range(recv, _int_arg(args[0]) + 1):
        blk(i)
    return recv


@rmethod("Integer", "downto")
def _int_downto(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    if blk is None:
        raise Unsupported("'downto' without a block (an Enumerator)")
    for i in range(recv, _int_arg(args[0]) - 1, -1):
        blk(i)
    return recv


@rmethod("Numeric", "step")
def _num_step(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    limit = args[0]
    step = args[1] if len(args) > 1 else 1
    if blk is None:
        raise Unsupported("'step' without a block (an Enumerator)")
    if step == 0:
        raise RubyError("ArgumentError", "step can't be 0")
    x = recv
    while (step > 0 and x <= limit) or (step < 0 and x >= limit):
        blk(x)
        x += step
        it.tick()
    return recv


def _int_arg(v: Any) -> int:
    if is_int(v):
        return int(v)
    if isinstance(v, float):
        return _float_int(v)
    raise RubyError("TypeError", f"no implicit conversion of {class_name(v) if v is not None else 'nil'} into Integer")


@rmethod("Integer", "succ", "next")
def _int_succ(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv + 1


@rmethod("Integer", "pred")
def _int_pred(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv - 1


@rmethod("Integer", "even?")
def _int_even(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv % 2 == 0


@rmethod("Integer", "odd?")
def _int_odd(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv % 2 == 1


@rmethod("Numeric", "zero?")
def _num_zero(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv == 0


@rmethod("Numeric", "positive?")
def _num_positive(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv > 0


@rmethod("Numeric", "negative?")
def _num_negative(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv < 0


@rmethod("Numeric", "integer?")
def _num_integer(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return is_int(recv)


@rmethod("Numeric", "divmod")
def _num_divmod(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    b = _num_arg("divmod", recv, args[0])
    if b == 0 and is_int(recv) and is_int(b):
        raise RubyError("ZeroDivisionError", "divided by 0")
    q, r = divmod(recv, b)
    return [int(q) if isinstance(q, float) else q, r]


@rmethod("Numeric", "fdiv")
def _num_fdiv(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return _float_div(float(recv), float(_num_arg("fdiv", recv, args[0])))


@rmethod("Integer", "gcd")
def _int_gcd(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return math.gcd(recv, _int_arg(args[0]))


@rmethod("Integer", "lcm")
def _int_lcm(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    b = _int_arg(args[0])
    return abs(recv * b) // math.gcd(recv, b) if recv and b else 0


@rmethod("Integer", "digits")
def _int_digits(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    if recv < 0:
        raise RubyError("Math::DomainError", "out of domain")
    return [int(d) for d in reversed(str(recv))]


@rmethod("Integer", "bit_length")
def _int_bit_length(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv.bit_length() if recv >= 0 else (~recv).bit_length()


@rmethod("Numeric", "coerce")
def _num_coerce(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    raise Unsupported("method 'coerce'")


# -- Symbol -------------------------------------------------------------------------------------------
@rmethod("Symbol", "to_s", "id2name", "name")
def _sym_to_s(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return "default" if isinstance(recv, Default) else recv.name


@rmethod("Symbol", "to_sym")
def _sym_to_sym(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv


@rmethod("Symbol", "to_proc")
def _sym_to_proc(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return RMethodRef(_sym_name(recv))


def _sym_name(v: Any) -> str:
    return "default" if isinstance(v, Default) else str(v.name)


@rmethod("Symbol", "length", "size")
def _sym_length(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return len(_sym_name(recv))


@rmethod("Symbol", "<=>")
def _sym_cmp(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return compare(recv, args[0])


def _sym_via_string(name: str) -> Method:
    def fn(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
        result = it.send(_sym_name(recv), name, args, blk)
        return Symbol(result) if isinstance(result, str) and name in ("upcase", "downcase", "capitalize",
                                                                         "swapcase", "succ") else result

    return fn


for _name in ("upcase", "downcase", "capitalize", "swapcase", "succ", "start_with?", "end_with?", "empty?",
              "[]", "=~", "match", "match?", "encoding"):
    rmethod("Symbol", _name)(_sym_via_string(_name))


# -- Proc ---------------------------------------------------------------------------------------------
@rmethod("Proc", "call", "()", "yield", "[]", "===")
def _proc_call(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    b = it.to_block(recv, 0)
    assert b is not None
    from .interp import _Break, _Return

    try:
        return b(*args)
    except _Return as ret:
        if isinstance(recv, RProc) and recv.is_lambda:
            return ret.value
        raise
    except _Break as brk:
        if isinstance(recv, RProc) and recv.is_lambda:
            return brk.value
        raise


@rmethod("Proc", "to_proc")
def _proc_to_proc(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv


@rmethod("Proc", "lambda?")
def _proc_is_lambda(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return isinstance(recv, RProc) and recv.is_lambda


@rmethod("Proc", "arity")
def _proc_arity(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    b = it.to_block(recv, 0)
    assert b is not None
    return b.arity


# -- Regexp and MatchData ----------------------------------------------------------------------------
def regexp_of(v: Any) -> RRegexp:
    if isinstance(v, RRegexp):
        return v
    if isinstance(v, RegexValue):
        return as_regexp(v)
    raise RubyError("TypeError", f"wrong argument type {class_name(v)} (expected Regexp)")


def regex_match(it: Interp, rx: RRegexp, text: Any, pos: int = 0) -> RMatch | None:
    """Match and set ``$~`` as Ruby does."""
    if text is None:
        it.last_match = None
        return None
    if isinstance(text, Symbol):
        text = text.name
    if not isinstance(text, str):
        raise RubyError("TypeError", f"no implicit conversion of {class_name(text)} into String")
    m = rx.compiled.search(text, pos)
    it.last_match = RMatch(m) if m is not None else None
    return it.last_match


@rmethod("Regexp", "=~")
def _rx_match_op(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    m = regex_match(it, regexp_of(recv), args[0])
    return m.m.start() if m is not None else None


@rmethod("Regexp", "match")
def _rx_match(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    m = regex_match(it, regexp_of(recv), args[0], args[1] if len(args) > 1 else 0)
    if m is not None and blk is not None:
        return blk(m)
    return m


@rmethod("Regexp", "match?")
def _rx_match_p(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    if args[0] is None:
        return False
    return regexp_of(recv).compiled.search(to_s(args[0])) is not None


@rmethod("Regexp", "===")
def _rx_case_eq(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    if not isinstance(args[0], (str, Symbol)):
        return False
    return regex_match(it, regexp_of(recv), args[0]) is not None


@rmethod("Regexp", "source")
def _rx_source(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return regexp_of(recv).source


@rmethod("Regexp", "==", "eql?")
def _rx_eq(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return equal(recv, args[0])


@rmethod("Regexp", "names")
def _rx_names(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return list(regexp_of(recv).compiled.groupindex)


@rmethod("MatchData", "[]")
def _md_index(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    k = args[0]
    if isinstance(k, Symbol):
        k = k.name
    if isinstance(k, str):
        if k not in recv.m.re.groupindex:
            raise RubyError("IndexError", f"undefined group name reference: {k}")
        return recv.m.group(k)
    if is_int(k):
        n = recv.m.re.groups + 1
        if k < 0:
            k += n
        return recv.group(k) if 0 <= k < n else None
    from .methods_enum import array_slice

    return array_slice([recv.m.group(0), *recv.m.groups()], args)


@rmethod("MatchData", "captures")
def _md_captures(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return list(recv.m.groups())


@rmethod("MatchData", "named_captures")
def _md_named(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return dict(recv.m.groupdict())


@rmethod("MatchData", "to_a")
def _md_to_a(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return [recv.m.group(0), *recv.m.groups()]


@rmethod("MatchData", "pre_match")
def _md_pre(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv.m.string[:recv.m.start()]


@rmethod("MatchData", "post_match")
def _md_post(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv.m.string[recv.m.end():]


@rmethod("MatchData", "begin")
def _md_begin(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return recv.m.start(args[0])


@rmethod("MatchData", "end")
def _md_end(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return recv.m.end(args[0])


@rmethod("MatchData", "names")
def _md_names(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return list(recv.m.re.groupindex)


@rmethod("MatchData", "values_at")
def _md_values_at(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return [recv.group(i) for i in args]


# -- classes ------------------------------------------------------------------------------------------
@rmethod("Class", "name", "to_s", "inspect")
def _class_name(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv.name


@rmethod("Class", "===")
def _class_case_eq(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    from .interp import is_a

    argc(args, 1)
    return is_a(args[0], recv.name)


@rmethod("Class", "==")
def _class_eq(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return recv is args[0]


def class_method(it: Interp, cls: RClass, name: str, args: list[Any], blk: Blk | None) -> Any:
    """``Hash.new``, ``Array.new(3, 0)``, ``Regexp.escape(s)``, ``Math.sqrt(2)``, ``Puppet.version``..."""
    from .interp import ERROR_PARENTS, RException
    from .regex import escape

    c = cls.name
    if name == "new":
        if c == "Hash":
            if args or blk is not None:
                raise Unsupported("Hash.new with a default value or block")
            return {}
        if c == "Array":
            argc(args, 0, 2)
            if args and isinstance(args[0], list):
                return list(args[0])
            n = _int_arg(args[0]) if args else 0
            if n < 0:
                raise RubyError("ArgumentError", "negative array size")
            check_count(n)
            if blk is not None:
                return [blk(i) for i in range(n)]
            return [args[1] if len(args) > 1 else None] * n
        if c == "String":
            argc(args, 0, 1)
            return to_s(args[0]) if args else ""
        if c == "Regexp":
            argc(args, 1, 3)
            src = args[0]
            if isinstance(src, (RRegexp, RegexValue)):
                return regexp_of(src)
            flags = ""
            if len(args) > 1:
                opt = args[1]
                if is_int(opt):
                    flags = "".join(f for bit, f in ((1, "i"), (2, "x"), (4, "m")) if opt & bit)
                elif truthy(opt):
                    flags = "i"
            return RRegexp(to_s(src), flags)
        if c in ERROR_PARENTS:
            return RException(c, to_s(args[0]) if args else c)
    if c == "Regexp" and name in ("escape", "quote"):
        argc(args, 1)
        return escape(args[0].name if isinstance(args[0], Symbol) else to_s(args[0]))
    if c == "Regexp" and name == "union":
        parts = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        return RRegexp("|".join(regexp_of(p).source if isinstance(p, (RRegexp, RegexValue)) else escape(to_s(p))
                                for p in parts))
    if c == "Integer" and name == "sqrt":
        argc(args, 1)
        return math.isqrt(_int_arg(args[0]))
    if c == "Math" and name in ("sqrt", "log", "log2", "log10", "floor", "ceil", "sin", "cos", "exp"):
        x = float(_num_arg(name, 0.0, args[0]))
        if name == "log" and len(args) > 1:
            return math.log(x, float(args[1]))
        try:
            return getattr(math, name)(x)
        except ValueError:
            raise RubyError("Math::DomainError", f'Numerical argument is out of domain - "{name}"') from None
    if c == "Array" and name == "[]":
        return list(args)
    if c == "Hash" and name == "[]":
        if len(args) == 1 and isinstance(args[0], dict):
            return dict(args[0])
        if len(args) == 1 and isinstance(args[0], list):
            return {p[0]: (p[1] if len(p) > 1 else None) for p in args[0] if isinstance(p, list)}
        return {args[i]: args[i + 1] for i in range(0, len(args) - 1, 2)}
    if c == "IPAddr" and name == "new":
        argc(args, 0, 2)
        return RIPAddr.parse(to_s(args[0]) if args else "::")
    if c == "Puppet" and name == "version":
        return "7.23.0"
    if name in ("name", "to_s", "inspect"):
        return c
    raise no_method(cls, name) if c != "Puppet" else Unsupported(f"method 'Puppet.{name}'")


# -- IPAddr (require 'ipaddr') -------------------------------------------------------------------------
class RIPAddr:
    """Ruby's IPAddr: an address with its prefix (``IPAddr.new('192.0.2.0/24')``)."""

    ruby_class = "IPAddr"

    def __init__(self, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
        self.network = network

    @classmethod
    def parse(cls, text: str) -> RIPAddr:
        spec = text[1:-1] if text.startswith("[") and text.endswith("]") else text
        try:
            return cls(ipaddress.ip_network(spec, strict=False))
        except ValueError:
            raise RubyError("IPAddr::InvalidAddressError", f"invalid address: {text}") from None

    def ruby_to_s(self) -> str:
        return str(self.network.network_address)


def _ip_other(v: Any) -> RIPAddr:
    return v if isinstance(v, RIPAddr) else RIPAddr.parse(to_s(v))


@rmethod("IPAddr", "to_s", "to_string")
def _ip_to_s(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv.ruby_to_s()


@rmethod("IPAddr", "ipv4?")
def _ip_v4(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv.network.version == 4


@rmethod("IPAddr", "ipv6?")
def _ip_v6(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv.network.version == 6


@rmethod("IPAddr", "include?", "===")
def _ip_include(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    other = _ip_other(args[0]).network
    return other.version == recv.network.version and other.subnet_of(recv.network)  # type: ignore[arg-type]


@rmethod("IPAddr", "prefix")
def _ip_prefix(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv.network.prefixlen


@rmethod("IPAddr", "to_i")
def _ip_to_i(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return int(recv.network.network_address)


@rmethod("IPAddr", "mask")
def _ip_mask(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return RIPAddr(recv.network.supernet(new_prefix=_int_arg(args[0])))


@rmethod("IPAddr", "==")
def _ip_eq(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    try:
        return recv.network == _ip_other(args[0]).network
    except RubyError:
        return False


# -- Kernel's functions ----------------------------------------------------------------------------
def kernel_integer(v: Any, base: int | None = None) -> Any:
    if is_int(v):
        return v
    if isinstance(v, float):
        return _float_int(v)
    if isinstance(v, str):
        text = v.strip().replace("_", "") if "__" not in v else v
        m = re.fullmatch(r"([+-]?)(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO]?[0-7]+|[0-9]+)", text)
        if m is None or (base is None and re.fullmatch(r"[+-]?0\d*[89]\d*", text)):
            raise RubyError("ArgumentError", f"invalid value for Integer(): {inspect(v)}")
        sign = -1 if m.group(1) == "-" else 1
        body = m.group(2)
        if base is not None:
            return sign * int(body, base)
        low = body.lower()
        if low.startswith("0x"):
            return sign * int(body[2:], 16)
        if low.startswith("0b"):
            return sign * int(body[2:], 2)
        if low.startswith("0o"):
            return sign * int(body[2:], 8)
        if len(body) > 1 and body.startswith("0"):
            return sign * int(body, 8)
        return sign * int(body)
    if v is None:
        raise RubyError("TypeError", "can't convert nil into Integer")
    raise RubyError("TypeError", f"can't convert {class_name(v)} into Integer")


def kernel_float(v: Any) -> Any:
    if is_num(v):
        return float(v)
    if isinstance(v, str):
        text = v.strip()
        if re.fullmatch(r"[+-]?(\d[\d_]*)?(\.\d[\d_]*)?([eE][+-]?\d+)?", text) and re.search(r"\d", text) \
                and not text.endswith("_"):
            return float(text.replace("_", ""))
        if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", text):
            return float(int(text, 16))
        raise RubyError("ArgumentError", f"invalid value for Float(): {inspect(v)}")
    if v is None:
        raise RubyError("TypeError", "can't convert nil into Float")
    raise RubyError("TypeError", f"can't convert {class_name(v)} into Float")


def _k_array(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return it.splat_values(args[0])  # Kernel#Array converts as a splat does


def _k_integer(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    base = args[1] if len(args) > 1 and is_int(args[1]) else None
    return kernel_integer(args[0], base)


def _k_float(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return kernel_float(args[0])


def _k_string(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return it.to_s(args[0])


def _k_hash(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    v = args[0]
    if v is None or v == []:
        return {}
    if isinstance(v, dict):
        return v
    raise RubyError("TypeError", f"can't convert {class_name(v)} into Hash")


def _k_format(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, None)
    return fmt.ruby_format(to_s(args[0]), args[1:])


def _k_raise(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    from .interp import ERROR_PARENTS, RException

    argc(args, 0, 2)
    if not args:
        raise RubyError("RuntimeError", "unhandled exception")
    first = args[0]
    if isinstance(first, str):
        raise RubyError("RuntimeError", first)
    if isinstance(first, RException):
        raise RubyError(first.cls, to_s(args[1]) if len(args) > 1 else first.message)
    if isinstance(first, RClass):
        if first.name not in ERROR_PARENTS:
            raise RubyError("TypeError", "exception class/object expected")
        raise RubyError(first.name, to_s(args[1]) if len(args) > 1 else first.name)
    raise RubyError("TypeError", "exception class/object expected")


def _k_require(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return False  # already loaded, as far as the template can tell


def _k_output(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    # puts/print write to the Puppet master's standard output, never into the template
    return None


def _k_p(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return args[0] if len(args) == 1 else (args or None)


def _k_lambda(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    if blk is None or blk.block is None:
        raise RubyError("ArgumentError", "tried to create Proc object without a block")
    return RProc(blk.block, blk.env, is_lambda=True)


def _k_proc(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    if blk is None or blk.block is None:
        raise RubyError("ArgumentError", "tried to create Proc object without a block")
    return RProc(blk.block, blk.env, is_lambda=False)


def _k_loop(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    from .interp import _Break

    if blk is None:
        raise Unsupported("'loop' without a block (an Enumerator)")
    try:
        while True:
            blk()
    except _Break as brk:
        return brk.value
    except RubyError as exc:
        if exc.cls == "StopIteration":
            return None
        raise


def _k_block_given(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return False


def _k_file(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return it.host.file or "(erb)"


def _k_binding(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    raise Unsupported("method 'binding'")


KERNEL_FUNCTIONS: dict[str, Method] = {
    "Array": _k_array, "Integer": _k_integer, "Float": _k_float, "String": _k_string, "Hash": _k_hash,
    "format": _k_format, "sprintf": _k_format, "raise": _k_raise, "fail": _k_raise, "require": _k_require,
    "require_relative": _k_require, "puts": _k_output, "print": _k_output, "warn": _k_output, "p": _k_p,
    "pp": _k_p, "lambda": _k_lambda, "proc": _k_proc, "loop": _k_loop, "block_given?": _k_block_given,
    "__FILE__": _k_file, "binding": _k_binding,
}


# -- Puppet's template object and scope ---------------------------------------------------------------
@rmethod("Puppet::Parser::TemplateWrapper", "scope")
def _tpl_scope(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return it.scope_obj


@rmethod("Puppet::Parser::TemplateWrapper", "file")
def _tpl_file(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return it.host.file


@rmethod("Puppet::Parser::TemplateWrapper", "has_variable?")
def _tpl_has_variable(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    found, value = it.host.variable(to_s(args[0]))
    return found and value is not None


@rmethod("Puppet::Parser::TemplateWrapper", "classes")
def _tpl_classes(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return it.host.classes()


@rmethod("Puppet::Parser::TemplateWrapper", "all_tags")
def _tpl_all_tags(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0)
    return it.host.tags()


@rmethod("Puppet::Parser::TemplateWrapper", "tags")
def _tpl_tags(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    raise RubyError("NotImplementedError", "Call 'all_tags' instead.")


def _var_name(v: Any) -> str:
    if isinstance(v, str):
        return v
    raise RubyError("Puppet::ParseError", f"Scope variable name {inspect(v)} is a {class_name(v)}, not a string")


@rmethod("Puppet::Parser::Scope", "[]", "lookupvar")
def _scope_lookup(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    return it.host.lookupvar(_var_name(args[0]))


@rmethod("Puppet::Parser::Scope", "include?", "exist?", "bound?")
def _scope_include(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1)
    return it.host.lookupvar(_var_name(args[0])) is not None


@rmethod("Puppet::Parser::Scope", "setvar", "[]=")
def _scope_setvar(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 2, 3)
    it.host.setvar(_var_name(args[0]), to_puppet(args[1]))
    return args[1]


@rmethod("Puppet::Parser::Scope", "to_hash")
def _scope_to_hash(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 0, 2)
    return it.host.all_variables()


@rmethod("Puppet::Parser::Scope", "call_function")
def _scope_call_function(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    argc(args, 1, 2)
    name = to_s(args[0])
    fargs = args[1] if len(args) > 1 else []
    if not isinstance(fargs, list):
        raise RubyError("ArgumentError", f"the arguments of call_function('{name}') must be an Array")
    return it.host.call_function(name, [to_puppet(a) for a in fargs], blk)


def scope_function(it: Interp, name: str, args: list[Any]) -> Any:
    """``scope.function_NAME([args])``: Puppet's 3.x function API takes exactly one Array."""
    if len(args) != 1 or not isinstance(args[0], list):
        raise RubyError("ArgumentError", "custom functions must be called with a single array that contains the "
                                         "arguments. For example, function_example([1]) instead of "
                                         "function_example(1)")
    return it.host.call_function(name, [to_puppet(a) for a in args[0]], None)


# -- exceptions (rescue => e) -----------------------------------------------------------------------------
@rmethod("Exception", "message", "to_s", "full_message")
def _exc_message(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv.message


@rmethod("Exception", "inspect")
def _exc_inspect(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return f"#<{recv.cls}: {recv.message}>"


@rmethod("Exception", "backtrace")
def _exc_backtrace(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return []


# -- Sensitive ------------------------------------------------------------------------------------------
@rmethod("Puppet::Pops::Types::PSensitiveType::Sensitive", "unwrap")
def _sensitive_unwrap(it: Interp, recv: Any, args: list[Any], blk: Blk | None) -> Any:
    return recv.value


def to_puppet(v: Any) -> Any:
    """A Ruby value handed to Puppet (a function argument, ``setvar``): symbols become strings,
    ``:default`` Puppet's default, Ruby regexes Puppet's."""
    if isinstance(v, Symbol):
        return DEFAULT if v.name == "default" else v.name
    if isinstance(v, list):
        return [to_puppet(x) for x in v]
    if isinstance(v, dict):
        if any(isinstance(k, Symbol) or isinstance(x, (Symbol, list, dict, RRegexp)) for k, x in v.items()):
            return {to_puppet(k): to_puppet(x) for k, x in v.items()}
        return v
    if isinstance(v, RRegexp):
        if v.flags:
            raise Unsupported("a Regexp with options passed to Puppet")
        return RegexValue(v.source)
    if isinstance(v, (RRange, RProc, RMatch)):
        raise Unsupported(f"a {class_name(v)} passed to Puppet")
    return v


__all__ = ["KERNEL_FUNCTIONS", "METHODS", "class_method", "scope_function", "to_puppet", "kernel_integer",
           "kernel_float", "MAX_ELEMENTS", "Sensitive"]

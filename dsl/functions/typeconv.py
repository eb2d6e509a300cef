"""Types and conversions: ``type``, ``assert_type``, ``new``, ``convert_to``, ``is_a``, ``unwrap``, and
stdlib's conversions between booleans, numbers and strings."""

from __future__ import annotations

import re
from typing import Any

from .. import types as T
from ..errors import DslTypeError
from ..values import Sensitive
from .contract import Call, function, mismatch_message
from .numbers import parse_number
from .ruby import ruby_to_s


@function("type", "Any $value, Enum[detailed] $inference_method?", "Any $value, Enum[reduced] $inference_method",
          "Any $value, Enum[generalized] $inference_method")
def type_(call: Call, v: Any, mode: str = "detailed") -> T.PType:
    t = T.type_of(v)
    return T.generalize(t) if mode == "generalized" else t


@function("type_of", "Any $value")
def type_of(call: Call, v: Any) -> T.PType:
    return T.type_of(v)


def _named_type(call: Call, t: Any) -> T.PType:
    if isinstance(t, str):
        from ..errors import DslSyntaxError
        from ..parser import parse_string

        try:
            program = parse_string(t, "<type>")
        except DslSyntaxError as exc:
            call.type_error(f"'{t}' is not a type: {exc.message}")
        stmts = program.body.statements
        value = call.ev.eval(stmts[0]) if len(stmts) == 1 else None
        if not isinstance(value, T.PType):
            call.type_error(f"'{t}' is not a type")
        return value
    return t  # type: ignore[no-any-return]


@function("assert_type", "Type $type, Any $value, Callable[2, 2] &$block?",
          "String $type_string, Any $value, Callable[2, 2] &$block?")
def assert_type(call: Call, t: Any, v: Any) -> Any:
    t = _named_type(call, t)
    if t.instance(v):
        return v
    if call.block is not None:
        return call.block(t, T.type_of(v))
    call.fail(mismatch_message(t, v), DslTypeError)


@function("is_a", "Any $value, Type $type")
def is_a(call: Call, v: Any, t: T.PType) -> bool:
    return t.instance(v)


@function("new", "Type $type, Any *$args, Callable &$block?")
def new(call: Call, t: T.PType, *args: Any) -> Any:
    from ..conversions import new_value

    result = new_value(call.ev, t, list(args), call.node)
    return call.block(result) if call.block is not None else result


@function("convert_to", "Any $value, Type $type, Any *$args, Callable[1, 1] &$block?")
def convert_to(call: Call, v: Any, t: T.PType, *args: Any) -> Any:
    from ..conversions import new_value

    result = new_value(call.ev, t, [v, *args], call.node)
    return call.block(result) if call.block is not None else result


@function("unwrap", "Sensitive $arg, Callable &$block?", "Any $arg, Callable &$block?")
def unwrap(call: Call, v: Any) -> Any:
    value = v.value if isinstance(v, Sensitive) else v
    return call.block(value) if call.block is not None else value


@function("sensitive", "Any $value")
def sensitive(call: Call, v: Any) -> Sensitive:
    return v if isinstance(v, Sensitive) else Sensitive(v)


# -- stdlib's booleans -----------------------------------------------------------------------------------------
_TRUE = re.compile(r"\A(1|t|y|true|yes)\Z", re.I)
_FALSE = re.compile(r"\A(0|f|n|false|no)\Z", re.I)


@function("str2bool", "Variant[String, Boolean] $value", legacy=True)
def str2bool(call: Call, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if v == "" or _FALSE.match(v) or v in ("undef", "undefined"):
        return False
    if _TRUE.match(v):
        return True
    call.fail("Unknown type of boolean given")


@function("bool2str", "Boolean $value", "Boolean $value, String $true_value, String $false_value", legacy=True)
def bool2str(call: Call, v: bool, true_value: str = "true", false_value: str = "false") -> str:
    return true_value if v else false_value


@function("num2bool", "Any $value", legacy=True)
def num2bool(call: Call, v: Any) -> bool:
    from .collection import ruby_to_i
    from .numbers import ruby_float

    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return int(v) > 0
    if isinstance(v, str):
        n = ruby_float(v)
        if n is None:
            call.fail(f"'{v}' does not look like a number")
        return int(n) > 0
    return ruby_to_i(ruby_to_s(v)) > 0


@function("bool2num", "Variant[String, Boolean] $value", legacy=True)
def bool2num(call: Call, v: Any) -> int:
    return 1 if str2bool(call, v) else 0


@function("any2bool", "Any $value", legacy=True)
def any2bool(call: Call, v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if v is None:
        return False
    if isinstance(v, (int, float)):
        return int(v) > 0
    if isinstance(v, str):
        if parse_number(v) is not None:
            return int(float(parse_number(v) or 0)) > 0
        return str2bool(call, v)
    return True


@function("type3x", "Any $value", legacy=True)
def type3x(call: Call, v: Any) -> str:
    call.warn("type3x() DEPRECATED: this function is deprecated and will be removed; use type() instead")
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "float"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "hash"
    if isinstance(v, str):
        if re.fullmatch(r"-?\d+", v):
            return "integer"
        if re.fullmatch(r"-?\d+\.\d+", v):
            return "float"
        if v.lower() in ("true", "false"):
            return "boolean"
        return "string"
    call.type_error(f"unknown type {T.generalized_name(v)}")

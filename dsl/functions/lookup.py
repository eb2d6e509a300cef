"""Data lookup and variables: ``lookup``, the ``hiera*`` functions, ``getvar`` and stdlib's ``fact``,
``getvar_emptystring`` and ``is_function_available``."""

from __future__ import annotations

import re
from typing import Any

from .. import types as T
from ..errors import DslTypeError
from ..valuerules import hashable
from .common import fact as fact_at
from .common import facts
from .contract import Call, function, mismatch_message

_NAME = "Variant[String, Array[String]] $name"
_MERGE = "Variant[String[1], Hash[String, Scalar]]"
_OPTIONS = "Hash[String, Any] $options_hash"


def _options(call: Call, opts: dict[str, Any], with_name: bool) -> dict[str, Any]:
    allowed = {"value_type", "default_value", "override", "default_values_hash", "merge"} | ({"name"} if with_name else set())
    for k in opts:
        if k not in allowed:
            call.type_error(f"parameter 'options_hash' has no entry '{k}'")
    if with_name and "name" not in opts:
        call.type_error("parameter 'options_hash' expects a value for key 'name'")
    return opts


@function("lookup",
          f"{_NAME}, Type $value_type?, {_MERGE} $merge?",
          f"{_NAME}, Optional[Type] $value_type, Optional[{_MERGE}] $merge, Any $default_value",
          f"{_NAME}, Type $value_type?, {_MERGE} $merge?, Callable[1, 1] &$block",
          f"{_OPTIONS}, Callable[1, 1] &$block?",
          f"{_NAME}, {_OPTIONS}, Callable[1, 1] &$block?")
def lookup(call: Call, *args: Any) -> Any:
    value_type: T.PType = T.ANY
    merge: Any = None
    has_default = False
    default: Any = None
    override: dict[str, Any] = {}
    defaults_hash: dict[str, Any] = {}
    if call.dispatch in (3, 4):
        opts = _options(call, args[-1], call.dispatch == 3)
        names = opts["name"] if call.dispatch == 3 else args[0]
        value_type = opts.get("value_type") or T.ANY
        merge = opts.get("merge")
        if "default_value" in opts:
            has_default, default = True, opts["default_value"]
        override = opts.get("override") or {}
        defaults_hash = opts.get("default_values_hash") or {}
    else:
        names = args[0]
        if len(args) > 1 and args[1] is not None:
            value_type = args[1]
        if len(args) > 2:
            merge = args[2]
        if call.dispatch == 1:
            has_default, default = True, args[3]
    if not isinstance(value_type, T.PType):
        call.type_error(f"the value_type must be a Type, got {T.generalized_name(value_type)}")
    if isinstance(merge, str) and merge not in ("first", "unique", "hash", "deep"):
        call.fail(f"unknown merge strategy '{merge}'")
    keys = names if isinstance(names, list) else [names]
    if not keys or not all(isinstance(k, str) for k in keys):
        call.type_error("expects a key name (a String) or an Array of names")
    hiera = call.ev.hiera()
    for name in keys:
        if name in override:
            return _typed(call, name, override[name], value_type)
        if hiera is not None:
            found, value = hiera.lookup(name, call.ev.hiera_scope_lookup, merge)
            if found:
                return _typed(call, name, value, value_type)
        if name in defaults_hash:
            return _typed(call, name, defaults_hash[name], value_type)
    if call.block is not None:
        return _typed(call, keys[0], call.block(names), value_type)
    if has_default:
        return _typed(call, keys[0], default, value_type)
    call.fail(f"did not find a value for the name '{', '.join(keys)}'; add it to the Hiera data or give a default")


def _typed(call: Call, name: str, value: Any, t: T.PType) -> Any:
    if not t.instance(value):
        call.fail(f"the value found for '{name}' {mismatch_message(t, value)}", DslTypeError)
    return value


def _hiera(call: Call, key: str, default: Any, merge: str | None, has_default: bool) -> Any:
    hiera = call.ev.hiera()
    if hiera is not None:
        found, value = hiera.lookup(key, call.ev.hiera_scope_lookup, merge)
        if found:
            return value
    if call.block is not None:
        return call.block(key)
    if has_default:
        return default
    call.fail(f"did not find a value for the name '{key}'; add it to the Hiera data or give a default")


_HIERA = ("String $key, Any $default?, Any $override?", "String $key, Any $default?, Any $override?, Callable[1, 1] &$block")


@function("hiera", *_HIERA)
def hiera(call: Call, key: str, *rest: Any) -> Any:
    return _hiera(call, key, rest[0] if rest else None, None, bool(rest))


@function("hiera_array", *_HIERA)
def hiera_array(call: Call, key: str, *rest: Any) -> Any:
    value = _hiera(call, key, rest[0] if rest else None, "unique", bool(rest))
    return value if isinstance(value, list) or value is None else [value]


@function("hiera_hash", *_HIERA)
def hiera_hash(call: Call, key: str, *rest: Any) -> Any:
    value = _hiera(call, key, rest[0] if rest else None, "hash", bool(rest))
    if not isinstance(value, dict) and value is not None:
        call.type_error(f"the value found for '{key}' expects a Hash value, got {T.generalized_name(value)}")
    return value


@function("hiera_include", *_HIERA)
def hiera_include(call: Call, key: str, *rest: Any) -> None:
    classes = _hiera(call, key, rest[0] if rest else None, "unique", bool(rest))
    names = classes if isinstance(classes, list) else ([] if classes is None else [classes])
    if names:
        call.call_function("include", *names)


# -- variables --------------------------------------------------------------------------------------------
_VARIABLE = re.compile(r"\A(?:::)?(?:[a-z]\w*::)*[a-z_]\w*")


@function("getvar", "String $variable, Any $default_value?, Callable[1, 1] &$block?")
def getvar(call: Call, text: str, *default: Any) -> Any:
    m = _VARIABLE.match(text)
    if m is None or (m.end() < len(text) and text[m.end()] != "."):
        call.fail("The given string does not start with a valid variable name")
    found, value = call.ev.lookup_var(m.group(0), call.node)
    if not found:
        return default[0] if default else None
    rest = text[m.end() + 1:]
    if rest:
        value = call.call_function("get", value, rest, *default, block=call.block)
    return default[0] if value is None and default else value


@function("getvar_emptystring", "String $variable", legacy=True)
def getvar_emptystring(call: Call, name: str) -> Any:
    if not _VARIABLE.fullmatch(name) and not name.isdigit():
        return ""
    found, value = call.ev.lookup_var(name, call.node)
    return "" if not found or value is None else value


@function("fact", "String $fact_name")
def fact(call: Call, name: str) -> Any:
    value: Any = facts(call)
    for part in re.findall(r'"[^"]*"|[^.]+', name):
        key = part.strip('"')
        if isinstance(value, dict):
            value = value.get(hashable(key))
        elif isinstance(value, list) and re.fullmatch(r"\d+", key):
            i = int(key)
            value = value[i] if i < len(value) else None
        else:
            return None
        if value is None:
            return None
    return value


@function("is_function_available", "String $function_name", legacy=True)
def is_function_available(call: Call, name: str) -> bool:
    ev = call.ev
    if name in ev.functions:
        return True
    finder = getattr(ev, "find_function", None)
    if finder is not None and finder(name, call.node) is not None:
        return True
    return ev.load_function(name, call.node) is not None


# -- Hiera's data providers: named in hiera.yaml, not called from manifests ----------------------------
def _provider(name: str) -> None:
    def provider(call: Call, options: dict[str, Any], context: Any) -> None:
        call.fail(f"is a Hiera backend; name it in hiera.yaml (data_hash: {name}) rather than calling it")

    provider.__name__ = name
    function(name, "Hash $options, Any $context")(provider)


for _backend in ("yaml_data", "json_data", "hocon_data"):
    _provider(_backend)


@function("eyaml_lookup_key", "String[1] $key, Hash[String[1], Any] $options, Any $context")
def eyaml_lookup_key(call: Call, key: str, options: dict[str, Any], context: Any) -> None:
    call.fail("is a Hiera backend; name it in hiera.yaml (lookup_key: eyaml_lookup_key) rather than calling it")


@function("os_version_gte", "String[1] $os, String[1] $version")
def os_version_gte(call: Call, os_name: str, version: str) -> bool:
    from .numbers import version_compare

    found, operatingsystem = call.ev.lookup_var("::operatingsystem")
    os_fact = operatingsystem if found and operatingsystem is not None else fact_at(call, "os.name")
    found, major = call.ev.lookup_var("::operatingsystemmajrelease")
    major_fact = major if found and major is not None else fact_at(call, "os.release.major")
    if os_fact != os_name or major_fact is None:
        return False
    return version_compare(str(major_fact), version) >= 0

"""``Deferred`` values: their catalog form, and the functions an agent calls to resolve them.

The compiler writes ``Deferred('fn', [args])`` into the catalog as Puppet's rich data does,
``{"__ptype": "Deferred", "name": "fn", "arguments": [...]}``, its arguments as rich data too (a
``Sensitive`` as ``{"__ptype": "Sensitive", "__pvalue": ...}``, a nested Deferred in the same form).

Where the catalog is applied the engine (:mod:`engine.deferred`) resolves it through
:func:`call_deferred`: the function is called in a scope of its own that knows ``$facts`` (the agent's
facts; ``Deferred('$facts', [keys...])`` digs into them), with the built-in functions that need no
compilation: strings, collections, numbers, types and conversions, encodings, iteration,
``inline_epp`` and ``inline_template``, ``fact``, ``getvar`` and ``fail``. Functions that need the
compiler, Hiera or the environment's modules (``include``, ``lookup``, ``epp``, ``template``,
``file`` ...) are not known there, as they are not on a Puppet agent without its server.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, cast

from engine.catalog import deferred_data

from . import ast
from . import types as T
from .errors import DslError, Span
from .evaluator import DeferredValue, Evaluator, FunctionImpl
from .valuerules import to_data
from .values import DEFAULT, Default, RegexValue, Sensitive

#: families whose functions declare resources, read Hiera or the compiler's state
_COMPILE_ONLY_FAMILIES = ("dsl.functions.catalog", "dsl.functions.lookup")
#: functions of other families that read the environment's modules or the master's files
_COMPILE_ONLY = frozenset({
    "epp", "template", "file", "binary_file", "find_file", "find_template", "module_directory",
    "get_module_path", "load_module_metadata", "loadyaml", "loadjson", "glob",
})
#: functions of those families that make sense without a compilation
_AGENT_TOO = frozenset({"fail", "fact", "getvar", "deprecation"})

_SPAN = Span("<deferred>", 1, 1, 1, 1)


class _At(ast.Node):
    __slots__ = ()


# -- the catalog form -----------------------------------------------------------------------------------
def catalog_form(value: DeferredValue) -> dict[str, Any]:
    """A Deferred as the catalog carries it (Puppet's rich data)."""
    args = None if value.arguments is None else [_rich(a) for a in value.arguments]
    return deferred_data(value.name, args)


def _rich(v: Any) -> Any:
    if isinstance(v, Sensitive):
        return {"__ptype": "Sensitive", "__pvalue": _rich(v.value)}
    if isinstance(v, DeferredValue):
        return catalog_form(v)
    if isinstance(v, list):
        return [_rich(x) for x in v]
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        return {k: _rich(x) for k, x in v.items()}
    if isinstance(v, RegexValue):
        return {"__ptype": "Regexp", "__pvalue": v.pattern}
    if isinstance(v, Default):
        return {"__ptype": "Default"}
    if isinstance(v, T.PType):
        return {"__ptype": "Type", "__pvalue": str(v)}
    return to_data(v)


def _from_rich(v: Any) -> Any:
    if type(v) is list:
        return [_from_rich(x) for x in v]
    if type(v) is not dict:
        return v
    ptype = v.get("__ptype")
    if ptype == "Sensitive":
        return Sensitive(_from_rich(v.get("__pvalue")))
    if ptype == "Default":
        return DEFAULT
    if ptype == "Regexp" and isinstance(v.get("__pvalue"), str):
        return RegexValue(v["__pvalue"])
    if ptype == "Type" and isinstance(v.get("__pvalue"), str):
        from .functions.contract import resolve_type

        try:
            return resolve_type(v["__pvalue"])
        except (ValueError, DslError):
            raise ValueError(f"unknown type '{v['__pvalue']}' on the agent") from None
    return {k: _from_rich(x) for k, x in v.items()}


def _holds_sensitive(v: Any) -> bool:
    if isinstance(v, Sensitive):
        return True
    if isinstance(v, list):
        return any(_holds_sensitive(x) for x in v)
    if isinstance(v, dict):
        return any(_holds_sensitive(x) for x in v.values())
    return False


# -- calling on the agent ---------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def agent_functions() -> dict[str, FunctionImpl]:
    """The built-in functions a Deferred may name where the catalog is applied."""
    from .functions import FUNCTIONS

    out: dict[str, FunctionImpl] = {}
    for name, fn in FUNCTIONS.items():
        family = getattr(fn.impl, "__module__", "")
        if name in _AGENT_TOO or (name not in _COMPILE_ONLY and family not in _COMPILE_ONLY_FAMILIES):
            out[name] = cast(FunctionImpl, fn)
    return out


class _AgentEvaluator(Evaluator):
    def unknown_function_message(self, name: str) -> str:
        return f"unknown function '{name}' on the agent"


def call_deferred(name: str, args: list[Any], facts: Mapping[str, Any]) -> tuple[Any, bool]:
    """Call function ``name`` (or dig into ``$name``) with ``args`` (catalog data) in a scope that knows
    ``$facts``: the result as catalog data with every Sensitive unwrapped, and whether there was one.
    Raises ``ValueError`` with a one-line message when the call fails (an engine
    :data:`engine.deferred.FunctionCaller`)."""
    ev = _AgentEvaluator(agent_functions())
    ev.top.vars["facts"] = dict(facts)
    values = [_from_rich(a) for a in args]
    at = _At(_SPAN)
    try:
        if name.startswith("$"):
            var = name[1:]
            if var not in ev.top.vars:
                raise ValueError(f"unknown variable '${var}' (an agent knows $facts)")
            result = ev.call_function("dig", [ev.top.vars[var], *values], None, at)
        else:
            result = ev.call_function(name, values, None, at)
    except DslError as exc:
        raise ValueError(exc.message) from None
    except RecursionError:
        raise ValueError(f"{name}(): nesting too deep") from None
    return to_data(result), _holds_sensitive(result)

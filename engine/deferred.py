"""Deferred values resolved where the catalog is applied.

A catalog parameter may hold ``Deferred('fn', [args])`` (:data:`engine.catalog.DEFERRED_PTYPE`): a
function call the agent makes just before it applies the resource, as a Puppet agent does. The
transaction resolves each resource's parameters here, once, when it turns the catalog into resources
(:meth:`engine.apply.Transaction._prepare`):

- a Deferred directly in a parameter, or nested in arrays, hashes and ``Sensitive`` wrappers at any
  depth, is replaced by what its function returns; its arguments are resolved first, so a Deferred
  argument is called before the function that takes it;
- a name ``$var`` digs into an agent variable (``Deferred('$facts', ['os', 'family'])``);
- a result that is (or holds) a ``Sensitive``, or a ``Sensitive`` given to a function, makes the
  parameter sensitive: the value is applied, the report and the logs show ``[redacted]``;
- a function that is unknown or fails fails that resource alone (its dependents are skipped, the
  rest converges), with one line naming the function.

The engine knows no functions: the caller gives a :data:`FunctionCaller` (the composition root passes
the language's, ``dsl.deferred.call_deferred``). Without one, a resource with a Deferred fails.
The catalog itself is left as compiled: caches, stores and diffs keep the Deferred unresolved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.catalog import DEFERRED_PTYPE, has_deferred

#: ``call(name, arguments, facts) -> (value, sensitive)``: calls function ``name`` (or digs into the
#: variable ``$name``) with arguments that are catalog data (a ``Sensitive`` as its rich-data
#: wrapper); returns catalog data with every ``Sensitive`` unwrapped and whether there was one.
#: Raises any exception, with a one-line message, when the call fails.
FunctionCaller = Callable[[str, list[Any], Mapping[str, Any]], tuple[Any, bool]]


class DeferredError(Exception):
    """A Deferred value of a resource could not be resolved (one line, naming the function)."""


def resolve_parameters(params: dict[str, Any], call: FunctionCaller | None,
                       facts: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """``params`` with every Deferred resolved, and the names of the parameters that became sensitive.
    Parameters without a Deferred are passed through as they are."""
    if not any(has_deferred(v) for v in params.values()):
        return params, set()
    out: dict[str, Any] = {}
    sensitive: set[str] = set()
    for key, value in params.items():
        if not has_deferred(value):
            out[key] = value
            continue
        resolver = _Resolver(call, facts)
        out[key] = resolver.resolve(value)
        if resolver.secret:
            sensitive.add(key)
    return out, sensitive


class _Resolver:
    """Resolves one parameter value; ``depth`` counts the Deferred calls whose arguments are being
    resolved (inside them a ``Sensitive`` stays wrapped, so the function is given a Sensitive)."""

    __slots__ = ("call", "facts", "secret", "depth")

    def __init__(self, call: FunctionCaller | None, facts: Mapping[str, Any]) -> None:
        self.call = call
        self.facts = facts
        self.secret = False
        self.depth = 0

    def resolve(self, value: Any) -> Any:
        if type(value) is list:
            return [self.resolve(v) for v in value]
        if type(value) is not dict:
            return value
        ptype = value.get("__ptype")
        if ptype == DEFERRED_PTYPE:
            return self._call(value)
        if ptype == "Sensitive":
            # a secret given to a function may be in what it returns: the parameter is sensitive
            self.secret = True
            inner = self.resolve(value.get("__pvalue"))
            return {"__ptype": "Sensitive", "__pvalue": inner} if self.depth else inner
        return {k: self.resolve(v) for k, v in value.items()}

    def _call(self, deferred: dict[str, Any]) -> Any:
        name = str(deferred.get("name"))
        arguments = deferred.get("arguments")
        if arguments is not None and not isinstance(arguments, list):
            raise DeferredError(f"the arguments of Deferred function '{name}' must be a list")
        self.depth += 1
        try:
            args = [self.resolve(a) for a in arguments or []]
        finally:
            self.depth -= 1
        if self.call is None:
            raise DeferredError(f"Deferred function '{name}' cannot be called: this run has no function "
                                "library to resolve Deferred values with")
        try:
            result, secret = self.call(name, args, self.facts)
        except Exception as exc:  # noqa: BLE001 - any failure of the call fails this resource alone
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise DeferredError(f"Deferred function '{name}' failed: {text}") from None
        if not secret:
            return result
        self.secret = True
        # a function given this result as an argument gets a Sensitive, as on Puppet's agent
        return {"__ptype": "Sensitive", "__pvalue": result} if self.depth else result

"""Parametrizing types: ``Integer[1, 5]``, ``Array[String, 1]``, ``File['/x']``, ``Class['foo']`` ..."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import types as T
from .values import DEFAULT, RegexValue

if TYPE_CHECKING:
    from . import ast
    from .evaluator import Evaluator


def _bound(ev: Evaluator, v: Any, node: ast.Node, default: float, what: str) -> float:
    if v is DEFAULT:
        return default
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    ev.fail(node, f"{what} parameters must be numbers or default, got {T.generalized_name(v)}")


def _type_arg(ev: Evaluator, v: Any, node: ast.Node, what: str) -> T.PType:
    if isinstance(v, T.PType):
        return v
    ev.fail(node, f"{what} expects a type parameter, got {T.generalized_name(v)}")


def parametrize(ev: Evaluator, base: T.PType, args: list[Any], node: ast.Node) -> T.PType:
    if isinstance(base, T.PInteger) or isinstance(base, T.PFloat):
        cls = type(base)
        if not 1 <= len(args) <= 2:
            ev.fail(node, f"{cls.name}[] takes 1 or 2 arguments, got {len(args)}")
        lo = _bound(ev, args[0], node, -T.INF, cls.name)
        hi = _bound(ev, args[1], node, T.INF, cls.name) if len(args) > 1 else T.INF
        if lo > hi:
            ev.fail(node, f"{cls.name}[{lo}, {hi}]: the minimum is greater than the maximum")
        if cls is T.PInteger:
            return T.PInteger(lo, hi)
        return T.PFloat(lo, hi)
    if isinstance(base, T.PString) and base == T.SIMPLE_TYPES["String"]:
        if not 1 <= len(args) <= 2:
            ev.fail(node, f"String[] takes 1 or 2 arguments, got {len(args)}")
        lo = _bound(ev, args[0], node, 0, "String")
        hi = _bound(ev, args[1], node, T.INF, "String") if len(args) > 1 else T.INF
        return T.PString(lo, hi)
    if isinstance(base, T.PEnum):
        ci = False
        if args and isinstance(args[-1], bool):
            ci = args[-1]
            args = args[:-1]
        values: list[str] = []
        for a in args:
            for v in a if isinstance(a, list) else [a]:
                if not isinstance(v, str):
                    ev.fail(node, f"Enum[] takes strings, got {T.generalized_name(v)}")
                values.append(v)
        return T.PEnum(values, ci)
    if isinstance(base, T.PPattern):
        pats = []
        for a in args:
            if isinstance(a, RegexValue):
                pats.append(a)
            elif isinstance(a, str):
                pats.append(RegexValue(a))
            elif isinstance(a, T.PRegexp) and a.pattern is not None:
                pats.append(a.pattern)
            else:
                ev.fail(node, f"Pattern[] takes regular expressions or strings, got {T.generalized_name(a)}")
        return T.PPattern(pats)
    if isinstance(base, T.PRegexp):
        if len(args) != 1:
            ev.fail(node, "Regexp[] takes one argument")
        a = args[0]
        return T.PRegexp(a if isinstance(a, RegexValue) else RegexValue(str(a)))
    if isinstance(base, T.PArray):
        if not args:
            return base
        elem = _type_arg(ev, args[0], node, "Array[]") if not isinstance(args[0], (int, float)) else T.ANY
        rest = args[1:] if isinstance(args[0], T.PType) else args
        lo = _bound(ev, rest[0], node, 0, "Array") if rest else 0
        hi = _bound(ev, rest[1], node, T.INF, "Array") if len(rest) > 1 else T.INF
        return T.PArray(elem, lo, hi)
    if isinstance(base, T.PHash):
        if not args:
            return base
        if len(args) == 1 or not isinstance(args[1], T.PType):
            ev.fail(node, "Hash[] takes a key type and a value type, optionally followed by sizes")
        k = _type_arg(ev, args[0], node, "Hash[]")
        v = _type_arg(ev, args[1], node, "Hash[]")
        lo = _bound(ev, args[2], node, 0, "Hash") if len(args) > 2 else 0
        hi = _bound(ev, args[3], node, T.INF, "Hash") if len(args) > 3 else T.INF
        return T.PHash(k, v, lo, hi)
    if isinstance(base, T.PTuple):
        types: list[T.PType] = []
        nums: list[Any] = []
        for a in args:
            if isinstance(a, T.PType):
                if nums:
                    ev.fail(node, "Tuple[] sizes must come after the types")
                types.append(a)
            else:
                nums.append(a)
        if nums:
            lo = _bound(ev, nums[0], node, 0, "Tuple")
            hi = _bound(ev, nums[1], node, T.INF, "Tuple") if len(nums) > 1 else T.INF
            return T.PTuple(types, lo, hi)
        return T.PTuple(types)
    if isinstance(base, T.PStruct):
        if len(args) != 1 or not isinstance(args[0], dict):
            ev.fail(node, "Struct[] takes one hash of keys to types")
        members = []
        for key, vt in args[0].items():
            required = True
            if isinstance(key, T.POptional):
                inner = key.type
                if isinstance(inner, T.PEnum) and len(inner.values) == 1:
                    key = inner.values[0]
                    required = False
            elif isinstance(key, T.PNotUndef):  # NotUndef['key']: a required key, as a plain one
                inner = key.type
                if isinstance(inner, T.PEnum) and len(inner.values) == 1:
                    key = inner.values[0]
            elif isinstance(key, T.PEnum) and len(key.values) == 1:
                key = key.values[0]
            if not isinstance(key, str):
                ev.fail(node, "Struct[] keys must be strings, Optional['key'] or NotUndef['key']")
            members.append((key, _type_arg(ev, vt, node, "Struct[]"), required))
        return T.PStruct(members)
    if isinstance(base, T.POptional):
        if len(args) != 1:
            ev.fail(node, "Optional[] takes one argument")
        a = args[0]
        if isinstance(a, str):
            return T.POptional(T.PEnum([a]))
        return T.POptional(_type_arg(ev, a, node, "Optional[]"))
    if isinstance(base, T.PNotUndef):
        if len(args) != 1:
            ev.fail(node, "NotUndef[] takes one argument")
        a = args[0]
        if isinstance(a, str):
            return T.PNotUndef(T.PEnum([a]))
        return T.PNotUndef(_type_arg(ev, a, node, "NotUndef[]"))
    if isinstance(base, T.PVariant):
        return T.PVariant([_type_arg(ev, a, node, "Variant[]") for a in args])
    if isinstance(base, T.PTypeType):
        if len(args) != 1:
            ev.fail(node, "Type[] takes one argument")
        return T.PTypeType(_type_arg(ev, args[0], node, "Type[]"))
    if isinstance(base, T.PSensitive):
        if len(args) != 1:
            ev.fail(node, "Sensitive[] takes one argument")
        return T.PSensitive(_type_arg(ev, args[0], node, "Sensitive[]"))
    if isinstance(base, T.PCollection):
        lo = _bound(ev, args[0], node, 0, "Collection") if args else 0
        hi = _bound(ev, args[1], node, T.INF, "Collection") if len(args) > 1 else T.INF
        return T.PCollection(lo, hi)
    if isinstance(base, T.PCallable) or isinstance(base, T.PIterable) or isinstance(base, T.PRuntime):
        return base
    if isinstance(base, T.PClass):
        if base.class_name is not None:
            ev.fail(node, f"{base} cannot be parametrized further")
        crefs = [_class_ref(ev, a, node) for a in _flatten(args)]
        return crefs[0] if len(crefs) == 1 else _RefList(crefs)  # type: ignore[return-value]
    if isinstance(base, T.PResource):
        return _resource_refs(ev, base, args, node)
    if isinstance(base, T.PTypeAlias):
        return parametrize(ev, T.resolve(base), args, node)
    if isinstance(base, (T.PSemVer, T.PTimespan, T.PTimestamp)) and base == T.SIMPLE_TYPES[base.name]:
        from .richparams import parametrize_rich

        return parametrize_rich(ev, base, args, node)
    ev.fail(node, f"{base} cannot be parametrized")


class _RefList(list):  # type: ignore[type-arg]
    """``File['a', 'b']`` evaluates to several references: a list of them."""


def _flatten(args: list[Any]) -> list[Any]:
    out: list[Any] = []
    for a in args:
        if isinstance(a, list):
            out.extend(_flatten(a))
        else:
            out.append(a)
    return out


def _class_ref(ev: Evaluator, a: Any, node: ast.Node) -> T.PClass:
    if isinstance(a, T.PClass) and a.class_name is not None:
        return a
    if isinstance(a, T.PResource) and a.title is None and a.type_name:
        return T.PClass(a.type_name.lower())
    if not isinstance(a, str):
        ev.fail(node, f"Class[] takes class names, got {T.generalized_name(a)}")
    name = a.lower()
    if name.startswith("::"):
        name = name[2:]
    return T.PClass(name)


def _resource_refs(ev: Evaluator, base: T.PResource, args: list[Any], node: ast.Node) -> Any:
    from engine.catalog import capitalize_type

    if base.title is not None:
        ev.fail(node, f"{base} cannot be parametrized further")
    args = list(args)
    type_name = base.type_name
    if type_name is None:
        if not args:
            ev.fail(node, "Resource[] takes a type name")
        first = args.pop(0)
        if isinstance(first, T.PResource) and first.title is None:
            type_name = first.type_name
        elif isinstance(first, T.PClass):
            base2 = first
            if not args:
                return base2
            refs = [_class_ref(ev, a, node) for a in _flatten(args)]
            return refs[0] if len(refs) == 1 else _RefList(refs)
        elif isinstance(first, str):
            if first.lower() == "class":
                refs = [_class_ref(ev, a, node) for a in _flatten(args)]
                return refs[0] if len(refs) == 1 else _RefList(refs)
            type_name = capitalize_type(first.lstrip(":"))
        else:
            ev.fail(node, f"Resource[] takes a type name, got {T.generalized_name(first)}")
        if not args:
            return T.PResource(type_name)
    titles = _flatten(args)
    rrefs: list[T.PResource] = []
    for t in titles:
        if isinstance(t, (int, float)) and not isinstance(t, bool):
            t = str(t)
        if not isinstance(t, str):
            ev.fail(node, f"{type_name}[] takes titles as strings, got {T.generalized_name(t)}")
        rrefs.append(T.PResource(type_name, t))
    if len(rrefs) == 1:
        return rrefs[0]
    return _RefList(rrefs)

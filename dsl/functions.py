"""Built-in functions, registered in one place by decorator.

Each function receives ``(ev, args, block, node)``: the evaluator (a :class:`dsl.compiler.Compiler`
during compilation), the evaluated arguments, the lambda as a callable or None, and the call's AST
node for error positions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import types as T
from .errors import DslTypeError
from .evaluator import (
    Closure,
    Evaluator,
    Scope,
    _Break,
    _hashable,
    compare,
    deep_copy_value,
    puppet_equal,
    to_number,
    to_str,
    truthy,
)
from .formatlimits import field_error
from .values import DEFAULT, RegexValue, Sensitive

if TYPE_CHECKING:
    from . import ast
    from .compiler import Compiler

log = logging.getLogger(__name__)

FUNCTIONS: dict[str, Callable[..., Any]] = {}


def function(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        for name in names:
            if name in FUNCTIONS:
                raise RuntimeError(f"function {name} registered twice")
            FUNCTIONS[name] = fn
        return fn

    return register


def _arity(ev: Evaluator, node: Any, name: str, args: list[Any], lo: int, hi: int | None = None) -> None:
    n = len(args)
    if n < lo or (hi is not None and n > hi):
        if hi == lo:
            want = f"{lo}"
        elif hi is None:
            want = f"at least {lo}"
        else:
            want = f"between {lo} and {hi}"
        ev.fail(node, f"'{name}' expects {want} argument(s), got {n}")


def _need_block(ev: Evaluator, node: Any, name: str, block: Closure | None) -> Closure:
    if block is None:
        ev.fail(node, f"'{name}' expects a block (lambda)")
        raise AssertionError  # unreachable: fail() raises
    return block


def _type_check(ev: Evaluator, node: Any, name: str, what: str, value: Any, t: T.PType) -> None:
    if not t.instance(value):
        ev.fail(node, f"'{name}' parameter '{what}' {T.mismatch_message(t, value)}", DslTypeError)


_STR = T.PString()
_ARRAY = T.PArray()
_HASH = T.PHash()


def _flat_names(args: list[Any]) -> list[Any]:
    out: list[Any] = []
    for a in args:
        if isinstance(a, list):
            out.extend(_flat_names(a))
        else:
            out.append(a)
    return out


def _class_name(ev: Evaluator, node: Any, v: Any) -> str:
    if isinstance(v, T.PClass) and v.class_name:
        return v.class_name
    if isinstance(v, T.PResource) and v.type_name == "Class" and v.title:
        return v.title.lower()
    if isinstance(v, T.PResource) and v.title is None and v.type_name:
        return v.type_name.lower()
    if isinstance(v, str):
        return v.lower().lstrip(":")
    ev.fail(node, f"expected a class name, got {T.generalized_name(v)}")


# -- catalog statements -----------------------------------------------------------------------------
@function("include")
def f_include(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "include", args, 1)
    refs = []
    for name in _flat_names(args):
        res = ev.declare_class(_class_name(ev, node, name), {}, ev.scope, node)
        refs.append(T.PClass(res.title.lower()))
    return refs


@function("contain")
def f_contain(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "contain", args, 1)
    refs = []
    container = ev._container_for(ev.scope)
    for name in _flat_names(args):
        res = ev.declare_class(_class_name(ev, node, name), {}, ev.scope, node)
        ev.edges.append((container.ref, res.ref))
        refs.append(T.PClass(res.title.lower()))
    return refs


@function("require")
def f_require(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "require", args, 1)
    refs = []
    container = ev._container_for(ev.scope)
    for name in _flat_names(args):
        res = ev.declare_class(_class_name(ev, node, name), {}, ev.scope, node)
        ref = T.PClass(res.title.lower())
        old = container.params.get("require")
        lst = old if isinstance(old, list) else ([] if old is None else [old])
        container.params["require"] = list(lst) + [ref]
        refs.append(ref)
    return refs


@function("realize")
def f_realize(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "realize", args, 1)
    for ref in _flat_names(args):
        if isinstance(ref, str) and "[" in ref:
            tname, _, title = ref[:-1].partition("[")
            from engine.catalog import capitalize_type

            ref = T.PResource(capitalize_type(tname), title)
        if not isinstance(ref, T.PResource) or ref.title is None:
            ev.fail(node, f"realize expects resource references, got {T.generalized_name(ref)}")
        res = ev.resources.get(ref.ref)
        if res is None:
            ev.fail(node, f"failed to realize virtual resource {ref.ref}: no such resource")
        if res.virtual:
            res.virtual = False
            if res.kind == "define":
                ev.pending_defines.append(res)
    return None


@function("create_resources")
def f_create_resources(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "create_resources", args, 2, 3)
    tname, instances = args[0], args[1]
    defaults = args[2] if len(args) > 2 else {}
    if isinstance(tname, T.PResource):
        tname = tname.type_name
    if not isinstance(tname, str):
        ev.fail(node, "create_resources expects a type name as its first argument")
    if not isinstance(instances, dict) or not isinstance(defaults, (dict, type(None))):
        ev.fail(node, "create_resources expects a Hash of titles to attributes (and a Hash of defaults)")
    virtual = tname.startswith("@") and not tname.startswith("@@")
    exported = tname.startswith("@@")
    tname = tname.lstrip("@")
    if tname.lower() == "class":
        for cname, params in instances.items():
            merged = dict(defaults or {})
            merged.update(params or {})
            ev.declare_class(cname, merged, ev.scope, node, resource_like=True)
        return None
    type_, kind = ev.normalize_type(tname, node)
    for title, params in instances.items():
        merged = dict(defaults or {})
        merged.update(params or {})
        ev.declare_resource(type_, kind, str(title), merged, node, node.span, virtual=virtual or exported,
                            exported=exported)
    return None


@function("defined")
def f_defined(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "defined", args, 1)
    for a in args:
        if isinstance(a, str):
            if a.startswith("$"):
                found, _ = ev.lookup_var(a[1:], node)
                if found:
                    return True
                continue
            name = a.lower().lstrip(":")
            if name in ev.definitions.classes or name in ev.definitions.defines:
                return True
            from .resource_types import BUILTIN_TYPES

            if name in BUILTIN_TYPES:
                return True
            ev.autoloader.find_definition(name)
            if name in ev.definitions.classes or name in ev.definitions.defines:
                return True
            if name in ev.functions or name in ev.definitions.functions:
                return True
        elif isinstance(a, T.PClass):
            if a.class_name is None or a.class_name in ev.classes_declared:
                return True
        elif isinstance(a, T.PResource):
            if a.title is None:
                from .resource_types import BUILTIN_TYPES

                if a.type_name and (a.type_name.lower() in ev.definitions.defines
                                    or a.type_name.lower() in BUILTIN_TYPES):
                    return True
            else:
                res = ev.resources.get(a.ref)
                if res is not None:
                    return True
        elif isinstance(a, T.PType):
            return True
    return False


@function("tag")
def f_tag(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    from .compiler import tag_segments

    res = ev._container_for(ev.scope)
    for t in _flat_names(args):
        res.add_tags(tag_segments(str(t)))
    return None


@function("tagged")
def f_tagged(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    res = ev._container_for(ev.scope)
    tags = {t.lower() for t in res.tags}
    return all(str(t).lower() in tags for t in _flat_names(args))


@function("fail")
def f_fail(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    ev.fail(node, " ".join(to_str(a) for a in args) or "fail() called")


def _logger(level: str) -> Callable[..., Any]:
    def log_fn(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
        msg = " ".join(to_str(a) for a in args)
        if level in ("warning", "err", "crit", "alert", "emerg"):
            ev.warn(node, msg) if level == "warning" else log.error("%s", msg)
        else:
            getattr(log, "info" if level == "notice" else level if level in ("debug", "info") else "info")(msg)
        if hasattr(ev, "messages"):
            ev.messages.append((level, msg))
        return None

    return log_fn


for _lvl in ("debug", "info", "notice", "warning", "err", "crit", "alert", "emerg"):
    function(_lvl)(_logger(_lvl))


# -- templates and files -----------------------------------------------------------------------------
def _module_file(ev: Compiler, node: ast.Node, ref: str, subdir: str) -> Path:
    """``'foo/x.epp'`` -> ``<modulepath>/foo/<subdir>/x.epp``; absolute paths as given."""
    p = Path(ref)
    if p.is_absolute():
        return p
    mod, _, rest = ref.partition("/")
    mdir = ev.autoloader.module_dir(mod)
    if mdir is None or not rest:
        ev.fail(node, f"could not find module '{mod}' for '{ref}' on the module path")
    base = (mdir / subdir).resolve()
    path = (base / rest).resolve()
    if base != path and base not in path.parents:
        ev.fail(node, f"'{ref}' points outside the module's {subdir}/ directory")
    return path


@function("epp")
def f_epp(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "epp", args, 1, 2)
    path = _module_file(ev, node, args[0], "templates")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        ev.fail(node, f"template '{args[0]}' ({path}) is not valid UTF-8 (byte {exc.start})")
    except OSError as exc:
        ev.fail(node, f"could not read template '{args[0]}' ({path}): {exc.strerror}")
    from .epp import render_epp

    return render_epp(ev, text, str(path), args[1] if len(args) > 1 else None, node)


@function("inline_epp")
def f_inline_epp(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "inline_epp", args, 1, 2)
    from .epp import render_epp

    return render_epp(ev, args[0], node.span.file, args[1] if len(args) > 1 else None, node,
                      line_offset=node.span.line - 1)


def _jinja_render(ev: Compiler, text: str, name: str, node: ast.Node) -> str:
    import jinja2
    import jinja2.sandbox

    from .jinja import template_environment

    env = template_environment()
    variables: dict[str, Any] = {}
    s: Scope | None = ev.scope
    chain = []
    while s is not None:
        chain.append(s)
        s = s.enclosing
    for sc in reversed(chain):
        variables.update({k: _plain(v) for k, v in sc.vars.items()})
    try:
        return env.from_string(text).render(variables)
    except jinja2.TemplateSyntaxError as exc:
        ev.fail(node, f"template {name}:{exc.lineno}: {exc.message}")
    except jinja2.UndefinedError as exc:
        ev.fail(node, f"template {name}: {exc.message}")
    except jinja2.sandbox.SecurityError as exc:
        ev.fail(node, f"template {name}{_template_line(exc)}: {exc}")
    except Exception as exc:  # noqa: BLE001 - a template's runtime error is the user's error
        ev.fail(node, f"template {name}: {type(exc).__name__}: {exc}")


def _template_line(exc: BaseException) -> str:
    """``:LINE`` of the template line that raised ``exc`` (Jinja puts template lines in the traceback)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return f":{line}" if line is not None else ""


def _plain(v: Any) -> Any:
    if isinstance(v, Sensitive):
        return v.value
    return v


#: template() renders these with Jinja2; every other template is ERB, as in Puppet
_JINJA_SUFFIXES = (".j2", ".jinja", ".jinja2")


@function("template")
def f_template(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "template", args, 1)
    from .erb import render_erb

    out = []
    for ref in args:
        path = _module_file(ev, node, ref, "templates")
        try:
            # bytes, not text mode: Puppet keeps a template's \r\n line endings
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            ev.fail(node, f"template '{ref}' ({path}) is not valid UTF-8 (byte {exc.start})")
        except OSError as exc:
            ev.fail(node, f"could not read template '{ref}' ({path}): {exc.strerror}")
        if str(ref).endswith(_JINJA_SUFFIXES):
            out.append(_jinja_render(ev, text, str(ref), node))
            continue
        mod, _, rest = str(ref).partition("/")
        name = str(ref) if Path(str(ref)).is_absolute() else f"{mod}/templates/{rest}"
        out.append(render_erb(ev, text, name, node, str(path)))
    return "".join(out)


@function("inline_template")
def f_inline_template(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "inline_template", args, 1)
    from .erb import render_erb

    return "".join(render_erb(ev, str(a), "inline_template", node, None) for a in args)


@function("file")
def f_file(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "file", args, 1)
    for ref in args:
        path = _module_file(ev, node, ref, "files")
        if path.is_file():
            try:
                return path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                ev.fail(node, f"could not read file '{ref}': {exc}")
    ev.fail(node, f"could not find any files from {', '.join(map(str, args))}")


# -- lookup ---------------------------------------------------------------------------------------
@function("lookup")
def f_lookup(ev: Compiler, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    _arity(ev, node, "lookup", args, 1, 4)
    if len(args) == 1 and isinstance(args[0], dict):
        args = [args[0].get("name"), args[0]]
    names = args[0]
    value_type: T.PType = T.ANY
    merge: Any = None
    has_default = False
    default: Any = None
    if len(args) == 2 and isinstance(args[1], dict):
        opts = args[1]
        value_type = opts.get("value_type", T.ANY)
        merge = opts.get("merge")
        if "default_value" in opts:
            has_default, default = True, opts["default_value"]
    else:
        if len(args) > 1:
            value_type = args[1] if isinstance(args[1], T.PType) else T.ANY
        if len(args) > 2:
            merge = args[2]
        if len(args) > 3:
            has_default, default = True, args[3]
    if isinstance(merge, str) and merge not in ("first", "unique", "hash", "deep"):
        ev.fail(node, f"lookup(): unknown merge strategy '{merge}'")
    hiera = ev.hiera()
    for name in names if isinstance(names, list) else [names]:
        if not isinstance(name, str):
            ev.fail(node, "lookup() expects a key name (a String)")
        if hiera is not None:
            found, value = hiera.lookup(name, ev.hiera_scope_lookup, merge)
            if found:
                if not value_type.instance(value):
                    ev.fail(node, f"lookup('{name}') found a value that {T.mismatch_message(value_type, value)}",
                            DslTypeError)
                return value
    if block is not None:
        return block(names if not isinstance(names, list) else names[0])
    if has_default:
        return default
    shown = names if not isinstance(names, list) else ", ".join(names)
    ev.fail(node, f"lookup() did not find a value for the name '{shown}'; add it to the Hiera data or "
                  "give a default")


# -- iteration ----------------------------------------------------------------------------------------
def _pairs(ev: Evaluator, node: Any, name: str, v: Any) -> tuple[list[Any], bool]:
    """Items to iterate and whether they are hash pairs."""
    if isinstance(v, dict):
        return [[k, x] for k, x in v.items()], True
    if isinstance(v, list):
        return v, False
    if isinstance(v, int) and not isinstance(v, bool):
        return list(range(max(v, 0))), False
    if isinstance(v, str):
        return list(v), False
    if isinstance(v, T.PInteger) and v.lo != -T.INF and v.hi != T.INF:
        return list(range(int(v.lo), int(v.hi) + 1)), False
    if isinstance(v, T.PEnum):
        return list(v.values), False
    ev.fail(node, f"'{name}' cannot iterate over {T.generalized_name(v)}")


def _call_each(block: Closure, item: Any, index: int, is_hash: bool) -> Any:
    n = block.arity
    if is_hash:
        if n >= 2:
            return block(item[0], item[1])
        return block(item)
    if n >= 2:
        return block(index, item)
    return block(item)


@function("each")
def f_each(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    _arity(ev, node, "each", args, 1, 1)
    b = _need_block(ev, node, "each", block)
    items, is_hash = _pairs(ev, node, "each", args[0])
    try:
        for i, item in enumerate(items):
            _call_each(b, item, i, is_hash)
    except _Break:
        pass
    return args[0]


@function("reverse_each")
def f_reverse_each(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    items, is_hash = _pairs(ev, node, "reverse_each", args[0])
    items = list(reversed(items))
    if block is None:
        return items
    try:
        for i, item in enumerate(items):
            _call_each(block, item, i, is_hash)
    except _Break:
        pass
    return args[0]


@function("map")
def f_map(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    _arity(ev, node, "map", args, 1, 1)
    b = _need_block(ev, node, "map", block)
    items, is_hash = _pairs(ev, node, "map", args[0])
    out = []
    try:
        for i, item in enumerate(items):
            out.append(_call_each(b, item, i, is_hash))
    except _Break:
        pass
    return out


@function("filter")
def f_filter(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    _arity(ev, node, "filter", args, 1, 1)
    b = _need_block(ev, node, "filter", block)
    items, is_hash = _pairs(ev, node, "filter", args[0])
    try:
        if is_hash:
            return {k: v for i, (k, v) in enumerate(items) if truthy(_call_each(b, [k, v], i, True))}
        return [x for i, x in enumerate(items) if truthy(_call_each(b, x, i, False))]
    except _Break:
        return []


@function("reduce")
def f_reduce(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    _arity(ev, node, "reduce", args, 1, 2)
    b = _need_block(ev, node, "reduce", block)
    items, _ = _pairs(ev, node, "reduce", args[0])
    if len(args) > 1:
        memo = args[1]
    else:
        if not items:
            return None
        memo, items = items[0], items[1:]
    for item in items:
        memo = b(memo, item)
    return memo


@function("any")
def f_any(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    b = _need_block(ev, node, "any", block)
    items, is_hash = _pairs(ev, node, "any", args[0])
    return any(truthy(_call_each(b, x, i, is_hash)) for i, x in enumerate(items))


@function("all")
def f_all(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    b = _need_block(ev, node, "all", block)
    items, is_hash = _pairs(ev, node, "all", args[0])
    return all(truthy(_call_each(b, x, i, is_hash)) for i, x in enumerate(items))


@function("step")
def f_step(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    _arity(ev, node, "step", args, 2, 2)
    items, _ = _pairs(ev, node, "step", args[0])
    n = args[1]
    if not isinstance(n, int) or n < 1:
        ev.fail(node, "'step' expects a positive Integer step")
    out = items[::n]
    if block is not None:
        for x in out:
            block(x)
        return args[0]
    return out


@function("index")
def f_index(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    coll = args[0]
    if block is not None:
        items, is_hash = _pairs(ev, node, "index", coll)
        for i, x in enumerate(items):
            hit = (block(x[1]) if block.arity < 2 else block(x[0], x[1])) if is_hash \
                else _call_each(block, x, i, False)
            if truthy(hit):
                return x[0] if is_hash else i
        return None
    _arity(ev, node, "index", args, 2, 2)
    want = args[1]
    if isinstance(coll, str):
        i = coll.find(want)
        return None if i < 0 else i
    if isinstance(coll, dict):
        for k, v in coll.items():
            if puppet_equal(v, want):
                return k
        return None
    for i, x in enumerate(coll):
        if puppet_equal(x, want):
            return i
    return None


@function("with")
def f_with(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    return _need_block(ev, node, "with", block)(*args)


@function("then")
def f_then(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    b = _need_block(ev, node, "then", block)
    return None if args[0] is None else b(args[0])


@function("lest")
def f_lest(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    b = _need_block(ev, node, "lest", block)
    return b() if args[0] is None else args[0]


# -- strings -----------------------------------------------------------------------------------------
def _map_str(ev: Evaluator, node: Any, name: str, v: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(v, str):
        return fn(v)
    if isinstance(v, list):
        return [_map_str(ev, node, name, x, fn) for x in v]
    if isinstance(v, dict):
        return {_map_str(ev, node, name, k, fn): _map_str(ev, node, name, x, fn) for k, x in v.items()}
    if isinstance(v, (int, float)) and name in ("strip", "lstrip", "rstrip"):
        return v
    ev.fail(node, f"'{name}' expects a String, Array or Hash, got {T.generalized_name(v)}")


@function("upcase")
def f_upcase(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    return _map_str(ev, node, "upcase", args[0], str.upper)


@function("downcase")
def f_downcase(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    return _map_str(ev, node, "downcase", args[0], str.lower)


@function("capitalize")
def f_capitalize(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    return _map_str(ev, node, "capitalize", args[0], lambda s: s[:1].upper() + s[1:].lower())


@function("strip")
def f_strip(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    return _map_str(ev, node, "strip", args[0], str.strip)


@function("lstrip")
def f_lstrip(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    return _map_str(ev, node, "lstrip", args[0], str.lstrip)


@function("rstrip")
def f_rstrip(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    return _map_str(ev, node, "rstrip", args[0], str.rstrip)


@function("chomp")
def f_chomp(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    return _map_str(ev, node, "chomp", args[0], lambda s: s[:-2] if s.endswith("\r\n") else s.rstrip("\n")[:len(s)]
                    if s.endswith("\n") else s)


@function("split")
def f_split(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "split", args, 2, 2)
    s, sep = args
    _type_check(ev, node, "split", "str", s, _STR)
    if isinstance(sep, RegexValue):
        parts = sep.compiled.split(s)
    elif isinstance(sep, T.PRegexp) and sep.pattern is not None:
        parts = sep.pattern.compiled.split(s)
    elif isinstance(sep, str):
        parts = re.split(sep, s) if sep else list(s)
    else:
        ev.fail(node, "'split' expects a String or Regexp separator")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


@function("join")
def f_join(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "join", args, 1, 2)
    arr = args[0]
    _type_check(ev, node, "join", "arg", arr, _ARRAY)
    sep = args[1] if len(args) > 1 else ""
    return str(sep).join(to_str(x) if not isinstance(x, list) else f_join(ev, [x, sep], None, node)
                         for x in arr)


@function("size", "length")
def f_size(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "length", args, 1, 1)
    v = args[0]
    if isinstance(v, (str, list, dict)):
        return len(v)
    if isinstance(v, Sensitive) and isinstance(v.value, (str, list, dict)):
        return len(v.value)
    ev.fail(node, f"'length' expects a String, Array or Hash, got {T.generalized_name(v)}")


@function("empty")
def f_empty(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    v = args[0]
    if v is None:
        return True
    if isinstance(v, (str, list, dict)):
        return len(v) == 0
    if isinstance(v, (int, float)):
        return False
    ev.fail(node, f"'empty' expects a String, Array, Hash or number, got {T.generalized_name(v)}")


@function("regsubst")
def f_regsubst(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "regsubst", args, 3, 5)
    target, pattern, repl = args[0], args[1], args[2]
    flags = args[3] if len(args) > 3 else ""
    if isinstance(pattern, RegexValue):
        rx = pattern
    elif isinstance(pattern, str):
        try:
            rx = RegexValue(pattern)
        except re.error as exc:
            ev.fail(node, f"regsubst(): invalid regular expression '{pattern}': {exc}")
    else:
        ev.fail(node, "regsubst() expects a String or Regexp pattern")
    reflags = 0
    if "I" in str(flags):
        reflags |= re.I
    if "M" in str(flags):
        reflags |= re.S
    compiled = re.compile(rx.compiled.pattern, rx.compiled.flags | reflags) if reflags else rx.compiled
    count = 0 if "G" in str(flags) else 1
    py_repl = _ruby_repl(str(repl))

    def sub(s: str) -> str:
        return compiled.sub(py_repl, s, count=count)

    if isinstance(target, list):
        return [sub(to_str(x)) for x in target]
    return sub(to_str(target))


def _ruby_repl(repl: str) -> Callable[[re.Match[str]], str]:
    def fn(m: re.Match[str]) -> str:
        out = []
        i = 0
        while i < len(repl):
            c = repl[i]
            if c == "\\" and i + 1 < len(repl):
                n = repl[i + 1]
                if n.isdigit():
                    g = int(n)
                    out.append(m.group(g) or "" if g <= (m.re.groups or 0) else "")
                    i += 2
                    continue
                if n == "\\":
                    out.append("\\")
                    i += 2
                    continue
            out.append(c)
            i += 1
        return "".join(out)

    return fn


_SPRINTF_RE = re.compile(r"%(?:<(\w+)>)?([-+ 0#]*)(\*|\d+)?(?:\.(\d+))?([sdifxXobBeEgGcp%])")


@function("sprintf")
def f_sprintf(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "sprintf", args, 1)
    fmt = args[0]
    values = list(args[1:])
    idx = 0

    def repl(m: re.Match[str]) -> str:
        nonlocal idx
        name, flags, width, prec, conv = m.groups()
        if conv == "%":
            return "%"
        if width == "*":  # as Ruby: the width is the next argument
            if idx >= len(values):
                ev.fail(node, "sprintf(): too few arguments for the format")
            star = values[idx]
            idx += 1
            if not isinstance(star, int) or isinstance(star, bool):
                ev.fail(node, f"sprintf(): the width for '*' must be an Integer, not {to_str(star)!r}")
            flags, width = (flags + "-", str(-star)) if star < 0 else (flags, str(star))
        too_large = field_error(width, prec)
        if too_large is not None:
            ev.fail(node, f"sprintf(): {too_large}")
        if name is not None and values and isinstance(values[0], dict):
            v = values[0].get(name)
        else:
            if idx >= len(values):
                ev.fail(node, "sprintf(): too few arguments for the format")
            v = values[idx]
            idx += 1
        spec = "%" + flags + (width or "") + (f".{prec}" if prec is not None else "")
        if conv in "di":
            n = to_number(v)
            return (spec + "d") % int(n if n is not None else 0)
        if conv in "feEgG":
            n = to_number(v)
            return (spec + conv) % float(n if n is not None else 0)
        if conv in "xXo":
            n = to_number(v)
            return (spec + conv) % int(n if n is not None else 0)
        if conv in "bB":
            n = int(to_number(v) or 0)
            s = format(n, "b")
            return s.rjust(int(width)) if width else s
        if conv == "c":
            return chr(int(v)) if isinstance(v, int) else str(v)[:1]
        if conv == "p":
            return (spec + "s") % (f"'{v}'" if isinstance(v, str) else to_str(v))
        return (spec + "s") % to_str(v)

    return _SPRINTF_RE.sub(repl, fmt)


@function("match")
def f_match(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "match", args, 2, 2)
    target, pattern = args
    if isinstance(pattern, str):
        pattern = RegexValue(pattern)
    elif isinstance(pattern, T.PPattern):
        pats = pattern.patterns
        pattern = pats[0] if pats else RegexValue("")
    elif isinstance(pattern, T.PRegexp) and pattern.pattern is not None:
        pattern = pattern.pattern

    def one(s: Any) -> Any:
        m = pattern.compiled.search(s) if isinstance(s, str) else None
        if not m:
            return None
        return [m.group(0)] + list(m.groups())

    if isinstance(target, list):
        return [one(x) for x in target]
    return one(target)


# -- collections ---------------------------------------------------------------------------------------
@function("compare")
def f_compare(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "compare", args, 2, 3)
    a, b = args[0], args[1]
    if len(args) > 2 and args[2] is False and isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    try:
        return compare(a, b)
    except TypeError:
        ev.fail(node, f"compare(): cannot compare {T.generalized_name(a)} with {T.generalized_name(b)}")


@function("keys")
def f_keys(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _type_check(ev, node, "keys", "hsh", args[0], _HASH)
    return list(args[0].keys())


@function("values")
def f_values(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _type_check(ev, node, "values", "hsh", args[0], _HASH)
    return list(args[0].values())


def _sort_key(ev: Evaluator, node: Any) -> Callable[[Any], Any]:
    import functools

    def cmp(a: Any, b: Any) -> int:
        try:
            return compare(a, b)
        except TypeError:
            ev.fail(node, f"'sort' cannot compare {T.generalized_name(a)} with {T.generalized_name(b)}")

    return functools.cmp_to_key(cmp)


@function("sort")
def f_sort(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    v = args[0]
    if isinstance(v, str):
        return "".join(sorted(v))
    _type_check(ev, node, "sort", "arg", v, _ARRAY)
    if block is not None:
        import functools

        return sorted(v, key=functools.cmp_to_key(lambda a, b: int(block(a, b))))
    # Puppet sorts strings case-sensitively in sort()
    if all(isinstance(x, str) for x in v):
        return sorted(v)
    return sorted(v, key=_sort_key(ev, node))


@function("unique")
def f_unique(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    v = args[0]
    if isinstance(v, str):
        return "".join(dict.fromkeys(v))
    if isinstance(v, dict):
        out: dict[Any, Any] = {}
        seen: list[Any] = []
        for k, x in v.items():
            key = block(x) if block else x
            for i, s in enumerate(seen):
                if s == key:
                    existing = list(out.keys())[i]
                    out[existing] = (out[existing] if isinstance(out[existing], list) else [out[existing]]) + [k]
                    break
            else:
                seen.append(key)
                out[k] = x
        return {tuple(k) if isinstance(k, list) else k: vv for k, vv in out.items()}
    result: list[Any] = []
    keys: list[Any] = []
    for x in v:
        key = block(x) if block else x
        if not any(k == key and type(k) is type(key) for k in keys):
            keys.append(key)
            result.append(x)
    return result


@function("flatten")
def f_flatten(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    def flat(v: Any) -> list[Any]:
        out: list[Any] = []
        for x in v:
            if isinstance(x, list):
                out.extend(flat(x))
            else:
                out.append(x)
        return out

    return flat(args if len(args) != 1 or not isinstance(args[0], list) else args[0])


def _minmax(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node, name: str, pick: int) -> Any:
    values = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    if not values:
        return None
    best = values[0]
    for v in values[1:]:
        if block is not None:
            c = int(block(v, best))
        else:
            a, b = v, best
            na, nb = to_number(a), to_number(b)
            if na is not None and nb is not None:
                a, b = na, nb
            try:
                c = compare(a, b)
            except TypeError:
                ev.fail(node, f"'{name}' cannot compare {T.generalized_name(v)} with {T.generalized_name(best)}")
        if c * pick > 0:
            best = v
    return best


@function("min")
def f_min(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    return _minmax(ev, args, block, node, "min", -1)


@function("max")
def f_max(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    return _minmax(ev, args, block, node, "max", 1)


@function("abs")
def f_abs(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    n = to_number(args[0])
    if n is None:
        ev.fail(node, f"'abs' expects a Numeric value, got {T.generalized_name(args[0])}")
    return abs(n)


@function("versioncmp")
def f_versioncmp(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "versioncmp", args, 2, 3)
    a, b = str(args[0]), str(args[1])
    if a == b:
        return 0
    ta = re.findall(r"[-.]|\d+|[^-.\d]+", a)
    tb = re.findall(r"[-.]|\d+|[^-.\d]+", b)
    while ta and tb:
        x, y = ta.pop(0), tb.pop(0)
        if x == y:
            continue
        if x == "-" and y == "-":
            continue
        if x == "-":
            return -1
        if y == "-":
            return 1
        if x == ".":
            return -1
        if y == ".":
            return 1
        if x.isdigit() and y.isdigit():
            if x.startswith("0") or y.startswith("0"):
                return (x > y) - (x < y)
            return (int(x) > int(y)) - (int(x) < int(y))
        return (x.upper() > y.upper()) - (x.upper() < y.upper())
    return (a > b) - (a < b)  # as Puppet: the plain string order decides what's left


def _dig(v: Any, keys: list[Any]) -> Any:
    for k in keys:
        if v is None:
            return None
        if isinstance(v, dict):
            v = v.get(_hashable(k))
        elif isinstance(v, list) and isinstance(k, int):
            v = v[k] if -len(v) <= k < len(v) else None
        else:
            return None
    return v


@function("dig")
def f_dig(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "dig", args, 1)
    return _dig(args[0], args[1:])


@function("get")
def f_get(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    _arity(ev, node, "get", args, 2, 3)
    path = str(args[1])
    keys: list[Any] = []
    for part in re.findall(r"(?:'[^']*'|\"[^\"]*\"|[^.])+", path) if path else []:
        if part[:1] in "'\"":
            keys.append(part[1:-1])
        elif part.isdigit():
            keys.append(int(part))
        else:
            keys.append(part)
    value = _dig(args[0], keys)
    if value is None:
        if len(args) > 2:
            return args[2]
        if block is not None:
            return block(None)
    return value


@function("assert_type")
def f_assert_type(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    _arity(ev, node, "assert_type", args, 2, 2)
    t, v = args
    if isinstance(t, str):
        t = ev.resolve_type_name(t, node)
    if not isinstance(t, T.PType):
        ev.fail(node, "assert_type expects a type as its first argument")
    if t.instance(v):
        return v
    if block is not None:
        return block(t, T.type_of(v))
    ev.fail(node, f"assert_type(): {T.mismatch_message(t, v)}", DslTypeError)


@function("type")
def f_type(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "type", args, 1, 2)
    v = args[0]
    mode = args[1] if len(args) > 1 else "detailed"
    t = T.type_of(v)
    if mode == "generalized":
        return T.generalize(t)
    return t


@function("new")
def f_new(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    from .conversions import new_value

    result = new_value(ev, args[0], args[1:], node)
    return block(result) if block is not None else result


# -- digests and encodings --------------------------------------------------------------------------
@function("sha1")
def f_sha1(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    return hashlib.sha1(to_str(args[0]).encode()).hexdigest()


@function("sha256")
def f_sha256(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    return hashlib.sha256(to_str(args[0]).encode()).hexdigest()


@function("md5")
def f_md5(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    return hashlib.md5(to_str(args[0]).encode()).hexdigest()


@function("base64")
def f_base64(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "base64", args, 2, 3)
    action, s = args[0], to_str(args[1])
    if action == "encode":
        return base64.encodebytes(s.encode()).decode()
    return base64.b64decode(s).decode("utf-8", "replace")


# -- stdlib favourites ------------------------------------------------------------------------------
@function("pick")
def f_pick(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    for a in _flat_names(args):
        if a is not None and a != "" and a != "undef" and a is not DEFAULT:
            return a
    ev.fail(node, "pick(): must receive at least one non empty value")


@function("pick_default")
def f_pick_default(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    if not args:
        ev.fail(node, "pick_default(): must receive at least one argument")
    for a in args:
        if a is not None and a != "" and a != "undef" and a is not DEFAULT:
            return a
    return args[-1]


@function("merge")
def f_merge(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    out: dict[Any, Any] = {}
    for a in args:
        if a is None or a == "":
            continue
        if not isinstance(a, dict):
            ev.fail(node, f"merge(): expects Hash arguments, got {T.generalized_name(a)}")
        out.update(a)
    return out


def _deep_merge(a: dict[Any, Any], b: dict[Any, Any]) -> dict[Any, Any]:
    out = dict(a)
    for k, v in b.items():
        if k in out and isinstance(out[k], dict) and isinstance(v, dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = deep_copy_value(v)
    return out


@function("deep_merge")
def f_deep_merge(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    out: dict[Any, Any] = {}
    for a in args:
        if a is None or a == "":
            continue
        if not isinstance(a, dict):
            ev.fail(node, f"deep_merge(): expects Hash arguments, got {T.generalized_name(a)}")
        out = _deep_merge(out, a)
    return out


@function("concat")
def f_concat(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    out = list(args[0]) if isinstance(args[0], list) else [args[0]]
    for a in args[1:]:
        out.extend(a if isinstance(a, list) else [a])
    return out


@function("any2array")
def f_any2array(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    if not args:
        return []
    if len(args) > 1:
        return list(args)
    v = args[0]
    if isinstance(v, list):
        return v
    if isinstance(v, dict):
        return [x for kv in v.items() for x in kv]
    return [v]


@function("ensure_packages")
def f_ensure_packages(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "ensure_packages", args, 1, 2)
    pkgs = args[0]
    defaults = dict(args[1]) if len(args) > 1 and isinstance(args[1], dict) else {}
    if isinstance(pkgs, dict):
        items = [(k, {**defaults, **(v or {})}) for k, v in pkgs.items()]
    else:
        defaults.setdefault("ensure", "installed")
        items = [(p, dict(defaults)) for p in (pkgs if isinstance(pkgs, list) else [pkgs])]
    for name, params in items:
        params.setdefault("ensure", "installed")
        if params.get("ensure") == "present":
            params["ensure"] = "installed"
        _ensure_resource(ev, "package", str(name), params, node)
    return None


def _ensure_resource(ev: Compiler, tname: str, title: str, params: dict[str, Any], node: ast.Node) -> None:
    type_, kind = ev.normalize_type(tname, node)
    existing = ev.resources.get(f"{type_}[{title}]")
    if existing is not None:
        for k, v in params.items():
            if k in existing.params and not puppet_equal(existing.params[k], v):
                ev.fail(node, f"ensure_resource(): {existing.ref} is already declared with "
                              f"{k} => {to_str(existing.params[k])}, not {to_str(v)}")
        return
    ev.declare_resource(type_, kind, title, dict(params), node, node.span)


@function("ensure_resource")
def f_ensure_resource(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "ensure_resource", args, 2, 3)
    tname, titles = args[0], args[1]
    params = dict(args[2]) if len(args) > 2 and isinstance(args[2], dict) else {}
    for title in titles if isinstance(titles, list) else [titles]:
        _ensure_resource(ev, str(tname), str(title), dict(params), node)
    return None


@function("ensure_resources")
def f_ensure_resources(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    tname, instances = args[0], args[1]
    defaults = dict(args[2]) if len(args) > 2 and isinstance(args[2], dict) else {}
    for title, params in instances.items():
        _ensure_resource(ev, str(tname), str(title), {**defaults, **(params or {})}, node)
    return None


@function("has_key")
def f_has_key(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "has_key", args, 2, 2)
    _type_check(ev, node, "has_key", "hash", args[0], _HASH)
    return _hashable(args[1]) in args[0]


@function("member")
def f_member(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "member", args, 2, 2)
    arr, item = args
    if isinstance(arr, str):
        arr = [arr]
    if isinstance(item, list):
        return all(any(x == i for x in arr) for i in item)
    return any(x == item for x in arr)


@function("delete")
def f_delete(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "delete", args, 2, 2)
    coll, items = args
    items = items if isinstance(items, list) else [items]
    if isinstance(coll, dict):
        return {k: v for k, v in coll.items() if k not in items}
    if isinstance(coll, list):
        return [x for x in coll if x not in items]
    if isinstance(coll, str):
        for i in items:
            coll = coll.replace(str(i), "")
        return coll
    ev.fail(node, "delete() expects a String, Array or Hash")


@function("fqdn_rand")
def f_fqdn_rand(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "fqdn_rand", args, 1, 2)
    n = to_number(args[0])
    if n is None or n <= 0:
        ev.fail(node, "fqdn_rand() expects a positive maximum")
    found, facts = ev.lookup_var("facts")
    fqdn = ""
    if found and isinstance(facts, dict):
        fqdn = (facts.get("networking") or {}).get("fqdn") or facts.get("fqdn") or ""
    seed = ":".join([fqdn] + [to_str(a) for a in args[1:]])
    digest = int(hashlib.md5(seed.encode()).hexdigest(), 16)
    return random.Random(digest).randrange(int(n))


@function("to_json")
def f_to_json(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    from .compiler import _to_data

    return json.dumps(_to_data(args[0]), separators=(",", ":"))


@function("to_json_pretty")
def f_to_json_pretty(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    from .compiler import _to_data

    return json.dumps(_to_data(args[0]), indent=2) + "\n"


@function("to_yaml")
def f_to_yaml(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    import yaml

    from .compiler import _to_data

    return "---\n" + yaml.safe_dump(_to_data(args[0]), default_flow_style=False, sort_keys=False) \
        if isinstance(args[0], (dict, list)) else yaml.safe_dump(_to_data(args[0]), explicit_start=True)


@function("parsejson")
def f_parsejson(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    try:
        return json.loads(to_str(args[0]))
    except ValueError as exc:
        if len(args) > 1:
            return args[1]
        ev.fail(node, f"parsejson(): invalid JSON: {exc}")


@function("parseyaml")
def f_parseyaml(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    import yaml

    try:
        return yaml.safe_load(to_str(args[0]))
    except yaml.YAMLError as exc:
        if len(args) > 1:
            return args[1]
        ev.fail(node, f"parseyaml(): invalid YAML: {str(exc).splitlines()[0]}")


@function("str2bool")
def f_str2bool(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    v = args[0]
    if isinstance(v, bool):
        return v
    s = to_str(v).strip().lower()
    if s in ("1", "t", "y", "true", "yes"):
        return True
    if s in ("", "0", "f", "n", "false", "no", "undef", "undefined"):
        return False
    ev.fail(node, f"str2bool(): unknown type of boolean given: '{v}'")


@function("bool2str")
def f_bool2str(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    v = args[0]
    if not isinstance(v, bool):
        ev.fail(node, f"bool2str(): expects a Boolean, got {T.generalized_name(v)}")
    if len(args) == 3:
        return args[1] if v else args[2]
    return "true" if v else "false"


@function("range")
def f_range(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    _arity(ev, node, "range", args, 2, 3)
    a, b = to_number(args[0]), to_number(args[1])
    step = int(args[2]) if len(args) > 2 else 1
    if a is None or b is None:
        ev.fail(node, "range() expects numbers")
    return list(range(int(a), int(b) + (1 if step > 0 else -1), step))


@function("values_at")
def f_values_at(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    arr, idx = args[0], args[1]
    return [arr[i] for i in (idx if isinstance(idx, list) else [idx])]


@function("suffix")
def f_suffix(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    return [f"{x}{args[1]}" for x in args[0]]


@function("prefix")
def f_prefix(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    return [f"{args[1]}{x}" for x in args[0]]


@function("count")
def f_count(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    items, is_hash = _pairs(ev, node, "count", args[0])
    if block is not None:
        return sum(1 for i, x in enumerate(items) if truthy(_call_each(block, x, i, is_hash)))
    if len(args) > 1:
        return sum(1 for x in items if puppet_equal(x, args[1]))
    return sum(1 for x in items if x is not None)


@function("sensitive")
def f_sensitive(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    return Sensitive(args[0])


@function("unwrap")
def f_unwrap(ev: Evaluator, args: list[Any], block: Closure | None, node: ast.Node) -> Any:
    v = args[0]
    value = v.value if isinstance(v, Sensitive) else v
    return block(value) if block is not None else value


@function("shellquote")
def f_shellquote(ev: Evaluator, args: list[Any], block: Any, node: ast.Node) -> Any:
    import shlex

    return " ".join(shlex.quote(to_str(a)) for a in _flat_names(args))


@function("hiera")
def f_hiera(ev: Compiler, args: list[Any], block: Any, node: ast.Node) -> Any:
    return f_lookup(ev, [args[0], T.ANY, None] + ([args[1]] if len(args) > 1 else []), block, node)


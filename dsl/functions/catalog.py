"""Functions that act on the catalog: declaring classes and resources (``include``, ``contain``,
``require``, ``realize``, ``create_resources``, stdlib's ``ensure_*``), asking about it (``defined``,
``defined_with_params``, ``getparam``, ``tagged``), tags, privacy, failing and logging."""

from __future__ import annotations

import logging
from typing import Any

from engine.catalog import capitalize_type

from .. import types as T
from ..valuerules import puppet_equal, tag_segments, to_str
from .common import flat
from .contract import Call, function

log = logging.getLogger(__name__)


def _class_name(call: Call, v: Any) -> str:
    if isinstance(v, T.PClass) and v.class_name:
        return v.class_name
    if isinstance(v, T.PResource) and v.type_name == "Class" and v.title:
        return v.title.lower()
    if isinstance(v, T.PResource) and v.title is None and v.type_name:
        return v.type_name.lower()
    if isinstance(v, str) and v:
        return v.lower().lstrip(":")
    call.type_error(f"expects a class name, got {T.generalized_name(v) if v != '' else 'an empty String'}")


def _declare(call: Call, names: tuple[Any, ...]) -> list[tuple[Any, T.PClass]]:
    ev = call.ev
    out = []
    for name in flat(names):
        res = ev.declare_class(_class_name(call, name), {}, ev.scope, call.node)
        out.append((res, T.PClass(res.title.lower())))
    return out


@function("include", "Any +$names")
def include(call: Call, *names: Any) -> list[T.PClass]:
    return [ref for _, ref in _declare(call, names)]


@function("contain", "Any +$names")
def contain(call: Call, *names: Any) -> list[T.PClass]:
    ev = call.ev
    container = ev._container_for(ev.scope)
    refs = []
    for res, ref in _declare(call, names):
        ev.edges.append((container.ref, res.ref))
        refs.append(ref)
    return refs


@function("require", "Any +$names")
def require(call: Call, *names: Any) -> list[T.PClass]:
    ev = call.ev
    container = ev._container_for(ev.scope)
    refs = []
    for _, ref in _declare(call, names):
        old = container.params.get("require")
        lst = old if isinstance(old, list) else ([] if old is None else [old])
        container.params["require"] = list(lst) + [ref]
        refs.append(ref)
    return refs


def _reference(call: Call, v: Any) -> T.PResource:
    """A resource reference from a reference value or a ``'Type[title]'`` string."""
    if isinstance(v, str) and v.endswith("]") and "[" in v:
        tname, _, title = v[:-1].partition("[")
        v = T.PResource(capitalize_type(tname.strip()), title.strip().strip("'\""))
    if isinstance(v, T.PClass) and v.class_name:
        v = T.PResource("Class", capitalize_type(v.class_name))
    if not isinstance(v, T.PResource) or v.title is None:
        call.type_error(f"expects a resource reference, got {T.generalized_name(v)}")
    return v


@function("realize", "Any +$references", legacy=True)
def realize(call: Call, *refs: Any) -> None:
    ev = call.ev
    for item in flat(refs):
        ref = _reference(call, item)
        res = ev.resources.get(ref.ref)
        if res is None:
            call.fail(f"failed to realize virtual resource {ref.ref}: no such resource")
        if res.virtual:
            res.virtual = False
            if res.kind == "define":
                ev.pending_defines.append(res)


@function("create_resources",
          "Variant[String[1], Type[Resource]] $type, Hash $instances, Optional[Hash] $defaults?", legacy=True)
def create_resources(call: Call, tname: Any, instances: dict[Any, Any], defaults: dict[Any, Any] | None = None
                     ) -> None:
    ev = call.ev
    if isinstance(tname, T.PResource):
        tname = tname.type_name or ""
    virtual = tname.startswith("@") and not tname.startswith("@@")
    exported = tname.startswith("@@")
    tname = tname.lstrip("@")
    for title, params in instances.items():
        if params is not None and not isinstance(params, dict):
            call.type_error(f"the attributes of '{to_str(title)}' must be a Hash, got {T.generalized_name(params)}")
        merged = dict(defaults or {})
        merged.update(params or {})
        if tname.lower() == "class":
            ev.declare_class(str(title), merged, ev.scope, call.node, resource_like=True)
            continue
        type_, kind = ev.normalize_type(tname, call.node)
        ev.declare_resource(type_, kind, to_str(title), merged, call.node, call.node.span, virtual=virtual or exported,
                            exported=exported, string_title=isinstance(title, str))


@function("defined", "Variant[String, Type[CatalogEntry], Type[Type[CatalogEntry]], Type] +$names")
def defined(call: Call, *names: Any) -> bool:
    from ..resource_types import BUILTIN_TYPES

    ev = call.ev
    for a in names:
        if isinstance(a, str):
            if a.startswith("$"):
                found, _ = ev.lookup_var(a[1:], call.node)
                if found:
                    return True
                continue
            name = a.lower().lstrip(":")
            if name in ev.definitions.classes or name in ev.definitions.defines or name in BUILTIN_TYPES:
                return True
            ev.autoloader.find_definition(name)
            if name in ev.definitions.classes or name in ev.definitions.defines:
                return True
            if ev.autoloader.has_ruby_type(name):
                return True
        elif isinstance(a, T.PClass):
            if a.class_name is None or a.class_name in ev.classes_declared:
                return True
        elif isinstance(a, T.PResource):
            if a.title is None:
                lname = (a.type_name or "").lower()
                if not lname or lname in ev.definitions.defines or lname in BUILTIN_TYPES:
                    return True
                ev.autoloader.find_definition(lname)
                if lname in ev.definitions.defines or ev.autoloader.has_ruby_type(lname):
                    return True
            elif a.type_name == "Class":
                if a.title.lower() in ev.classes_declared:
                    return True
            elif ev.resources.get(a.ref) is not None:
                return True
        elif isinstance(a, T.PType):
            return True
    return False


@function("tag", "Any +$tags", legacy=True)
def tag(call: Call, *tags: Any) -> None:
    res = call.ev._container_for(call.ev.scope)
    for t in flat(tags):
        res.add_tags(tag_segments(to_str(t)))


@function("tagged", "Any +$tags", legacy=True)
def tagged(call: Call, *tags: Any) -> bool:
    res = call.ev._container_for(call.ev.scope)
    have = {t.lower() for t in res.tags}
    return all(to_str(t).lower() in have for t in flat(tags))


@function("fail", "Any *$message", legacy=True)
def fail(call: Call, *message: Any) -> None:
    # Puppet prints the message alone, without the function's name
    call.error(" ".join(to_str(a) for a in message) or "fail() called")


def _logger(level: str) -> None:
    def log_values(call: Call, *values: Any) -> None:
        msg = " ".join(to_str(a) for a in values)
        if level == "warning":
            call.ev.warn(call.node, msg)
        elif level in ("err", "crit", "alert", "emerg"):
            log.error("%s", msg)
        else:
            log.debug("%s", msg) if level == "debug" else log.info("%s", msg)
        messages = getattr(call.ev, "messages", None)
        if isinstance(messages, list):
            messages.append((level, msg))

    log_values.__name__ = level
    function(level, "Any *$values")(log_values)


for _level in ("debug", "info", "notice", "warning", "err", "crit", "alert", "emerg"):
    _logger(_level)


# -- stdlib: declaring resources once ------------------------------------------------------------------
def ensure_one(call: Call, tname: str, title: str, params: dict[str, Any], string_title: bool = True) -> None:
    """Declare ``Type[title]`` unless it exists; if it does, its parameters must agree."""
    ev = call.ev
    type_, kind = ev.normalize_type(tname, call.node)
    existing = ev.resources.get(f"{type_}[{title}]")
    if existing is not None:
        for k, v in params.items():
            if k in existing.params and not puppet_equal(existing.params[k], v):
                call.fail(f"{existing.ref} is already declared with {k} => {to_str(existing.params[k])}, "
                          f"not {to_str(v)}")
        return
    ev.declare_resource(type_, kind, title, dict(params), call.node, call.node.span, string_title=string_title)


@function("ensure_packages",
          "Variant[String[1], Array[String[1]], Hash[String[1], Any]] $packages, Optional[Hash] $default_attributes?")
def ensure_packages(call: Call, packages: Any, defaults: dict[str, Any] | None = None) -> None:
    defaults = dict(defaults or {})
    if isinstance(packages, dict):
        items = [(k, {**defaults, **(v or {})}) for k, v in packages.items()]
    else:
        items = [(p, dict(defaults)) for p in (packages if isinstance(packages, list) else [packages])]
    for name, params in items:
        params.setdefault("ensure", "installed")
        if params.get("ensure") == "present":
            params["ensure"] = "installed"
        ensure_one(call, "package", str(name), params)


@function("ensure_resource", "String[1] $type, Any $title, Optional[Hash] $params?")
def ensure_resource(call: Call, tname: str, titles: Any, params: dict[str, Any] | None = None) -> None:
    for title in flat(titles if isinstance(titles, list) else [titles]):
        ensure_one(call, tname, to_str(title), dict(params or {}), isinstance(title, str))


@function("ensure_resources", "String[1] $type, Hash $titles, Optional[Hash] $params?")
def ensure_resources(call: Call, tname: str, instances: dict[Any, Any], params: dict[str, Any] | None = None
                     ) -> None:
    for title, attrs in instances.items():
        if attrs is not None and not isinstance(attrs, dict):
            call.type_error(f"the attributes of '{to_str(title)}' must be a Hash, got {T.generalized_name(attrs)}")
        ensure_one(call, tname, to_str(title), {**(params or {}), **(attrs or {})}, isinstance(title, str))


def find_resource(call: Call, ref: Any) -> Any:
    """The resource a reference (or ``'Type[title]'``) names, or None."""
    r = _reference(call, ref)
    ev = call.ev
    return ev.resources.get(ev.aliases.get(r.ref, r.ref))


@function("defined_with_params", "Variant[String, Type[CatalogEntry]] $reference, Variant[String, Hash] $params?")
def defined_with_params(call: Call, reference: Any, params: Any = None) -> bool:
    ev = call.ev
    params = params if isinstance(params, dict) else {}
    if isinstance(reference, str) and "[" not in reference:
        reference = T.PResource(capitalize_type(reference))
    if isinstance(reference, T.PResource) and reference.title is None:
        type_name = reference.type_name
        candidates = [r for r in ev.resources.values() if r.type == type_name and not r.virtual]
    else:
        found = find_resource(call, reference)
        candidates = [found] if found is not None and not found.virtual else []
    me = ev._container_for(ev.scope)
    for res in candidates:
        if res is me:
            continue
        if all(_same_param(res.params.get(k), v) for k, v in params.items()):
            return True
    return False


def _same_param(have: Any, want: Any) -> bool:
    if have is None or want is None:
        return have is None and want is None
    if isinstance(have, (T.PResource, T.PClass)) or isinstance(want, (T.PResource, T.PClass)):
        return to_str(have) == to_str(want)
    return bool(have == want)


@function("getparam", "Any $reference, String $parameter")
def getparam(call: Call, reference: Any, param: str) -> Any:
    if param == "":
        return ""
    res = find_resource(call, reference)
    if res is None:
        return ""
    value = res.params.get(param)
    return "" if value is None else value


@function("stdlib::str2resource", "String $res_string")
def str2resource(call: Call, text: str) -> T.PResource:
    res = find_resource(call, text)
    if res is None:
        call.fail(f"could not find {text}, this is parse order dependent and values should not be quoted")
    return T.PResource(res.type, res.title)


def _module_name(scope: Any) -> str:
    s = scope
    while s is not None:
        if "module_name" in s.vars:
            return str(s.vars["module_name"] or "")
        s = s.enclosing
    return ""


@function("assert_private", "Optional[String] $message?", also=("private",))
def assert_private(call: Call, message: str | None = None) -> None:
    ev = call.ev
    owner = ev.scope.owner()
    res = owner.resource
    if res is None or owner.kind not in ("class", "define"):
        return
    caller = _module_name(res.scope) if res.scope is not None else ""
    if _module_name(owner) != caller:
        if message is None:
            what = "Class" if owner.kind == "class" else "Definition"
            message = f"{what} {res.title.lower() if owner.kind == 'class' else res.type.lower()} is private"
        ev.fail(call.node, message)


@function("deprecation", "String $key, String $message")
def deprecation(call: Call, key: str, message: str) -> None:
    seen = call.ev.__dict__.setdefault("_deprecations", set())
    if key not in seen:
        seen.add(key)
        call.ev.warn(call.node, message)


@function("import", "Any *$manifests")
def import_(call: Call, *manifests: Any) -> None:
    call.error("Use of 'import' has been discontinued in favor of a manifest directory; put the files in the "
               "environment's manifests/ directory")


@function("annotate", "Type $type, Any $value, Any $annotations?, Callable[0, 0] &$block?")
def annotate(call: Call, t: Any, value: Any, annotations: Any = None) -> None:
    call.fail("annotates Object values, and Bunraku has no Object types")


@function("pry", "Any *$ignored")
def pry(call: Call, *ignored: Any) -> None:
    call.warn("the Ruby debugger is not available; pry() does nothing")

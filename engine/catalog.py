"""The catalog model: what a node should look like, in Puppet's catalog JSON (catalog_format 2).

The DSL builds a :class:`Catalog`; the engine applies one; the master stores and serves them. The
JSON form is Puppet's so that catalog-diff tools and PuppetDB-style stores read ours unchanged:

    {name, version, code_id, catalog_uuid, catalog_format: 2, environment, tags, classes,
     resources: [{type, title, tags, file, line, exported, kind, parameters}], edges: [{source, target}]}

Edges are containment only. Relationships travel as the metaparameters ``require``, ``before``,
``notify`` and ``subscribe`` on the resources themselves.

Two fields matter to Puppet's own reader (``puppet apply --catalog``): every resource's ``kind``
(:data:`KINDS`; Puppet 7 turns a resource that is not a ``compilable_type`` into an empty container,
so without it nothing is applied), and a ``version`` that is never null (Puppet's default, the
compile time in seconds since the epoch, when the compiler was given none).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

CATALOG_FORMAT = 2

#: Metaparameters that express ordering/refresh relationships between resources.
RELATIONSHIP_PARAMS = ("before", "require", "notify", "subscribe")
#: Puppet's metaparameters: every resource accepts them, whatever its type (the compiler checks
#: attributes against them, the engine keeps them away from the types' own validation).
METAPARAMS = frozenset({
    "alias", "audit", "before", "consume", "export", "loglevel", "noop", "notify", "require",
    "schedule", "stage", "subscribe", "tag",
})

#: Bunraku's own ``healthcheck`` type (a read-only probe, :mod:`engine.types.healthcheck`): the attributes
#: each kind of check takes, and those every check takes. Defined here once: the compiler rejects other
#: attributes (``dsl.resource_types``), the engine validates with them.
HEALTHCHECK_CHECKS: dict[str, tuple[str, ...]] = {
    "http": ("url", "expect_status", "expect_body"),
    "tcp": ("host", "port"),
    "command": ("command", "path", "environment"),
}
HEALTHCHECK_COMMON = ("name", "check", "retries", "interval", "timeout")
HEALTHCHECK_ATTRIBUTES = HEALTHCHECK_COMMON + tuple(a for attrs in HEALTHCHECK_CHECKS.values() for a in attrs)

#: A resource's ``kind`` as Puppet 7 writes it: built-in and custom (Ruby) types and stages are
#: ``compilable_type``, instances of defined types ``defined_type``, classes and nodes ``unknown``
#: (Puppet's compiler finds no compilable type for them; ``class`` is what its API names them).
COMPILABLE_TYPE = "compilable_type"
DEFINED_TYPE = "defined_type"
CLASS_KIND = "class"
UNKNOWN_KIND = "unknown"
KINDS = frozenset({COMPILABLE_TYPE, DEFINED_TYPE, CLASS_KIND, UNKNOWN_KIND})

#: What the compiler declared (builtin, define, class, node, stage) -> the catalog's kind.
KIND_OF_DECLARATION = {"builtin": COMPILABLE_TYPE, "stage": COMPILABLE_TYPE, "define": DEFINED_TYPE,
                       "class": UNKNOWN_KIND, "node": UNKNOWN_KIND}


def default_kind(type_name: str) -> str:
    """The kind of a resource whose producer did not say: classes and nodes are ``unknown``; a
    namespaced type (``Mymod::Thing``) can only be a defined type; anything else a compilable type.
    A defined type without ``::`` in its name needs its kind given (the compiler gives it)."""
    if type_name in ("Class", "Node"):
        return UNKNOWN_KIND
    if "::" in type_name:
        return DEFINED_TYPE
    return COMPILABLE_TYPE


class CatalogError(Exception):
    """A catalog document is malformed or inconsistent."""


#: A ``Deferred`` value travels as Puppet's rich data writes it: ``{"__ptype": "Deferred", "name": "fn",
#: "arguments": [...]}`` (``arguments`` left out when there are none; ``name`` may be ``$var`` for a
#: dig into an agent variable). The agent calls the function when it applies the catalog
#: (:mod:`engine.deferred`); compile, store and diff keep it as it is.
DEFERRED_PTYPE = "Deferred"
_FUNCTION_NAME = re.compile(r"\A\$?[a-z][a-z0-9_]*(?:::[a-z][a-z0-9_]*)*\Z")


def deferred_data(name: str, arguments: list[Any] | None) -> dict[str, Any]:
    """The catalog form of ``Deferred(name, arguments)``."""
    out: dict[str, Any] = {"__ptype": DEFERRED_PTYPE, "name": name}
    if arguments is not None:
        out["arguments"] = arguments
    return out


def is_deferred(value: Any) -> bool:
    return type(value) is dict and value.get("__ptype") == DEFERRED_PTYPE


def has_deferred(value: Any) -> bool:
    """Whether a parameter value holds a Deferred at any depth."""
    kind = type(value)
    if kind is dict:
        if value.get("__ptype") == DEFERRED_PTYPE:
            return True
        items = value.values()
    elif kind is list:
        items = value
    else:
        return False
    for item in items:  # only containers are looked into: most of a catalog is strings
        if type(item) in _CONTAINERS and has_deferred(item):
            return True
    return False


_CONTAINERS = (dict, list)


def check_deferred(value: Any, where: str) -> None:
    """Raise :class:`CatalogError` for a Deferred (at any depth of ``value``) that names no function or
    whose arguments are not a list."""
    if type(value) is list:
        for v in value:
            check_deferred(v, where)
    elif type(value) is dict:
        if value.get("__ptype") == DEFERRED_PTYPE:
            name, arguments = value.get("name"), value.get("arguments")
            if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
                raise CatalogError(f"{where}: a Deferred must name a function, not {name!r}")
            if arguments is not None and not isinstance(arguments, list):
                raise CatalogError(f"{where}: the arguments of Deferred '{name}' must be a list")
        for v in value.values():
            check_deferred(v, where)


@lru_cache(maxsize=4096)
def capitalize_type(name: str) -> str:
    """Puppet's type-name casing: every ``::`` segment capitalised (``foo::bar`` -> ``Foo::Bar``)."""
    return "::".join(seg[:1].upper() + seg[1:] for seg in name.lower().split("::"))


def format_ref(type_name: str, title: str) -> str:
    return f"{type_name}[{title}]"


def parse_ref(ref: str) -> tuple[str, str]:
    """Split ``'File[/etc/motd]'`` into ``('File', '/etc/motd')``. Titles may contain brackets."""
    start = ref.find("[")
    if start <= 0 or not ref.endswith("]"):
        raise CatalogError(f"malformed resource reference {ref!r}: expected Type[title]")
    return ref[:start], ref[start + 1 : -1]


def refs_of(value: Any) -> list[str]:
    """The references held by a relationship metaparameter value (a string or a list of them)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for item in value:
            out.extend(refs_of(item))
        return out
    raise CatalogError(f"relationship value must be a reference or a list of references, not {value!r}")


@dataclass(slots=True)
class Resource:
    """One resource of a catalog: ``File['/etc/motd']`` with its parameters."""

    type: str
    title: str
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    file: str | None = None
    line: int | None = None
    exported: bool = False
    sensitive_parameters: list[str] = field(default_factory=list)
    #: Puppet's ``kind`` (:data:`KINDS`); ``None`` means :func:`default_kind` of the type.
    kind: str | None = None

    @property
    def ref(self) -> str:
        return format_ref(self.type, self.title)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "title": self.title, "tags": list(self.tags)}
        if self.file is not None:
            out["file"] = self.file
        if self.line is not None:
            out["line"] = self.line
        out["exported"] = self.exported
        out["kind"] = self.kind or default_kind(self.type)
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        if self.sensitive_parameters:
            out["sensitive_parameters"] = list(self.sensitive_parameters)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Resource:
        try:
            type_name = data["type"]
            title = data["title"]
        except (KeyError, TypeError) as exc:
            raise CatalogError(f"resource without type or title: {data!r}") from exc
        if not isinstance(type_name, str) or not type_name:
            raise CatalogError(f"resource type must be a non-empty string, not {type_name!r}")
        params = data.get("parameters") or {}
        if not isinstance(params, dict):
            raise CatalogError(f"{format_ref(type_name, str(title))}: parameters must be a mapping")
        for key, value in params.items():
            if type(value) in (dict, list) and has_deferred(value):
                check_deferred(value, f"{format_ref(type_name, str(title))}: parameter '{key}'")
        return cls(
            type=type_name,
            title=str(title),
            parameters=dict(params),
            tags=list(data.get("tags") or []),
            file=data.get("file"),
            line=data.get("line"),
            exported=bool(data.get("exported", False)),
            sensitive_parameters=list(data.get("sensitive_parameters") or []),
            kind=data.get("kind") if isinstance(data.get("kind"), str) else None,
        )

    def relationship_refs(self, param: str) -> list[str]:
        return refs_of(self.parameters.get(param))


@dataclass(slots=True, frozen=True)
class Edge:
    """A containment edge: ``source`` contains ``target`` (both references)."""

    source: str
    target: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "target": self.target}


class Catalog:
    """A node's compiled catalog: resources in manifest order, containment edges, classes."""

    __slots__ = ("name", "version", "code_id", "catalog_uuid", "environment", "tags", "classes",
                 "_resources", "edges")

    def __init__(
        self,
        name: str,
        *,
        version: int | str | None = None,
        code_id: str | None = None,
        catalog_uuid: str | None = None,
        environment: str = "production",
    ) -> None:
        self.name = name
        # Puppet's default configuration version: the compile time, in seconds since the epoch
        self.version: int | str = version if version is not None else int(time.time())
        self.code_id = code_id
        self.catalog_uuid = catalog_uuid or str(uuid.uuid4())
        self.environment = environment
        self.tags: list[str] = []
        self.classes: list[str] = []
        self._resources: dict[str, Resource] = {}
        self.edges: list[Edge] = []

    # -- resources -------------------------------------------------------------------------------
    def add(self, resource: Resource) -> Resource:
        ref = resource.ref
        if ref in self._resources:
            raise CatalogError(f"duplicate resource {ref}")
        self._resources[ref] = resource
        return resource

    def get(self, ref: str) -> Resource | None:
        return self._resources.get(ref)

    def __contains__(self, ref: object) -> bool:
        return ref in self._resources

    def __iter__(self) -> Iterator[Resource]:
        return iter(self._resources.values())

    def __len__(self) -> int:
        return len(self._resources)

    @property
    def resources(self) -> list[Resource]:
        return list(self._resources.values())

    def add_edge(self, source: str, target: str) -> None:
        self.edges.append(Edge(source, target))

    def containment_parent(self) -> dict[str, str]:
        """Map each contained resource reference to its container's reference."""
        return {edge.target: edge.source for edge in self.edges}

    def aliases(self) -> dict[str, str]:
        """Other references that name a resource, as Puppet resolves them: its ``alias`` values and its
        namevar when the title differs (``name``; a file's ``path``). An exec is not known by another
        name (Puppet's exec type is not isomorphic)."""
        out: dict[str, str] = {}
        for res in self._resources.values():
            params = res.parameters
            names = refs_of(params.get("alias")) if isinstance(params.get("alias"), (str, list)) else []
            namevar = "path" if res.type == "File" else None if res.type == "Exec" else "name"
            if namevar is not None and isinstance(params.get(namevar), str):
                names.append(params[namevar])
            for name in names:
                ref = format_ref(res.type, name)
                if ref != res.ref and ref not in self._resources:
                    out.setdefault(ref, res.ref)
        return out

    def relationships(self) -> Iterable[tuple[str, str, bool]]:
        """Yield ``(before_ref, after_ref, refreshes)`` for every relationship metaparameter, with
        references by alias resolved to the resource's own."""
        aliases = self.aliases()
        for res in self._resources.values():
            for ref in res.relationship_refs("before"):
                yield res.ref, aliases.get(ref, ref), False
            for ref in res.relationship_refs("notify"):
                yield res.ref, aliases.get(ref, ref), True
            for ref in res.relationship_refs("require"):
                yield aliases.get(ref, ref), res.ref, False
            for ref in res.relationship_refs("subscribe"):
                yield aliases.get(ref, ref), res.ref, True

    # -- serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "tags": list(self.tags),
            "name": self.name,
            "version": self.version,
            "code_id": self.code_id,
            "catalog_uuid": self.catalog_uuid,
            "catalog_format": CATALOG_FORMAT,
            "environment": self.environment,
            "resources": [r.to_dict() for r in self._resources.values()],
            "edges": [e.to_dict() for e in self.edges],
            "classes": list(self.classes),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Catalog:
        if not isinstance(data, dict):
            raise CatalogError("a catalog must be a JSON object")
        fmt = data.get("catalog_format", CATALOG_FORMAT)
        if fmt not in (1, 2):
            raise CatalogError(f"unsupported catalog_format {fmt!r} (expected 2)")
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise CatalogError("catalog has no node name")
        cat = cls(
            name,
            version=data.get("version"),
            code_id=data.get("code_id"),
            catalog_uuid=data.get("catalog_uuid"),
            environment=data.get("environment") or "production",
        )
        cat.tags = list(data.get("tags") or [])
        cat.classes = list(data.get("classes") or [])
        resources = data.get("resources") or []
        if not isinstance(resources, list):
            raise CatalogError("catalog resources must be a list")
        for item in resources:
            cat.add(Resource.from_dict(item))
        for edge in data.get("edges") or []:
            try:
                cat.add_edge(str(edge["source"]), str(edge["target"]))
            except (KeyError, TypeError) as exc:
                raise CatalogError(f"malformed edge {edge!r}") from exc
        return cat

    @classmethod
    def from_json(cls, text: str | bytes) -> Catalog:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CatalogError(f"catalog is not valid JSON: {exc}") from exc
        return cls.from_dict(data)

    def validate_relationships(self) -> list[tuple[Resource, str, str]]:
        """Return ``(resource, param, missing_ref)`` for every relationship to an absent resource."""
        missing = []
        aliases = self.aliases()
        for res in self._resources.values():
            for param in RELATIONSHIP_PARAMS:
                for ref in res.relationship_refs(param):
                    if ref not in self._resources and ref not in aliases:
                        missing.append((res, param, ref))
        return missing

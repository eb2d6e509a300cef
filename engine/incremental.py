"""Incremental apply: which resources of a catalog need evaluating, given the last one applied.

A full run checks every resource; an incremental run checks only

* the resources whose desired state changed since the base catalog (type, title and parameters,
  compared by a canonical digest) and the resources that are new in it;
* the resources whose desired state the catalog cannot pin down (:func:`volatile_resources`: a
  file with a ``source`` whose content lives on the file server, a package at ``latest``, a
  ``resources`` purge), which are treated as changed every time;
* everything that depends on those along the graph (explicit relationships, autorequires,
  containment relationships), which includes the refresh targets (``notify``/``subscribe``) of
  changed resources;
* probes (``healthcheck``), which observe and run every time (the transaction adds them).

Everything else is skipped without being checked; that is the point (speed), and the trade-off:
a resource that is unchanged in the catalog but drifted on the host is *not* corrected by an
incremental run, only by the next full run. The base must be the last catalog that was applied
successfully as a whole; a resource that failed then and is unchanged now would otherwise be
skipped. Resources removed since the base are not purged (as in Puppet, they become unmanaged).

All functions here are pure: no I/O, nothing of the host.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from engine.catalog import Catalog, Resource, has_deferred
from engine.graph import END, LEAF, Graph

log = logging.getLogger(__name__)


def as_catalog(catalog: Catalog | dict[str, Any]) -> Catalog:
    return catalog if isinstance(catalog, Catalog) else Catalog.from_dict(catalog)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=repr).encode()


def resource_digest(resource: Resource) -> str:
    """SHA-256 of the resource's desired state: type, title and parameters (metaparameters included)."""
    return hashlib.sha256(_canonical([resource.type, resource.title, resource.parameters])).hexdigest()


def catalog_digest(catalog: Catalog | dict[str, Any]) -> str:
    """SHA-256 of a catalog's resources (by :func:`resource_digest`) and containment edges; the
    identifiers that differ between two compilations of the same code (uuid, version) are left out."""
    cat = as_catalog(catalog)
    resources = sorted((r.ref, resource_digest(r)) for r in cat)
    edges = sorted((e.source, e.target) for e in cat.edges)
    return hashlib.sha256(_canonical({"resources": resources, "edges": edges})).hexdigest()


def changed_resources(old: Catalog | dict[str, Any], new: Catalog | dict[str, Any]) -> set[str]:
    """References of the resources of ``new`` that are absent from ``old`` or whose digest differs."""
    base = {r.ref: resource_digest(r) for r in as_catalog(old)}
    return {r.ref for r in as_catalog(new) if base.get(r.ref) != resource_digest(r)}


def removed_resources(old: Catalog | dict[str, Any], new: Catalog | dict[str, Any]) -> set[str]:
    """References in ``old`` that ``new`` no longer has (they become unmanaged, never purged)."""
    cat = as_catalog(new)
    return {r.ref for r in as_catalog(old) if r.ref not in cat}


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "yes"))


def volatile_resources(catalog: Catalog | dict[str, Any]) -> set[str]:
    """Resources whose desired state is not fully in the catalog, so an unchanged digest proves
    nothing: files with a ``source``, packages at ``latest``, ``resources`` that purge, and any resource
    with a Deferred value (its function may return something else at every run)."""
    out = set()
    for res in as_catalog(catalog):
        kind = res.type.lower()
        params = res.parameters
        if (kind == "file" and params.get("source") is not None
                or kind == "package" and str(params.get("ensure", "")).lower() == "latest"
                or kind == "resources" and _truthy(params.get("purge"))
                or any(has_deferred(v) for v in params.values())):
            out.add(res.ref)
    return out


def closure(graph: Graph, resources: Sequence[Resource], refs: Iterable[str]) -> set[str]:
    """``refs`` and every leaf resource that depends on one of them along ``graph`` (built by
    :func:`engine.graph.build_graph` over ``resources``).

    A leaf starts the walk from itself; a container (a class whose parameters changed, say) from
    its end, so what depends on the class is included but its contents are not: they carry their
    own desired state and are in ``refs`` when it changed.
    """
    index = {r.ref: i for i, r in enumerate(resources)}
    node_of: dict[tuple[int, int], int] = {}
    for node, (kind, i) in enumerate(zip(graph.kind, graph.res, strict=True)):
        node_of[(i, kind)] = node
    seen: set[int] = set()
    stack: list[int] = []
    for ref in refs:
        at = index.get(ref)
        start = None if at is None else node_of.get((at, LEAF), node_of.get((at, END)))
        if start is not None and start not in seen:
            seen.add(start)
            stack.append(start)
    while stack:
        node = stack.pop()
        for succ, _edge_kind in graph.succ[node]:
            if succ not in seen:
                seen.add(succ)
                stack.append(succ)
    return {resources[graph.res[n]].ref for n in seen if graph.kind[n] == LEAF}


__all__ = [
    "as_catalog", "catalog_digest", "changed_resources", "closure", "removed_resources",
    "resource_digest", "volatile_resources",
]

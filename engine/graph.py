"""The resource graph: containment, relationships and autorequires, in one deterministic order.

Containers (stages, classes, nodes, defined-type instances) become two sentinel nodes, a *start*
and an *end* (Puppet's admissible/completed whits): the start comes before everything inside, the
end after it. A relationship to or from a container therefore orders all of its contents, and a
refresh sent to a container reaches everything inside it. Ties are broken by catalog order.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from engine.catalog import Catalog, Resource
from engine.errors import GraphError

log = logging.getLogger(__name__)

LEAF, START, END = 0, 1, 2
ORDER, NOTIFY, UP, DOWN = 0, 1, 2, 3


@dataclass(slots=True)
class Graph:
    """Nodes are ints; ``kind[n]`` is LEAF/START/END, ``res[n]`` the catalog index of its resource."""

    kind: list[int]
    res: list[int]
    succ: list[list[tuple[int, int]]]
    order: list[int]


def build_graph(
    catalog: Catalog,
    resources: Sequence[Resource],
    is_container: Sequence[bool],
    autorequires: Callable[[int], Iterable[str]],
) -> Graph:
    index = {r.ref: i for i, r in enumerate(resources)}
    kind: list[int] = []
    res: list[int] = []
    first: list[int] = [0] * len(resources)  # node entered first (leaf or start)
    last: list[int] = [0] * len(resources)  # node left last (leaf or end)
    for i, container in enumerate(is_container):
        first[i] = len(kind)
        if container:
            kind.append(START)
            res.append(i)
            last[i] = len(kind)
            kind.append(END)
            res.append(i)
        else:
            last[i] = first[i]
            kind.append(LEAF)
            res.append(i)
    n = len(kind)
    succ: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    indeg = [0] * n

    def add(a: int, b: int, k: int) -> None:
        succ[a].append((b, k))
        indeg[b] += 1

    for i, container in enumerate(is_container):
        if container:
            add(first[i], last[i], ORDER)
    for edge in catalog.edges:
        src = index.get(edge.source)
        dst = index.get(edge.target)
        if src is None or dst is None:
            missing = edge.source if src is None else edge.target
            raise GraphError(f"containment edge {edge.source} -> {edge.target} names {missing}, "
                             "which is not in the catalog")
        if not is_container[src]:
            raise GraphError(f"{edge.source} contains {edge.target} but is not a container type")
        add(first[src], first[dst], DOWN)
        add(last[dst], last[src], UP)

    explicit: set[tuple[int, int]] = set()
    for before, after, refreshes in catalog.relationships():
        a = index.get(before)
        b = index.get(after)
        if a is None or b is None:
            missing, holder = (before, after) if a is None else (after, before)
            holder_res = resources[index[holder]] if holder in index else None
            where = _where(holder_res) if holder_res is not None else ""
            raise GraphError(f"{holder}{where}: error: relationship with {missing}, which is not in the catalog")
        explicit.add((a, b))
        add(last[a], first[b], NOTIFY if refreshes else ORDER)

    for i, container in enumerate(is_container):
        if container:
            continue
        for ref in autorequires(i):
            d = index.get(ref)
            if d is None or d == i or (i, d) in explicit:
                continue
            add(last[d], first[i], ORDER)

    # Kahn's algorithm with catalog order as the priority: deterministic, manifest order wins ties.
    prio = [res[k] * 2 + (1 if kind[k] == END else 0) for k in range(n)]
    heap = [(prio[k], k) for k in range(n) if indeg[k] == 0]
    heapq.heapify(heap)
    order: list[int] = []
    remaining = indeg[:]
    while heap:
        _, k = heapq.heappop(heap)
        order.append(k)
        for m, _ek in succ[k]:
            remaining[m] -= 1
            if remaining[m] == 0:
                heapq.heappush(heap, (prio[m], m))
    if len(order) < n:
        raise GraphError(_describe_cycle(resources, res, succ, remaining))
    return Graph(kind, res, succ, order)


def _where(resource: Resource) -> str:
    if resource.file and resource.line:
        return f" ({resource.file}:{resource.line})"
    if resource.file:
        return f" ({resource.file})"
    return ""


def _describe_cycle(resources: Sequence[Resource], res: list[int], succ: list[list[tuple[int, int]]],
                    remaining: list[int]) -> str:
    stuck = {k for k, d in enumerate(remaining) if d > 0}
    # Every stuck node has a stuck predecessor: walk backwards until a node repeats; that is a cycle.
    pred: dict[int, int] = {}
    for k in sorted(stuck):
        for m, _ in succ[k]:
            if m in stuck and m not in pred:
                pred[m] = k
    path: list[int] = []
    seen: dict[int, int] = {}
    node = min(stuck)
    while node not in seen:
        seen[node] = len(path)
        path.append(node)
        node = pred[node]
    cycle = list(reversed(path[seen[node]:] + [node]))
    refs: list[int] = []
    for k in cycle:
        if not refs or refs[-1] != res[k]:
            refs.append(res[k])
    if len(refs) > 1 and refs[0] != refs[-1]:
        refs.append(refs[0])
    if len(refs) == 1:
        refs.append(refs[0])
    parts = [resources[i].ref + _where(resources[i]) for i in refs[:-1]] + [resources[refs[-1]].ref]
    return "found 1 dependency cycle: " + " => ".join(parts)

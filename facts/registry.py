"""The registry of core collectors, filled by the ``@collector`` decorator.

A collector is one concern (``os``, ``memory``, ``networking`` ...): a name, the names of the collectors
whose facts it reads, and a ``collect(facts)`` function returning a mapping of top-level fact names to
values. The parsing it does is delegated to pure functions next to it, tested on captured texts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

FactMap = dict[str, Any]
CollectFunc = Callable[[Mapping[str, Any]], FactMap]


class Collector:
    """One concern of core facts."""

    __slots__ = ("name", "needs", "collect", "expensive")

    def __init__(self, name: str, needs: tuple[str, ...], collect: CollectFunc, expensive: bool) -> None:
        self.name = name
        self.needs = needs
        self.collect = collect
        self.expensive = expensive

    def __repr__(self) -> str:
        return f"Collector({self.name!r}, needs={self.needs!r})"


COLLECTORS: dict[str, Collector] = {}


def collector(name: str, *, needs: tuple[str, ...] = (), expensive: bool = False) -> Callable[[CollectFunc], CollectFunc]:
    """Register ``func`` as the collector ``name``; a duplicate name fails at import.

    ``expensive`` collectors (package lists ...) only run when asked for by name.
    """

    def register(func: CollectFunc) -> CollectFunc:
        if name in COLLECTORS:
            raise ValueError(f"duplicate fact collector {name!r}")
        COLLECTORS[name] = Collector(name, tuple(needs), func, expensive)
        return func

    return register

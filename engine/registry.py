"""Registries of resource types and providers, filled by decorators at import time.

``@resource_type("file")`` registers a :class:`ResourceType` subclass (pure validation and
normalisation, no I/O); ``@provider("package", "dpkg")`` registers a :class:`Provider` subclass (reads
the current state, compares property by property, changes only what differs). A duplicate name fails
at import, so two modules can never silently fight over one name.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from engine.catalog import METAPARAMS as CATALOG_METAPARAMS
from engine.errors import ProviderError, RegistryError, ValidationError

if TYPE_CHECKING:
    from engine.context import ApplyContext

log = logging.getLogger(__name__)

#: What types never see in ``validate``: Puppet's metaparameters, and ``provider``, which the engine
#: itself resolves before a type is involved.
METAPARAMS = CATALOG_METAPARAMS | {"provider"}

_TYPES: dict[str, ResourceType] = {}
_PROVIDERS: dict[str, dict[str, type[Provider]]] = {}


class Change:
    """One out-of-sync property found by a provider's check: what it is and what it should be."""

    __slots__ = ("property", "previous", "desired", "message", "diff", "shows")

    def __init__(self, prop: str, previous: Any, desired: Any, message: str, diff: str | None = None,
                 shows: tuple[str, ...] = ()):
        self.property = prop
        self.previous = previous
        self.desired = desired
        self.message = message
        self.diff = diff
        #: Other parameters the message reveals something of (a created file's content checksum): if
        #: one of them is sensitive, the event is redacted like a change of that parameter.
        self.shows = shows

    def __repr__(self) -> str:
        return f"Change({self.property!r}, {self.previous!r} -> {self.desired!r})"


class ProbeResult:
    """What a probe observed: whether the thing is as expected, after how many attempts, and how long."""

    __slots__ = ("ok", "attempts", "message", "duration")

    def __init__(self, ok: bool, attempts: int, message: str, duration: float) -> None:
        self.ok = ok
        self.attempts = attempts
        self.message = message
        self.duration = duration

    def __repr__(self) -> str:
        return f"ProbeResult(ok={self.ok}, attempts={self.attempts}, {self.message!r})"


class ResourceType:
    """A resource type: which parameters it takes and how they normalise. Pure: no I/O here."""

    name: ClassVar[str] = ""
    #: Parameters (and properties) accepted besides the metaparameters.
    parameters: ClassVar[frozenset[str]] = frozenset()
    #: The namevar: the parameter the title stands for when it is not given.
    namevar: ClassVar[str] = "name"
    #: Set when the type takes refreshes (what a refresh does there); ``None`` means it ignores them. A
    #: refresh's event belongs to no property (``property: null`` and name ``refresh``, as in Puppet).
    refresh_property: ClassVar[str | None] = None
    #: Properties whose values never appear in logs or reports (like Puppet's ``sensitive``).
    sensitive_properties: ClassVar[frozenset[str]] = frozenset()
    #: A probe observes and never changes anything: the transaction calls ``Provider.probe()``
    #: instead of check/sync, in noop runs too, and never sends refresh events from it.
    probe: ClassVar[bool] = False

    def validate(self, title: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Check and normalise ``params``; return the normalised parameters (namevar filled in)."""
        unknown = [k for k in params if k not in self.parameters and k not in METAPARAMS]
        if unknown:
            raise ValidationError(f"no parameter named '{sorted(unknown)[0]}'")
        out = {k: v for k, v in params.items() if k not in METAPARAMS}
        out.setdefault(self.namevar, title)
        return self.normalise(title, out)

    def normalise(self, title: str, params: dict[str, Any]) -> dict[str, Any]:
        return params

    def autorequires(self, title: str, params: Mapping[str, Any]) -> Iterable[str]:
        """References this resource depends on when they are in the catalog (before it)."""
        return ()

    def default_provider(self, params: Mapping[str, Any], ctx: ApplyContext) -> str:
        names = providers_of(self.name)
        if not names:
            raise RegistryError(f"type '{self.name}' has no provider")
        return names[0]


class Provider:
    """Reads and changes one resource on the target system.

    ``check()`` never mutates anything; ``sync(change)`` makes one change that ``check()`` found, in
    the order ``check()`` listed them (ensure first).
    """

    type_name: ClassVar[str] = ""
    name: ClassVar[str] = ""

    __slots__ = ("ctx", "title", "params")

    def __init__(self, ctx: ApplyContext, title: str, params: dict[str, Any]) -> None:
        self.ctx = ctx
        self.title = title
        self.params = params

    def check(self) -> list[Change]:
        raise NotImplementedError

    def sync(self, change: Change) -> None:
        raise NotImplementedError

    def preflight(self, changes: list[Change]) -> str | None:
        """What stands in the way of ``changes`` that can be seen before making them (a missing parent
        directory, an unknown owner …): one line saying what and what to do, or None. ``changes`` is
        empty for a refresh a noop run predicts. Never mutates; see :mod:`engine.preflight`."""
        return None

    def would_create(self, changes: list[Change]) -> list[tuple[str, str]]:
        """What ``changes`` would create, for the checks of later resources in a noop run (see
        :data:`engine.preflight.Effect`)."""
        return []

    def refresh(self) -> bool:
        """React to a refresh event; return whether anything was done."""
        return False

    def will_refresh(self) -> bool:
        """Whether ``refresh()`` would act (used in noop, never mutates)."""
        return False

    def probe(self) -> ProbeResult:
        """Observe (only for types with ``probe = True``); never mutates anything."""
        raise ProviderError(f"{self.type_name} provider {self.name} is not a probe")

    def generate(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Extra resources ``(type, title, normalised params)`` to evaluate right after this one."""
        return []

    @classmethod
    def instances(cls, ctx: ApplyContext) -> list[tuple[str, dict[str, Any]]]:
        """Every resource of this type present on the system, as (title, current parameters)."""
        raise ProviderError(f"{cls.type_name} provider {cls.name} cannot list instances")


T = TypeVar("T", bound=ResourceType)
P = TypeVar("P", bound=type[Provider])


def resource_type(name: str) -> Callable[[type[T]], type[T]]:
    def register(cls: type[T]) -> type[T]:
        if name in _TYPES:
            raise RegistryError(f"resource type '{name}' is registered twice")
        cls.name = name
        _TYPES[name] = cls()
        return cls

    return register


def provider(type_name: str, name: str) -> Callable[[P], P]:
    def register(cls: P) -> P:
        table = _PROVIDERS.setdefault(type_name, {})
        if name in table:
            raise RegistryError(f"provider '{name}' of type '{type_name}' is registered twice")
        cls.type_name = type_name
        cls.name = name
        table[name] = cls
        return cls

    return register


#: The built-in types and the module (``engine.types.M`` and ``engine.providers.M``) that registers each:
#: a run loads only the types its catalog holds (tests/engine/test_registry.py keeps this table whole).
BUILTIN_MODULES: dict[str, str] = {
    "cron": "cron", "exec": "exec", "file": "file", "healthcheck": "healthcheck", "host": "host",
    "mailalias": "mailalias", "mount": "mount", "notify": "notify", "package": "package",
    "resources": "resources", "service": "service", "ssh_authorized_key": "ssh_authorized_key",
    "sshkey": "sshkey", "user": "user", "group": "user", "release": "release",
}
_loaded = False
_loaded_modules: set[str] = set()
_load_lock = threading.RLock()


def _load_type(name: str) -> None:
    """Import the modules of built-in type ``name`` (no-op for other names and loaded types).

    Thread-safe: a module counts as loaded only once both imports are done, so a second thread never
    sees a half-registered type (it waits on the lock instead)."""
    module = BUILTIN_MODULES.get(name)
    if module is None or _loaded or module in _loaded_modules:
        return
    with _load_lock:
        if module in _loaded_modules:
            return
        import_module(f"engine.types.{module}")
        import_module(f"engine.providers.{module}")
        _loaded_modules.add(module)


def load_types(names: Iterable[str]) -> None:
    """Load the built-in types among ``names`` (type names, any case)."""
    for name in names:
        _load_type(name.lower())


def get_type(name: str) -> ResourceType | None:
    name = name.lower()
    _load_type(name)
    return _TYPES.get(name)


def type_names() -> list[str]:
    load_all()
    return sorted(_TYPES)


def providers_of(type_name: str) -> list[str]:
    _load_type(type_name)
    return list(_PROVIDERS.get(type_name, {}))


def get_provider(type_name: str, name: str) -> type[Provider]:
    _load_type(type_name)
    try:
        return _PROVIDERS[type_name][name]
    except KeyError:
        known = ", ".join(sorted(_PROVIDERS.get(type_name, {}))) or "none"
        raise ValidationError(f"no provider '{name}' for type '{type_name}' (known: {known})") from None


def load_all() -> None:
    """Import every built-in type and provider module (they register themselves)."""
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if _loaded:
            return
        for name in BUILTIN_MODULES:
            _load_type(name)
        _loaded = True

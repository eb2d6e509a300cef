"""Reusing a masterless compile: ``bunraku apply MANIFEST`` from cron compiles nothing unchanged.

A compile is a function of the manifests, modules, templates and Hiera data it reads, of the node's
facts and of the command's settings. :func:`watch` runs a compile and records what it depended on:

- every path it looked at - opened (Python's ``open`` audit event), listed (``os.listdir`` /
  ``os.scandir``) or asked about (``os.stat`` / ``os.lstat``: a module's class file that did not exist
  is as much an input as one that did) - with its stat signature (mtime, size, inode, or "absent");
  a directory's mtime changes when an entry is added, removed or renamed;
- the facts: all of them, except the few that change on every run (uptime, memory and load figures,
  free space: :data:`VOLATILE_FACTS`), which count only when the compile read them (each top-level
  read of ``$facts[...]`` or of a top-scope variable is seen) - reading them all (iterating over
  ``$facts``, a template's whole scope) counts them all;
- the code of the compiler itself (every ``.py`` of this package: a new build never reuses an old
  catalog) and the command's settings (node, environment, modulepath, Hiera config, strictness, log
  level).

A compile that ran a command, opened a network connection, or asked for the time or for randomness
(``generate``, ``time()``, ``Timestamp.new()``, a salted hash...) is not reused: :func:`impure`.
The messages a compile logged are replayed when its catalog is reused.

:func:`lookup` decides by stat calls and one digest of the facts, without importing the compiler: a
converged run from cron pays neither for the language nor for the compile. The entry lives in the run's
state directory (``catalog-cache/``), written whole (a temporary file renamed into place): a reader never
sees half of one, and a broken entry is a miss.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: Bump when an entry's layout or meaning changes.
CACHE_FORMAT = 1
#: Facts whose values change from run to run without anything being reconfigured.
VOLATILE_FACTS = frozenset({
    "system_uptime", "uptime", "uptime_seconds", "uptime_hours", "uptime_days", "load_averages",
    "memory", "memoryfree", "memoryfree_mb", "swapfree", "swapfree_mb", "mountpoints",
})
_ALL = "*"
#: how a compile used a path, and so what of it counts: a path it only asked about counts by whether it
#: exists and what it is; a directory it listed also by its mtime (an entry added, removed or renamed); a
#: file it opened by its mtime, size and inode as well
STATED, LISTED, OPENED = 1, 2, 3
_ABSENT = {"absent": True}
_AUDITED_IMPURE = {
    "subprocess.Popen": "ran a command", "os.system": "ran a command", "os.exec": "ran a command",
    "os.posix_spawn": "ran a command", "os.fork": "ran a command", "pty.spawn": "ran a command",
    "socket.connect": "opened a network connection", "socket.getaddrinfo": "resolved a host name",
}


class CompileWatch:
    """What one compile depended on (see the module docstring)."""

    def __init__(self, facts: dict[str, Any], exclude: tuple[str, ...]) -> None:
        self.facts = facts
        self.read_facts: set[str] = set()
        #: path -> (how it was used: STATED < LISTED < OPENED, its signature when first seen)
        self.paths: dict[str, tuple[int, list[int] | None]] = {}
        self.impure: str | None = None
        self.records: list[tuple[str, int, str]] = []
        self._exclude = tuple(os.path.join(e, "") for e in exclude)
        self._exclude_exact = set(exclude)

    def saw(self, path: Any, use: int) -> None:
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        elif isinstance(path, os.PathLike):
            path = os.fspath(path)
        if not isinstance(path, str) or not path:
            return  # a file descriptor, or the current directory of os.listdir()
        path = os.path.abspath(path)
        known = self.paths.get(path)
        if known is not None:
            if use > known[0]:
                self.paths[path] = (use, known[1])
            return
        if path.endswith((".py", ".pyc", ".so")) or "__pycache__" in path or path.startswith(self._exclude) \
                or path in self._exclude_exact:
            return  # the interpreter's own files: the compiler's code is keyed by its own digest
        if use == LISTED and (path in sys.path or os.path.exists(os.path.join(path, "__init__.py"))):
            return  # the import system looking for modules
        # the signature before the compile reads it: a change while it compiles shows at the next run
        self.paths[path] = (use, _signature(path))

    def read_fact(self, name: str) -> None:
        if name in VOLATILE_FACTS or name == _ALL:
            self.read_facts.add(name)


_current: CompileWatch | None = None
_hooked = False


def current() -> CompileWatch | None:
    return _current


def impure(reason: str) -> None:
    """The compile in progress depended on something besides its inputs: its catalog is not reused."""
    if _current is not None and _current.impure is None:
        _current.impure = reason


def fact_read(name: str) -> None:
    """A top-level fact (or top-scope variable) ``name`` was read; ``"*"``: all of them."""
    if _current is not None:
        _current.read_fact(name)


class WatchedVars(dict):  # type: ignore[type-arg]
    """The top scope's variables or ``$facts``: a dict that tells the watch which volatile facts were read.
    Whole-dict reads (iteration, items, a copy) count as reading every fact."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> Any:
        if key in VOLATILE_FACTS:
            fact_read(key)
        return dict.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        if key in VOLATILE_FACTS:
            fact_read(key)
        return dict.get(self, key, default)

    def __contains__(self, key: object) -> bool:
        if key in VOLATILE_FACTS:
            fact_read(key)  # type: ignore[arg-type]
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[Any]:
        fact_read(_ALL)
        return dict.__iter__(self)

    def keys(self) -> Any:
        fact_read(_ALL)
        return dict.keys(self)

    def values(self) -> Any:
        fact_read(_ALL)
        return dict.values(self)

    def items(self) -> Any:
        fact_read(_ALL)
        return dict.items(self)

    def copy(self) -> dict[Any, Any]:
        fact_read(_ALL)
        return dict(dict.items(self))

    def __eq__(self, other: object) -> bool:
        fact_read(_ALL)
        return dict.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        fact_read(_ALL)
        return (dict, (dict(dict.items(self)),))


def _audit(event: str, args: tuple[Any, ...]) -> None:
    watch = _current
    if watch is None:
        return
    if event == "open":
        if args:
            watch.saw(args[0], OPENED)
    elif event in ("os.listdir", "os.scandir"):
        if args:
            watch.saw(args[0], LISTED)
    elif event in _AUDITED_IMPURE:
        impure(_AUDITED_IMPURE[event])


# -- the key ----------------------------------------------------------------------------------------------
def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


_real_stat = os.stat


def _signature(path: str) -> list[int] | None:
    try:
        st = _real_stat(path)
    except OSError:
        return None
    return [stat.S_IFMT(st.st_mode), st.st_mtime_ns, st.st_ino, st.st_size]


def _counted(use: int, signature: list[int] | None) -> list[int] | None:
    """What of a signature counts for a path used so (see STATED, LISTED, OPENED)."""
    if signature is None:
        return None
    return signature[:{STATED: 1, LISTED: 3, OPENED: 4}[use]]


def _code_digest() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for root, dirs, files in (*os.walk(here), *os.walk(here.parent / "engine")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".lark")):
                st = os.stat(os.path.join(root, name))
                h.update(f"{root}/{name}:{st.st_mtime_ns}:{st.st_size}\n".encode())
    return h.hexdigest()


def settings_key(settings: Mapping[str, Any]) -> str:
    """The command's settings and the compiler's code: which entry to look at."""
    return _digest({"format": CACHE_FORMAT, "python": sys.version, "code": _code_digest(), **settings})


# the facts as given (a plain dict): dict's own methods, so that reading them here is not a compile's read
def _stable_facts(facts: dict[str, Any]) -> str:
    return _digest({k: v for k, v in dict.items(facts) if k not in VOLATILE_FACTS})


def _volatile(facts: dict[str, Any], names: set[str]) -> dict[str, Any]:
    if _ALL in names:
        names = set(VOLATILE_FACTS)
    return {name: dict.get(facts, name, _ABSENT) for name in sorted(names)}


class StateStore(Protocol):
    """Where entries live: the run's state directory (``engine.statedir.StateDir``: inside a --root, each
    access resolved inside the image)."""

    def read(self, name: str) -> bytes: ...

    def write(self, name: str, data: bytes, *, mode: int | None = None) -> Any: ...


def _entry_name(key: str) -> str:
    return f"catalog-cache/{key[:32]}.json"


# -- use ----------------------------------------------------------------------------------------------------
def lookup(state: StateStore, key: str, facts: dict[str, Any]) -> dict[str, Any] | None:
    """The cached catalog (its JSON document) for these settings and facts, if nothing it was compiled from
    has changed since, with the compile's messages replayed; else None."""
    try:
        entry = json.loads(state.read(_entry_name(key)))
    except (OSError, ValueError):
        return None
    try:
        if entry["key"] != key or entry["facts"] != _stable_facts(facts):
            return None
        if _digest(_volatile(facts, set(entry["volatile"]))) != entry["volatile_digest"]:
            return None
        for path, (use, signature) in entry["paths"].items():
            if _counted(use, _signature(path)) != signature:
                log.debug("the catalog is compiled again: %s changed", path)
                return None
        catalog = entry["catalog"]
        records = entry["records"]
    except (KeyError, TypeError):
        return None
    for name, level, message in records:
        logging.getLogger(name).log(level, "%s", message)
    log.info("reusing the catalog compiled at %s: nothing it was compiled from has changed",
             entry.get("compiled_at", "?"))
    return catalog if isinstance(catalog, dict) else None


@contextmanager
def watch(facts: dict[str, Any], exclude: tuple[str, ...] = ()) -> Iterator[CompileWatch]:
    """Run a compile under a :class:`CompileWatch` (one at a time; the CLI's compiles are sequential)."""
    global _current, _hooked
    if _current is not None:
        raise RuntimeError("a compile is already being watched")
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True
    tempfile.gettempdir()  # its first call probes the temporary directories with files of its own
    watcher = CompileWatch(facts, tuple(os.path.abspath(e) for e in exclude))
    real_stat, real_lstat = _real_stat, os.lstat

    def stat(path: Any, *args: Any, **kw: Any) -> Any:
        watcher.saw(path, STATED)
        return real_stat(path, *args, **kw)

    def lstat(path: Any, *args: Any, **kw: Any) -> Any:
        watcher.saw(path, STATED)
        return real_lstat(path, *args, **kw)

    class _Records(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            watcher.records.append((record.name, record.levelno, record.getMessage()))

    handler = _Records(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    os.stat, os.lstat = stat, lstat  # type: ignore[assignment]
    _current = watcher
    try:
        yield watcher
    finally:
        _current = None
        os.stat, os.lstat = real_stat, real_lstat  # type: ignore[assignment]
        root.removeHandler(handler)


def store(state: StateStore, key: str, watcher: CompileWatch, catalog: dict[str, Any], compiled_at: str) -> bool:
    """Keep ``catalog`` for the next run with these settings; False (and nothing written) when the compile
    cannot be reused or the state directory cannot take it."""
    if watcher.impure is not None:
        log.debug("the catalog will be compiled again next run: the compile %s", watcher.impure)
        return False
    entry = {
        "format": CACHE_FORMAT, "key": key, "compiled_at": compiled_at,
        "facts": _stable_facts(watcher.facts),
        "volatile": sorted(watcher.read_facts),
        "volatile_digest": _digest(_volatile(watcher.facts, set(watcher.read_facts))),
        "paths": {path: [use, _counted(use, signature)] for path, (use, signature) in sorted(watcher.paths.items())},
        "records": watcher.records,
        "catalog": catalog,
    }
    try:
        state.write(_entry_name(key), json.dumps(entry, separators=(",", ":")).encode(), mode=0o600)
    except OSError as exc:
        log.debug("could not keep the compiled catalog in %s: %s", state, exc)
        return False
    return True

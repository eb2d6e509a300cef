"""Custom facts in Python, shipped by modules in ``<module>/facts/*.py``.

A custom fact file declares its facts with the decorator::

    from facts import fact

    @fact("role", needs=("os", "networking"))
    def role(facts):
        return "db" if facts["networking"]["hostname"].startswith("db") else "web"

The function receives the facts collected so far (core, external and the custom facts it needs) and
returns the value. Facts are resolved in dependency order; one that raises or times out is logged as
a warning and left out.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FactFunc = Callable[[Mapping[str, Any]], Any]
_MARK = "__bunraku_fact__"


class CustomFact:
    """A fact defined in Python: its name, the facts it needs, its function and an optional timeout."""

    __slots__ = ("name", "needs", "func", "timeout", "source")

    def __init__(self, name: str, needs: tuple[str, ...], func: FactFunc, timeout: float | None,
                 source: str = "") -> None:
        self.name = name
        self.needs = needs
        self.func = func
        self.timeout = timeout
        self.source = source

    def __repr__(self) -> str:
        return f"CustomFact({self.name!r}, needs={self.needs!r})"


def fact(name: str, *, needs: Iterable[str] = (), timeout: float | None = None) -> Callable[[FactFunc], FactFunc]:
    """Declare the decorated function as the custom fact ``name``.

    ``needs`` names the facts it reads (top-level names; "os.family" means "os"). ``timeout`` overrides
    the collection's per-fact timeout.
    """
    if not name or not isinstance(name, str):
        raise ValueError("a custom fact needs a non-empty name")
    top_needs = tuple(dict.fromkeys(n.split(".")[0] for n in needs))

    def declare(func: FactFunc) -> FactFunc:
        setattr(func, _MARK, CustomFact(name, top_needs, func, timeout))
        return func

    return declare


def fact_files(custom_dirs: Sequence[Path]) -> list[Path]:
    """The ``*.py`` files of each dir; a dir may also be a module (``D/facts/*.py``) or a module path
    (``D/<module>/facts/*.py``)."""
    files: list[Path] = []
    for directory in custom_dirs:
        directory = Path(directory)
        for candidate in (directory, directory / "facts"):
            files.extend(sorted(candidate.glob("*.py")))
        try:
            modules = sorted(p for p in directory.iterdir() if p.is_dir())
        except OSError:
            continue
        for module in modules:
            files.extend(sorted((module / "facts").glob("*.py")))
    unique = dict.fromkeys(p for p in files if not p.name.startswith(("_", ".")))
    return list(unique)


def load_fact_file(path: Path) -> list[CustomFact]:
    """Execute one custom fact file and return the facts it declares (raises what the file raises)."""
    import zlib

    module_name = f"bunraku_custom_facts.m{zlib.crc32(str(path.resolve()).encode()):08x}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    found: list[CustomFact] = []
    for value in vars(module).values():
        declared = getattr(value, _MARK, None)
        if isinstance(declared, CustomFact) and declared not in found:
            declared.source = str(path)
            found.append(declared)
    return found

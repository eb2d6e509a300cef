"""Python ports of modules' Ruby functions, loaded per compilation from the module path.

A module ships ``lib/bunraku/functions/NAME.py`` for a global function and
``lib/bunraku/functions/MODULE/NAME.py`` for ``MODULE::NAME``, as Puppet's 4.x functions sit in
``lib/puppet/functions``. The file declares the function with :func:`dsl.functions.function`, which
while the file loads registers into the compilation's own table: a port is seen only by the
compilations whose module path holds it, never by another environment's, and never replaces a
built-in. See docs/FUNCTIONS.md.

Loading a port runs its Python code in the compiler. On the master (``confine_files``), where an
environment's authors may not run code (docs/SECURITY.md), ports load only when the master's
operator allows it for the compilation (``CompileRequest.python_functions``)."""

from __future__ import annotations

import hashlib
import logging
import types
from pathlib import Path
from typing import Any

from .contract import _TARGET, FUNCTIONS, Function

log = logging.getLogger(__name__)

#: compiled port files, shared by compilations that load the same file unchanged:
#: (path, mtime_ns, size) -> the functions it registers
_CACHE: dict[tuple[str, int, int], dict[str, Function]] = {}


class PortError(Exception):
    """A port file that does not load, or does not declare the function its path names."""


def port_paths(name: str, modules: list[tuple[str, Path]], module_dir: Any) -> list[Path]:
    """Where the port of function ``name`` may be: ``<module>/lib/bunraku/functions/...``."""
    parts = name.lower().split("::")
    if len(parts) > 1:
        mdir = module_dir(parts[0])
        if mdir is None:
            return []
        return [mdir / "lib" / "bunraku" / "functions" / Path(*parts[:-1]) / f"{parts[-1]}.py"]
    return [d / "lib" / "bunraku" / "functions" / f"{parts[0]}.py" for _, d in modules]


def load_port(path: Path, name: str) -> dict[str, Function]:
    """The functions the file at ``path`` declares (it must declare ``name``)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    table = _CACHE.get(key)
    if table is None:
        table = _exec_port(path)
        if len(_CACHE) > 512:
            _CACHE.clear()
        _CACHE[key] = table
    if name not in table:
        declared = ", ".join(sorted(table)) or "none"
        raise PortError(f"{path} does not declare the function '{name}' (it declares: {declared})")
    return table


def _exec_port(path: Path) -> dict[str, Function]:
    source = path.read_text(encoding="utf-8")
    digest = hashlib.sha256(str(path).encode() + source.encode()).hexdigest()[:16]
    module = types.ModuleType(f"bunraku_port_{digest}")
    module.__file__ = str(path)
    table: dict[str, Function] = {}
    token = _TARGET.set(table)
    try:
        code = compile(source, str(path), "exec")
        exec(code, module.__dict__)  # noqa: S102 - the port is the module's own code, run as Puppet runs Ruby
    except Exception as exc:  # noqa: BLE001 - whatever the file raises, the compilation reports it
        raise PortError(f"{path} does not load: {type(exc).__name__}: {exc}") from exc
    finally:
        _TARGET.reset(token)
    for fname in table:
        if fname in FUNCTIONS:
            raise PortError(f"{path} declares '{fname}', which is a built-in function; a port cannot replace it")
    return table


class Ports:
    """The ports one compilation sees: found on its module path, loaded on first call."""

    def __init__(self, modules: Any, module_dir: Any, enabled: bool) -> None:
        self._modules = modules
        self._module_dir = module_dir
        self.enabled = enabled
        self._found: dict[str, Function | None] = {}

    def find(self, name: str) -> Function | None:
        """The port of ``name``, None when no module ships one. Raises :class:`PortError`."""
        key = name.lower()
        if key in self._found:
            return self._found[key]
        found: Function | None = None
        for path in self.paths(key):
            if path.is_file():
                if not self.enabled:
                    raise PortError(f"{path} ports '{name}' to Python, and this master does not run modules' "
                                    "Python code; its operator can allow it (python_functions)")
                found = load_port(path, key)[key]  # other names the file declares stay with their own files
                break
        self._found[key] = found
        return found

    def paths(self, name: str) -> list[Path]:
        return port_paths(name, list(self._modules()), self._module_dir)


def ruby_versions(name: str, modules: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
    """The modules that ship ``name`` in Ruby (4.x ``lib/puppet/functions`` or 3.x
    ``lib/puppet/parser/functions``), with the file relative to the module."""
    parts = name.lower().split("::")
    found = []
    for mod, d in modules:
        candidates = [d / "lib" / "puppet" / "functions" / Path(*parts[:-1]) / f"{parts[-1]}.rb"] if parts[:-1] \
            else [d / "lib" / "puppet" / "functions" / f"{parts[0]}.rb",
                  d / "lib" / "puppet" / "parser" / "functions" / f"{parts[0]}.rb"]
        for c in candidates:
            if c.is_file():
                found.append((mod, c.relative_to(d)))
                break
    return found


def unknown_function_message(name: str, modules: list[tuple[str, Path]]) -> str:
    """``unknown function 'x'``, with the module that ships it in Ruby and how to port it."""
    ruby = ruby_versions(name, modules)
    parts = name.lower().split("::")
    port = "lib/bunraku/functions/" + "/".join(parts) + ".py"
    if ruby:
        mod, path = ruby[0]
        return (f"unknown function '{name}': module {mod} ships it in Ruby ({path}), "
                f"which Bunraku does not run; port it to Python as {mod}/{port} (see docs/FUNCTIONS.md)")
    return f"unknown function '{name}'; check the name and that the module that defines it is on the module path"

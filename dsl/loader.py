"""Finding code: the site manifest(s) and autoloading classes, defines, functions and type
aliases from a module path, as Puppet's autoloader does (``foo::bar`` -> ``foo/manifests/bar.pp``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import ast
from .errors import DslSyntaxError
from .parser import parse_file

log = logging.getLogger(__name__)


class Definitions:
    """Every class, define, node, function and type alias known to a compilation."""

    def __init__(self) -> None:
        self.classes: dict[str, ast.ClassDef] = {}
        self.defines: dict[str, ast.DefineDef] = {}
        self.nodes: list[ast.NodeDef] = []
        self.functions: dict[str, ast.FunctionDef] = {}
        self.aliases: dict[str, ast.TypeAlias] = {}

    def register_program(self, program: ast.Program) -> None:
        self._register_block(program.body, "")

    def _register_block(self, block: ast.Block, namespace: str) -> None:
        for stmt in block.statements:
            if isinstance(stmt, ast.ClassDef):
                name = _qualify(stmt.name, namespace)
                self._add(self.classes, name, stmt, "class")
                self._register_block(stmt.body, name)
            elif isinstance(stmt, ast.DefineDef):
                self._add(self.defines, _qualify(stmt.name, namespace), stmt, "defined type")
            elif isinstance(stmt, ast.NodeDef):
                self.nodes.append(stmt)
            elif isinstance(stmt, ast.FunctionDef):
                self._add(self.functions, stmt.name.lower().lstrip(":"), stmt, "function")
            elif isinstance(stmt, ast.TypeAlias):
                self._add(self.aliases, stmt.name.lower().lstrip(":"), stmt, "type alias")

    @staticmethod
    def _add(table: dict, name: str, node: ast.Node, what: str) -> None:  # type: ignore[type-arg]
        old = table.get(name)
        if old is not None and old is not node and old.span != node.span:
            raise DslSyntaxError(
                f"{what} '{name}' is already defined at {old.span.file}:{old.span.line}; "
                "a name can be defined only once", node.span)
        table[name] = node


def _qualify(name: str, namespace: str) -> str:
    name = name.lower().lstrip(":")
    if namespace and not name.startswith(namespace + "::") and "::" not in name:
        return f"{namespace}::{name}"
    return name


def site_manifests(path: Path) -> list[Path]:
    """A manifest file, or every ``.pp`` file under a manifest directory in sorted order."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*.pp") if p.is_file())
    return [path]


class Autoloader:
    """Loads definitions on demand from ``<modulepath>/<module>/{manifests,functions,types}``."""

    def __init__(self, modulepath: Sequence[Path], definitions: Definitions) -> None:
        self.modulepath = [Path(p) for p in modulepath]
        self.definitions = definitions
        self._loaded: set[Path] = set()
        self._module_dirs: dict[str, Path | None] = {}

    def module_dir(self, module: str) -> Path | None:
        if module in self._module_dirs:
            return self._module_dirs[module]
        found = None
        for root in self.modulepath:
            candidate = root / module
            if candidate.is_dir():
                found = candidate
                break
        self._module_dirs[module] = found
        return found

    def modules(self) -> Iterator[tuple[str, Path]]:
        seen = set()
        for root in self.modulepath:
            if not root.is_dir():
                continue
            for d in sorted(root.iterdir()):
                if d.is_dir() and d.name not in seen and not d.name.startswith("."):
                    seen.add(d.name)
                    yield d.name, d

    def load_file(self, path: Path) -> bool:
        path = path.resolve() if not path.is_absolute() else path
        if path in self._loaded:
            return False
        self._loaded.add(path)
        if not path.is_file():
            return False
        self.definitions.register_program(parse_file(path))
        return True

    def _candidates(self, name: str, subdir: str, init_for_module: bool) -> list[Path]:
        parts = name.lower().lstrip(":").split("::")
        mod = self.module_dir(parts[0])
        if mod is None:
            return []
        if len(parts) == 1:
            return [mod / subdir / "init.pp"] if init_for_module else []
        return [mod / subdir / Path(*parts[1:-1]) / f"{parts[-1]}.pp", mod / subdir / "init.pp"]

    def find_definition(self, name: str) -> None:
        """Load the file(s) that should define class or defined type ``name``."""
        for path in self._candidates(name, "manifests", True):
            self.load_file(path)
            key = name.lower().lstrip(":")
            if key in self.definitions.classes or key in self.definitions.defines:
                return

    def find_function(self, name: str) -> None:
        for path in self._candidates(name, "functions", False):
            self.load_file(path)

    def find_type_alias(self, name: str) -> None:
        parts = name.lower().lstrip(":").split("::")
        mod = self.module_dir(parts[0])
        if mod is None or len(parts) == 1:
            return
        self.load_file(mod / "types" / Path(*parts[1:-1]) / f"{parts[-1]}.pp")

    def has_ruby_type(self, type_name: str) -> bool:
        """A module may ship a resource type in Ruby (lib/puppet/type/<name>.rb): accept its name."""
        lname = type_name.lower()
        for _, d in self.modules():
            if (d / "lib" / "puppet" / "type" / f"{lname}.rb").is_file():
                return True
        return False

    def has_ruby_function(self, name: str) -> bool:
        parts = name.lower().split("::")
        for _, d in self.modules():
            if (d / "lib" / "puppet" / "functions" / Path(*parts[:-1]) / f"{parts[-1]}.rb").is_file():
                return True
            if len(parts) == 1 and (d / "lib" / "puppet" / "parser" / "functions" / f"{name}.rb").is_file():
                return True
        return False


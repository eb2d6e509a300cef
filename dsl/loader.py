"""Finding code: the site manifest(s) and autoloading classes, defines, functions and type
aliases from a module path, as Puppet's autoloader does (``foo::bar`` -> ``foo/manifests/bar.pp``),
and the resource types modules ship (``<module>/lib/puppet/type/<name>.rb``, or the environment's
``.resource_types/<name>.pp`` that ``puppet generate types`` writes)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import ast
from .errors import DslSyntaxError
from .parser import parse_file
from .resource_types import TypeSpec
from .rubytypes import load_type

log = logging.getLogger(__name__)

_MODULE_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


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

    def __init__(self, modulepath: Sequence[Path], definitions: Definitions, env_dir: Path | None = None) -> None:
        self.modulepath = [Path(p) for p in modulepath]
        self.definitions = definitions
        self.env_dir = Path(env_dir) if env_dir is not None else None
        self._loaded: set[Path] = set()
        self._module_dirs: dict[str, Path | None] = {}
        self._module_list: list[tuple[str, Path]] | None = None
        self._resource_types: dict[str, TypeSpec | None] = {}
        self._roots: set[Path] | None = None  # the module path's directories, resolved

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
        """Every module on the module path (the first of a name wins), in module path order."""
        if self._module_list is None:
            found: list[tuple[str, Path]] = []
            seen = set()
            for root in self.modulepath:
                if not root.is_dir():
                    continue
                for d in sorted(root.iterdir()):
                    if d.is_dir() and d.name not in seen and not d.name.startswith("."):
                        seen.add(d.name)
                        found.append((d.name, d))
            self._module_list = found
        return iter(self._module_list)

    def load_file(self, path: Path) -> bool:
        path = path.resolve() if not path.is_absolute() else path
        if path in self._loaded:
            return False
        self._loaded.add(path)
        if not path.is_file():
            return False
        program = parse_file(path)
        self._check_location(program, path)
        self.definitions.register_program(program)
        return True

    def _check_location(self, program: ast.Program, path: Path) -> None:
        """A module's ``manifests/a/b.pp`` may only define names in ``<module>::a::b`` (``init.pp``:
        ``<module>``), as Puppet's autoloader requires; anything else fails at the definition."""
        manifests = path.parent
        rel: list[str] = []
        while manifests.name != "manifests":
            if manifests.parent == manifests:
                return
            rel.insert(0, manifests.name)
            manifests = manifests.parent
        module_dir = manifests.parent
        if self._roots is None:
            self._roots = {p.resolve() for p in self.modulepath}
        if not _MODULE_NAME.match(module_dir.name) or module_dir.parent.resolve() not in self._roots:
            return  # not a module Puppet would load a class from (e.g. 'saz-rsyslog')
        stem = path.stem.lower()
        namespace = "::".join([module_dir.name.lower(), *(r.lower() for r in rel)]
                              + ([] if not rel and stem == "init" else [stem]))
        for stmt in program.body.statements:
            if isinstance(stmt, (ast.ClassDef, ast.DefineDef)):
                name = stmt.name.lower().lstrip(":")
                if name != namespace and not name.startswith(namespace + "::"):
                    shown = Path(module_dir.parent.name, module_dir.name, "manifests", *rel, path.name)
                    raise DslSyntaxError(f"Unacceptable location. The name '{name}' is unacceptable in file "
                                         f"'{shown}'", stmt.span)

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

    def find_resource_type(self, type_name: str) -> TypeSpec | None:
        """The resource type ``type_name`` a module ships, as Puppet's compiler finds it: the
        environment's generated ``.resource_types/<name>.pp`` first, then the first module with
        ``lib/puppet/type/<name>.rb``. None when there is none. Types live in the global namespace:
        a name with ``::`` is never one. Puppet gives a type its ``provider`` parameter when some
        module ships a provider for it (``lib/puppet/provider/<name>/*.rb``)."""
        lname = type_name.lower().lstrip(":")
        if lname in self._resource_types:
            return self._resource_types[lname]
        spec: TypeSpec | None = None
        if "::" not in lname and lname:
            generated = self.env_dir / ".resource_types" / f"{lname}.pp" if self.env_dir is not None else None
            if generated is not None and generated.is_file():
                spec = load_type(generated)
            else:
                for _, d in self.modules():
                    path = d / "lib" / "puppet" / "type" / f"{lname}.rb"
                    if path.is_file():
                        spec = load_type(path, [m / "lib" for _, m in self.modules()])
                        if self._has_provider(lname):
                            spec = spec.with_provider()
                        break
        self._resource_types[lname] = spec
        return spec

    def _has_provider(self, lname: str) -> bool:
        for _, d in self.modules():
            pdir = d / "lib" / "puppet" / "provider" / lname
            if pdir.is_dir() and any(p.suffix == ".rb" for p in pdir.iterdir()):
                return True
        return False

    def resource_type_files(self) -> Iterator[Path]:
        """Every module's type files (``lib/puppet/type/*.rb``), in module path order."""
        for _, d in self.modules():
            tdir = d / "lib" / "puppet" / "type"
            if tdir.is_dir():
                yield from sorted(tdir.glob("*.rb"))

    def has_ruby_type(self, type_name: str) -> bool:
        """Whether a module ships resource type ``type_name``."""
        return self.find_resource_type(type_name) is not None


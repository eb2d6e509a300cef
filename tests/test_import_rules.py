"""DESIGN.md's layout table, enforced: which package may import which."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "dsl", "master", "agent", "facts", "cli", "wire")

# package -> the modules of other packages it may import (a prefix match on the dotted name)
ALLOWED: dict[str, tuple[str, ...]] = {
    "dsl": ("engine.catalog",),
    "engine": (),
    "facts": (),
    "master": ("dsl", "engine", "facts", "wire"),
    "agent": ("engine", "facts", "wire"),  # the wire protocol, never the master itself
    "cli": ("engine", "dsl", "master", "agent", "facts", "wire"),  # the composition root; no package imports cli
    "wire": (),  # the wire protocol: stubs, client, certificates; what agents and masters share
}
FORBIDDEN_ANYWHERE = {"engine": ("grpc",)}


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
    return found


def _violations() -> list[str]:
    bad = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for name, line in _imports(path):
                top = name.split(".")[0]
                rel = path.relative_to(ROOT)
                if top in FORBIDDEN_ANYWHERE.get(pkg, ()):
                    bad.append(f"{rel}:{line}: {pkg} must not import {name}")
                if top not in PACKAGES or top == pkg:
                    continue
                if not any(name == ok or name.startswith(ok + ".") for ok in ALLOWED[pkg]):
                    bad.append(f"{rel}:{line}: {pkg} may not import {name}")
    return bad


def test_packages_respect_the_layout() -> None:
    assert _violations() == []


def test_the_checker_sees_a_violation(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "engine"
    fake.mkdir()
    (fake / "bad.py").write_text("import dsl.parser\nimport grpc\n")
    for pkg in PACKAGES:
        if pkg != "engine":
            (tmp_path / pkg).mkdir()
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert len(_violations()) == 2

"""Helpers for engine tests: catalogs built in code, throwaway roots, the converge protocol."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.apply import apply_catalog
from engine.catalog import Catalog, Resource
from engine.report import Report


class CatalogBuilder:
    """A catalog like the compiler makes: Stage[main] > Class[Main] > resources, in order."""

    def __init__(self, name: str = "node.example.com") -> None:
        self.catalog = Catalog(name, version=1)
        self.catalog.add(Resource("Stage", "main", tags=["stage"]))
        self.catalog.add(Resource("Class", "Main", tags=["class"]))
        self.catalog.add_edge("Stage[main]", "Class[Main]")
        self.line = 0

    def add(self, type_name: str, title: str, container: str = "Class[Main]", tags: list[str] | None = None,
            sensitive: list[str] | None = None, **params: Any) -> str:
        self.line += 1
        res = Resource(type_name, title, parameters=params, tags=[type_name.lower(), *(tags or [])],
                       file="/etc/site.pp", line=self.line, sensitive_parameters=sensitive or [])
        self.catalog.add(res)
        self.catalog.add_edge(container, res.ref)
        return res.ref

    def container(self, type_name: str, title: str, parent: str = "Class[Main]", **params: Any) -> str:
        return self.add(type_name, title, container=parent, **params)


def changes(report: Report) -> set[tuple[str, str | None]]:
    """(resource, property) of every event that changed or would change something."""
    return {(ref, e.property) for ref, s in report.resource_statuses.items() for e in s.events
            if e.status in ("success", "noop")}


def failures(report: Report) -> dict[str, list[str]]:
    return {ref: [e.message for e in s.events if e.status == "failure"]
            for ref, s in report.resource_statuses.items() if s.failed}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:"
                                  "/usr/sbin/nologin\n")
    (r / "etc/group").write_text("root:x:0:\nusers:x:100:\ncrontab:x:101:\nnogroup:x:65534:\n")
    (r / "etc/shadow").write_text("root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n")
    (r / "etc/gshadow").write_text("root:*::\nusers:*::\ncrontab:*::\nnogroup:*::\n")
    for name in ("passwd", "group"):
        (r / "etc" / name).chmod(0o644)
    for name in ("shadow", "gshadow"):
        (r / "etc" / name).chmod(0o640)
    return r


#: What commands in the tests' images use: a shell and a few coreutils.
SHELL_PROGRAMS = ("sh", "touch", "cat", "sleep", "id", "rm", "wc", "false", "true", "test", "pwd", "mkdir")


def install_programs(root: Path, *names: str) -> None:
    """Copy host programs and the shared libraries ``ldd`` lists into ``root`` (merged /usr, as Debian),
    so commands chrooted into the root find a working /bin/sh and friends."""
    usr = root / "usr"
    for d in ("bin", "lib", "lib64", "sbin"):
        (usr / d).mkdir(parents=True, exist_ok=True)
        if not (root / d).exists():
            (root / d).symlink_to(f"usr/{d}")
    needed: set[str] = set()
    for name in names:
        found = shutil.which(name)
        assert found is not None, f"no {name} on this host"
        shutil.copy2(Path(found).resolve(), usr / "bin" / name)
        out = subprocess.run(["ldd", found], capture_output=True, text=True).stdout
        needed.update(re.findall(r"(/\S+) \(0x", out))
    for lib in needed:
        real = Path(lib).resolve()
        dest = root / lib.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            shutil.copy2(real, dest)


@pytest.fixture
def shell_root(root: Path) -> Path:
    """The minimal root with /bin/sh and a few coreutils inside it."""
    install_programs(root, *SHELL_PROGRAMS)
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "dev").mkdir(exist_ok=True)
    os.mknod(root / "dev/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # init scripts redirect to it
    return root


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def converge(catalog: Catalog, root: Path, state: Path, **kw: Any) -> tuple[Report, Report, Report]:
    """noop, enforce, enforce again: the noop predicts the first enforce exactly, the second is a no-op,
    and nothing fails."""
    predicted = apply_catalog(catalog, root=root, state_dir=state, noop=True, **kw)
    assert not failures(predicted), failures(predicted)
    first = apply_catalog(catalog, root=root, state_dir=state, **kw)
    assert not failures(first), failures(first)
    assert changes(predicted) == changes(first)
    assert all(e.status == "noop" for s in predicted.resource_statuses.values() for e in s.events)
    second = apply_catalog(catalog, root=root, state_dir=state, **kw)
    assert not failures(second), failures(second)
    assert changes(second) == set(), changes(second)
    assert second.status == "unchanged"
    return predicted, first, second

"""The module corpus: real public Puppet modules compiled by Puppet 7.23 and by Bunraku.

Shared by ``modules_corpus/regen.py`` (which asks Puppet) and ``test_modules_corpus.py`` (which
compiles the same cases with Bunraku and compares).

The modules are Debian's ``puppet-module-*`` packages (``/usr/share/puppet/modules/<name>``, never
committed here). A *case* is one manifest compiled for node ``corpus.example.com`` with the facts of
``modules_corpus/facts.yaml`` and the modulepath ``/usr/share/puppet/modules``:

* ``<module>/include`` — ``include <module>``, for every module with ``manifests/init.pp``;
* ``<module>/examples/<path>.pp`` — each example manifest the module ships, in its own
  ``examples/`` or in Debian's ``/usr/share/doc/<package>/examples/`` (maybe gzipped);
* ``roles/<name>.pp`` — our own role manifests (``modules_corpus/roles/``) that declare the modules
  with parameters, as sites do; their expectations are ``expected/roles.json.gz``.

What Puppet made of each case is committed in ``modules_corpus/``:

* ``expected/<module>.json.gz`` — ``{"version": <module version>, "catalogs": {case: catalog}}``,
  catalogs normalised (``catalog_compare.normalise_catalog``; ``file`` paths as
  ``modules/<module>/manifests/...`` or the case name for the case's own manifest);
* ``errors.yaml`` — ``case: {message, file, line, column}`` where Puppet refused to compile.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from catalog_compare import normalise_catalog

MODULES_DIR = Path("/usr/share/puppet/modules")
DOC_DIR = Path("/usr/share/doc")
CORPUS_DIR = Path(__file__).resolve().parent / "modules_corpus"
EXPECTED_DIR = CORPUS_DIR / "expected"
ERRORS_FILE = CORPUS_DIR / "errors.yaml"
FACTS_FILE = CORPUS_DIR / "facts.yaml"
PASSING_FILE = CORPUS_DIR / "passing.txt"
KNOWN_FAILURES_FILE = CORPUS_DIR / "known_failures.txt"
ROLES_DIR = CORPUS_DIR / "roles"
#: the pseudo-module of the role manifests (no module has this name)
ROLES = "roles"
NODE = "corpus.example.com"


@dataclass(frozen=True)
class ModuleCase:
    """One manifest of the corpus."""

    name: str
    module: str
    #: the example manifest (``.pp`` or ``.pp.gz``); None for ``<module>/include``
    source: Path | None = None

    def manifest_text(self) -> str:
        if self.source is None:
            return f"include {self.module}\n"
        data = self.source.read_bytes()
        if self.source.suffix == ".gz":
            data = gzip.decompress(data)
        return data.decode("utf-8")

    def write_manifest(self, root: Path) -> Path:
        """The case's manifest written under ``root`` as ``root/<case name>[.pp]``."""
        path = root / (self.name if self.name.endswith(".pp") else self.name + ".pp")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.manifest_text(), encoding="utf-8")
        return path


def module_names(modules_dir: Path = MODULES_DIR) -> list[str]:
    if not modules_dir.is_dir():
        return []
    return sorted(p.name for p in modules_dir.iterdir() if (p / "manifests").is_dir())


def module_version(module: str, modules_dir: Path = MODULES_DIR) -> str | None:
    meta = modules_dir / module / "metadata.json"
    try:
        version = json.loads(meta.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError):
        return None
    return str(version) if version is not None else None


def doc_examples_dir(module: str, modules_dir: Path = MODULES_DIR) -> Path | None:
    """Debian moves a module's ``examples/`` to ``/usr/share/doc/<package>/examples``."""
    package_dir = (modules_dir / module).resolve().name
    for candidate in (DOC_DIR / f"puppet-module-{package_dir}", DOC_DIR / package_dir):
        if (candidate / "examples").is_dir():
            return candidate / "examples"
    return None


def _example_name(module: str, rel: Path) -> str:
    name = str(rel)
    if name.endswith(".gz"):
        name = name[:-3]
    return f"{module}/examples/{name}"


def discover_cases(modules_dir: Path = MODULES_DIR) -> list[ModuleCase]:
    """Every case the installed modules offer, sorted by name."""
    cases: dict[str, ModuleCase] = {}
    for module in module_names(modules_dir):
        root = modules_dir / module
        if (root / "manifests" / "init.pp").is_file():
            cases[f"{module}/include"] = ModuleCase(f"{module}/include", module)
        for examples in (root / "examples", doc_examples_dir(module, modules_dir)):
            if examples is None or not examples.is_dir():
                continue
            for path in sorted(examples.rglob("*")):
                if path.is_file() and (path.name.endswith(".pp") or path.name.endswith(".pp.gz")):
                    name = _example_name(module, path.relative_to(examples))
                    cases.setdefault(name, ModuleCase(name, module, path))
    if modules_dir.is_dir() and ROLES_DIR.is_dir():
        for path in sorted(ROLES_DIR.glob("*.pp")):
            name = f"{ROLES}/{path.name}"
            cases[name] = ModuleCase(name, ROLES, path)
    return [cases[k] for k in sorted(cases)]


def path_bases(manifest_root: Path, modules_dir: Path = MODULES_DIR) -> list[tuple[Path, str]]:
    """``(directory, prefix)`` pairs that make ``file`` paths independent of where things live."""
    bases: list[tuple[Path, str]] = [(manifest_root, "")]
    for module in module_names(modules_dir):
        bases.append((modules_dir / module, f"modules/{module}"))
    bases.append((modules_dir, "modules"))
    return bases


def relative_file(path: str | None, bases: Iterable[tuple[Path, str]]) -> str | None:
    """``path`` as the corpus writes it (see :func:`path_bases`)."""
    if not path:
        return path
    normalised = normalise_catalog({"resources": [{"type": "X", "title": "x", "file": path}]}, bases)
    file = normalised["resources"][0]["file"]
    assert isinstance(file, str)
    return file


# --------------------------------------------------------------------------------------------------
# the committed expectations


def expected_path(module: str) -> Path:
    return EXPECTED_DIR / f"{module}.json.gz"


def load_expected_module(module: str) -> dict[str, Any] | None:
    path = expected_path(module)
    if not path.is_file():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    assert isinstance(data, dict)
    return data


def write_expected_module(module: str, doc: dict[str, Any]) -> None:
    path = expected_path(module)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(doc, indent=1, sort_keys=False, ensure_ascii=False) + "\n"
    # mtime=0 and no file name in the header: the same catalogs give the same bytes
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
        fh.write(text.encode("utf-8"))


def load_errors() -> dict[str, dict[str, Any]]:
    if not ERRORS_FILE.is_file():
        return {}
    data = yaml.safe_load(ERRORS_FILE.read_text(encoding="utf-8")) or {}
    assert isinstance(data, dict)
    return data


def write_errors(errors: dict[str, dict[str, Any]]) -> None:
    header = (
        "# Puppet 7.23's errors for the module corpus cases it refused to compile (written by\n"
        "# modules_corpus/regen.py). Bunraku must fail too, at the same file and line; its messages\n"
        "# are its own.\n"
    )
    ERRORS_FILE.write_text(
        header + yaml.safe_dump(errors, sort_keys=True, allow_unicode=True, width=1000), encoding="utf-8"
    )


def read_list(path: Path) -> dict[str, str]:
    """``case  # comment`` lines -> {case: comment}."""
    out: dict[str, str] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, comment = line.partition("#")
        out[name.strip()] = comment.strip()
    return out


_SPACES_RE = re.compile(r"\s+")


def one_line(text: str, limit: int = 160) -> str:
    text = _SPACES_RE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."

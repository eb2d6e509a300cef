#!/usr/bin/env python3
"""Rebuild the module corpus's expectations with Puppet 7.23 (see ``tests/dsl/module_corpus.py``).

Usage (needs ``/usr/bin/puppet`` and Debian's ``puppet-module-*`` packages)::

    .venv/bin/python tests/dsl/modules_corpus/regen.py                 # every case
    .venv/bin/python tests/dsl/modules_corpus/regen.py apache ntp/include   # these modules / cases
    .venv/bin/python tests/dsl/modules_corpus/regen.py roles           # only the role manifests (roles/)
    .venv/bin/python tests/dsl/modules_corpus/regen.py -j 2            # parallel Puppet runs (default 2)

Each case is compiled as the golden suite's cases are (``tests/dsl/golden/regen.py``: a private Puppet
tree under /tmp, facts through the yaml facts terminus), with ``--basemodulepath
/usr/share/puppet/modules`` and the case's manifest written to a scratch directory. Catalogs go to
``expected/<module>.json.gz`` (normalised), errors to ``errors.yaml``. Tests never run this script.
After a regen, run ``.venv/bin/python tests/dsl/test_modules_corpus.py --update`` to rebuild the
pass list and the known failures.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import re
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from catalog_compare import load_facts, normalise_catalog  # noqa: E402
from module_corpus import (  # noqa: E402
    FACTS_FILE,
    MODULES_DIR,
    NODE,
    ModuleCase,
    discover_cases,
    load_errors,
    load_expected_module,
    module_version,
    path_bases,
    relative_file,
    write_errors,
    write_expected_module,
)


def _load_golden_regen() -> Any:
    spec = importlib.util.spec_from_file_location("golden_regen", HERE.parent / "golden" / "regen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


golden_regen = _load_golden_regen()
log = logging.getLogger("modules_corpus.regen")

ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
ERROR_RE = re.compile(r"^Error: (?P<msg>.*)$", re.MULTILINE)
POS_RE = re.compile(
    r"\s*\((?:file: (?P<file>[^,)]+)(?:, )?)?(?:line: (?P<line>\d+))?(?:, column: (?P<col>\d+))?\)"
)


def parse_error(text: str, bases: list[tuple[Path, str]], scratch: Path) -> dict[str, Any]:
    """Puppet's first error: message, file (as the corpus writes paths), line and column."""
    text = ANSI_RE.sub("", text)
    match = ERROR_RE.search(text)
    if match is None:
        last = text.strip().splitlines()[-1] if text.strip() else ""
        return {"message": last, "file": None, "line": None, "column": None}
    msg = match.group("msg")
    msg = re.sub(r"^Could not call 'find' on 'catalog': ", "", msg)
    msg = re.sub(r" on node \S+$", "", msg)
    file: str | None = None
    line = col = None
    positions = [p for p in POS_RE.finditer(msg) if p.group("file") or p.group("line")]
    if positions:
        pos = positions[-1]
        file = relative_file(pos.group("file"), bases)
        line = int(pos.group("line")) if pos.group("line") else None
        col = int(pos.group("col")) if pos.group("col") else None
        if pos.end() == len(msg):
            msg = msg[: pos.start()]
    msg = msg.replace(str(scratch) + "/", "").replace(str(MODULES_DIR) + "/", "modules/")
    return {"message": msg.strip(), "file": file, "line": line, "column": col}


def run_case(
    case: ModuleCase, facts: dict[str, Any]
) -> tuple[ModuleCase, dict[str, Any] | None, dict[str, Any] | None]:
    """(case, normalised catalog, error) — exactly one of the two is set."""
    scratch = Path(tempfile.mkdtemp(prefix="bunraku-modcorpus-"))
    run = golden_regen.PuppetRun(NODE, facts)
    try:
        manifest = case.write_manifest(scratch)
        bases = path_bases(scratch)
        catalog, err = run.compile(manifest, [MODULES_DIR], None)
        if catalog is None:
            return case, None, parse_error(err, bases, scratch)
        return case, normalise_catalog(catalog, bases), None
    finally:
        run.cleanup()
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", help="only these modules or cases")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="Puppet processes at once")
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if not MODULES_DIR.is_dir():
        log.error("%s is absent: install Debian's puppet-module-* packages", MODULES_DIR)
        return 1
    only = set(opts.names)
    cases = [c for c in discover_cases() if not only or c.name in only or c.module in only]
    facts = load_facts(FACTS_FILE)
    errors = load_errors()
    modules = sorted({c.module for c in cases})
    catalogs: dict[str, dict[str, Any]] = {}
    for module in modules:
        old = load_expected_module(module) or {}
        catalogs[module] = dict(old.get("catalogs", {}))
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        for case, catalog, error in pool.map(lambda c: run_case(c, facts), cases):
            done += 1
            catalogs[case.module].pop(case.name, None)
            errors.pop(case.name, None)
            if catalog is not None:
                catalogs[case.module][case.name] = catalog
                log.info("[%d/%d] %s: %d resources", done, len(cases), case.name, len(catalog["resources"]))
            else:
                assert error is not None
                errors[case.name] = error
                log.info(
                    "[%d/%d] %s: error at %s:%s: %s",
                    done,
                    len(cases),
                    case.name,
                    error["file"],
                    error["line"],
                    error["message"][:120],
                )
    present = {c.name for c in discover_cases()}
    for module in modules:
        kept = {k: v for k, v in sorted(catalogs[module].items()) if k in present}
        write_expected_module(module, {"version": module_version(module), "catalogs": kept})
    write_errors({k: v for k, v in errors.items() if k in present})
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Record Puppet's view of the resource types Debian's ``puppet-module-*`` packages ship.

Usage (needs ``/usr/bin/puppet`` and the modules under ``/usr/share/puppet/modules``)::

    .venv/bin/python tests/dsl/module_types/regen.py

Runs ``puppet generate types`` over a private environment whose ``modules/`` links every installed
module, reads the generated ``.resource_types/*.pp`` and writes ``puppet_types.json``: for each type
file (by path under the module directory, with its SHA-256) the properties, parameters, namevars and
title patterns Puppet found by loading the Ruby. ``tests/dsl/test_rubytypes.py`` holds the static
reading of the same files against it (for files whose hash still matches), so the test never needs
Puppet.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from dsl.rubytypes import read_generated_type  # noqa: E402

MODULES = Path("/usr/share/puppet/modules")
OUT = HERE / "puppet_types.json"


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="bunraku-types-"))
    try:
        env = root / "envs" / "production"
        (env / "modules").mkdir(parents=True)
        for sub in ("confdir", "vardir", "codedir", "empty"):
            (root / sub).mkdir()
        for module in sorted(MODULES.iterdir()):
            (env / "modules" / module.name).symlink_to(module.resolve())
        subprocess.run(
            ["/usr/bin/puppet", "generate", "types", "--environment", "production",
             "--environmentpath", str(root / "envs"), "--confdir", str(root / "confdir"),
             "--vardir", str(root / "vardir"), "--codedir", str(root / "codedir"),
             "--basemodulepath", str(root / "empty"), "--vendormoduledir", str(root / "empty"),
             "--color", "false"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        types: dict[str, dict[str, object]] = {}
        for rb in sorted(MODULES.glob("*/lib/puppet/type/*.rb")):
            generated = env / ".resource_types" / f"{rb.stem}.pp"
            if not generated.is_file():
                continue
            spec = read_generated_type(generated)
            types[str(rb.relative_to(MODULES))] = {
                "sha256": hashlib.sha256(rb.read_bytes()).hexdigest(),
                "properties": list(spec.properties),
                "parameters": list(spec.parameters),
                "namevars": [a.name for a in spec.attributes if a.namevar],
                "title_patterns": [[p.source, list(p.attributes)] for p in spec.title_patterns or ()],
            }
        lines = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in types.items())
        OUT.write_text("{\n" + lines + "\n}\n", encoding="utf-8")
        print(f"{len(types)} types written to {OUT}")
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""Regenerate expected.json: what Puppet itself says each expression of cases.yaml evaluates to.

Needs Puppet 7 (``apt-get install puppet``) and Debian's puppet-module-* packages (stdlib and the other
modules whose functions the cases call). The tests never run Puppet; they compare Bunraku with the
committed expected.json.

    .venv/bin/python tests/dsl/functions_puppet/regen.py [--modulepath DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from tests.dsl.functions_puppet.cases import load_cases  # noqa: E402

_PREFIX = re.compile(r"^(?:Evaluation Error: )?(?:Error while evaluating a (?:Function|Method) [Cc]all, )?")
_POSITION = re.compile(r"\s*\((?:file: [^,]*, )?line: \d+(?:, column: \d+)?\)(?: on node \S+)?$")


def clean(message: str) -> str:
    return _POSITION.sub("", _PREFIX.sub("", message))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modulepath", default="/usr/share/puppet/modules")
    args = parser.parse_args()
    cases = load_cases()
    payload = [{"setup": c.setup, "expr": c.expr, "facts": c.facts} for c in cases]
    proc = subprocess.run(["ruby", str(HERE / "puppet_eval.rb"), args.modulepath], input=json.dumps(payload),
                          capture_output=True, text=True, check=True)
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    version = subprocess.run(["puppet", "--version"], capture_output=True, text=True).stdout.strip()
    expected = {"puppet": version, "cases": {}}
    for case, result in zip(cases, results, strict=True):
        if "error" in result:
            result = {"error": clean(result["error"])}
        expected["cases"][case.key] = result
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
    errors = sum(1 for r in results if "error" in r)
    print(f"{len(cases)} cases ({errors} errors) from Puppet {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Regenerate expected.json: what Puppet itself says each expression of case_list.py evaluates to, with
functions_puppet's evaluator (puppet_eval.rb) and its error cleaning. Needs Puppet 7; the tests never run
Puppet, they compare Bunraku with the committed expected.json.

    .venv/bin/python tests/dsl/core_puppet/regen.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from tests.dsl.core_puppet.cases import load_cases  # noqa: E402
from tests.dsl.functions_puppet.regen import HERE as FUNCTIONS_DIR  # noqa: E402
from tests.dsl.functions_puppet.regen import clean  # noqa: E402


def main() -> int:
    cases = load_cases()
    payload = [{"setup": c.setup, "expr": c.expr, "facts": c.facts} for c in cases]
    proc = subprocess.run(["ruby", str(FUNCTIONS_DIR / "puppet_eval.rb"), "/nonexistent"],
                          input=json.dumps(payload), capture_output=True, text=True, check=True)
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    version = subprocess.run(["puppet", "--version"], capture_output=True, text=True).stdout.strip()
    expected: dict[str, object] = {"puppet": version, "cases": {}}
    for case, result in zip(cases, results, strict=True):
        if "error" in result:
            result = {"error": clean(result["error"])}
        expected["cases"][case.key] = result  # type: ignore[index]
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")
    errors = sum(1 for r in results if "error" in r)
    print(f"{len(cases)} cases ({errors} errors) from Puppet {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

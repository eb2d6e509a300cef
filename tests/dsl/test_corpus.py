"""Parse corpus: every real-world module file Puppet 7.23 accepts must parse with Bunraku too.

The corpus is Debian's ``puppet-module-*`` packages (installed by ``.ci/run``) under
/usr/share/puppet/modules.available; ``corpus_accepted.txt`` lists the files Puppet's
``puppet parser validate`` accepts (rebuilt by ``corpus_list.sh``). None of that code lives in this
repository.

``corpus_known_failures.txt`` lists the files Bunraku's parser is known not to handle yet; they are
reported separately and do not fail the run, but a listed file that parses now fails it (strict, like
``xfail(strict=True)``), so the list only ever shrinks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS_ROOT = Path("/usr/share/puppet/modules.available")
ACCEPTED_LIST = Path(__file__).resolve().parent / "corpus_accepted.txt"
KNOWN_FAILURES = Path(__file__).resolve().parent / "corpus_known_failures.txt"
#: how many failures to spell out in full; the rest are counted
MAX_REPORTED = 200


def _listed(path: Path) -> list[str]:
    if not path.is_file():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def accepted_files() -> list[Path]:
    return [CORPUS_ROOT / rel for rel in _listed(ACCEPTED_LIST)]


def test_corpus_parses() -> None:
    if not CORPUS_ROOT.is_dir():
        pytest.skip(f"{CORPUS_ROOT} is absent: install Debian's puppet-module-* packages to run the corpus")
    import dsl.errors as errors
    import dsl.parser as parser

    files = [p for p in accepted_files() if p.is_file()]
    if not files:
        pytest.skip(f"none of the files listed in {ACCEPTED_LIST.name} exist under {CORPUS_ROOT}")
    known = set(_listed(KNOWN_FAILURES))
    failures: list[str] = []
    known_failing: set[str] = set()
    for path in files:
        rel = str(path.relative_to(CORPUS_ROOT))
        try:
            parser.parse_file(path)
        except errors.DslError as exc:
            if rel in known:
                known_failing.add(rel)
            else:
                failures.append(f"{rel}: {exc}")
        except RecursionError:
            failures.append(f"{rel}: RecursionError (nesting too deep for the parser)")
    present = {str(p.relative_to(CORPUS_ROOT)) for p in files}
    fixed = sorted((known - known_failing) & present)
    problems: list[str] = []
    if failures:
        shown = "\n".join(failures[:MAX_REPORTED])
        more = f"\n... and {len(failures) - MAX_REPORTED} more" if len(failures) > MAX_REPORTED else ""
        problems.append(
            f"{len(failures)} of {len(files)} files Puppet accepts failed to parse:\n{shown}{more}"
        )
    if fixed:
        problems.append(
            f"{len(fixed)} file(s) in {KNOWN_FAILURES.name} parse now; remove them from the list:\n"
            + "\n".join(fixed)
        )
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)

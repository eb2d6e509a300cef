"""External facts (every format), custom facts (dependencies, failures, timeouts), precedence, the runner."""

from __future__ import annotations

import logging
import stat
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from facts import collect_facts, external
from facts.api import collect_custom
from facts.registry import COLLECTORS, collector
from facts.runner import Task, run_tasks


def write(path: Path, text: str, *, executable: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


# -- external facts ------------------------------------------------------------------------------
def test_parsers_of_each_format() -> None:
    assert external.parse_key_value("# comment\n\nrole=db\nkey = a=b \n") == {"role": "db", "key": "a=b"}
    with pytest.raises(external.ExternalFactError, match="line 1 is not key=value"):
        external.parse_key_value("no equals sign")
    assert external.parse_yaml("a: 1\nb: [x, y]\n") == {"a": 1, "b": ["x", "y"]}
    assert external.parse_yaml("") == {}
    with pytest.raises(external.ExternalFactError, match="mapping"):
        external.parse_yaml("- a\n- b\n")
    assert external.parse_json('{"a": {"b": true}}') == {"a": {"b": True}}
    with pytest.raises(external.ExternalFactError, match="invalid JSON"):
        external.parse_json("{")
    assert external.parse_executable_output('{"x": 1}') == {"x": 1}
    assert external.parse_executable_output("x=1\ny=2\n") == {"x": "1", "y": "2"}
    assert external.parse_executable_output("x: 1\ny:\n  z: 2\n") == {"x": 1, "y": {"z": 2}}
    assert external.parse_executable_output("") == {}


def test_external_facts_of_every_format(tmp_path: Path) -> None:
    d = tmp_path / "facts.d"
    write(d / "a.yaml", "datacenter: ams1\nrack: {row: 3}\n")
    write(d / "b.json", '{"team": "infra", "tags": ["a", "b"]}')
    write(d / "c.txt", "role=db\n")
    write(d / "d.sh", "#!/bin/sh\necho 'from_script=yes'\necho 'count=3'\n", executable=True)
    write(d / "e.py", "#!/bin/sh\necho '{\"exec_json\": {\"nested\": 1}}'\n", executable=True)
    write(d / "f", "#!/bin/sh\nprintf 'exec_yaml:\\n  - one\\n'\n", executable=True)
    write(d / "ignored.conf", "not=read\n")
    write(d / "c.txt~", "backup=1\n")
    facts = collect_facts(external_dirs=[d], include_legacy=False)
    assert facts["datacenter"] == "ams1" and facts["rack"] == {"row": 3}
    assert facts["team"] == "infra" and facts["tags"] == ["a", "b"]
    assert facts["role"] == "db"
    assert facts["from_script"] == "yes" and facts["count"] == "3"
    assert facts["exec_json"] == {"nested": 1}
    assert facts["exec_yaml"] == ["one"]
    assert "not" not in facts and "backup" not in facts


def test_external_facts_override_core_and_later_dirs_win(tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    write(first / "os.yaml", "os: {family: Plan9}\nkernel: Hurd\nsite: first\n")
    write(second / "site.txt", "site=second\nosfamily=Overridden\n")
    facts = collect_facts(external_dirs=[first, second])
    assert facts["os"] == {"family": "Plan9"}
    assert facts["kernel"] == "Hurd"
    assert facts["site"] == "second"
    assert facts["osfamily"] == "Overridden"
    # the legacy names still come from the core facts, not from the override
    assert collect_facts(external_dirs=[first])["osfamily"] == "Debian"


def test_broken_and_slow_external_facts_warn_and_are_missing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    d = tmp_path / "facts.d"
    write(d / "bad.json", "{not json")
    write(d / "bad.yaml", "- a list\n")
    write(d / "fails.sh", "#!/bin/sh\necho 'x=1'\nexit 3\n", executable=True)
    write(d / "slow.sh", "#!/bin/sh\nsleep 60\necho 'slow=1'\n", executable=True)
    write(d / "good.txt", "good=1\n")
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    facts = collect_facts(external_dirs=[d], include_legacy=False, timeout=2.0)
    assert time.monotonic() - started < 30  # a hang check: the script (sleeping a minute) was killed
    assert facts["good"] == "1"
    assert "x" not in facts and "slow" not in facts
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "bad.json failed" in messages and "invalid JSON" in messages
    assert "bad.yaml failed" in messages
    assert "fails.sh failed" in messages and "exited with status 3" in messages
    assert "slow.sh" in messages
    assert "os" in facts


def test_missing_external_dir_is_fine(tmp_path: Path) -> None:
    assert external.fact_files([tmp_path / "nope"]) == []
    assert list(external.DEFAULT_DIRS) == [Path("/etc/facter/facts.d"), Path("/etc/puppetlabs/facter/facts.d"),
                                           Path("/etc/bunraku/facts.d")]


# -- custom facts --------------------------------------------------------------------------------
CUSTOM_ROLE = """\
from facts import fact


@fact("role", needs=("os", "tier"))
def role(facts):
    return f"{facts['tier']}-{facts['os']['family'].lower()}"


@fact("tier", needs=("networking.hostname",))
def tier(facts):
    return "web" if facts["networking"]["hostname"] else "none"


@fact("uses_external", needs=("datacenter",))
def uses_external(facts):
    return "in " + facts["datacenter"]


@fact("nothing")
def nothing(facts):
    return None
"""

CUSTOM_BROKEN = """\
import time

from facts import fact


@fact("explodes")
def explodes(facts):
    raise RuntimeError("boom")


@fact("sleeps", timeout=0.3)
def sleeps(facts):
    time.sleep(60)
    return "late"


@fact("after_explodes", needs=("explodes",))
def after(facts):
    return "explodes" in facts


@fact("cycle_a", needs=("cycle_b",))
def cycle_a(facts):
    return 1


@fact("cycle_b", needs=("cycle_a",))
def cycle_b(facts):
    return 2
"""


def test_custom_facts_in_dependency_order_from_a_module_path(tmp_path: Path) -> None:
    modulepath = tmp_path / "modules"
    write(modulepath / "profile" / "facts" / "role.py", CUSTOM_ROLE)
    write(modulepath / "profile" / "facts" / "_private.py", "raise SystemExit('never loaded')\n")
    ext = tmp_path / "facts.d"
    write(ext / "dc.txt", "datacenter=ams1\n")
    facts = collect_facts(external_dirs=[ext], custom_dirs=[modulepath])
    assert facts["tier"] == "web"
    assert facts["role"] == "web-debian"
    assert facts["uses_external"] == "in ams1"
    assert "nothing" not in facts


def test_custom_dir_forms(tmp_path: Path) -> None:
    write(tmp_path / "flat" / "a.py", 'from facts import fact\n\n\n@fact("flat")\ndef f(facts):\n    return 1\n')
    write(tmp_path / "mod" / "facts" / "b.py", 'from facts import fact\n\n\n@fact("module")\ndef f(facts):\n    return 2\n')
    facts = collect_facts(external_dirs=[], custom_dirs=[tmp_path / "flat", tmp_path / "mod"], include_legacy=False)
    assert facts["flat"] == 1 and facts["module"] == 2


def test_failing_slow_and_cyclic_custom_facts_warn_and_are_missing(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path / "broken.py", CUSTOM_BROKEN)
    write(tmp_path / "syntax.py", "def (:\n")
    caplog.set_level(logging.WARNING)
    started = time.monotonic()
    facts = collect_facts(external_dirs=[], custom_dirs=[tmp_path], include_legacy=False)
    assert time.monotonic() - started < 30  # a hang check: "sleeps" sleeps a minute
    for name in ("explodes", "sleeps", "cycle_a", "cycle_b"):
        assert name not in facts
    assert facts["after_explodes"] is False
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert "custom fact explodes failed: RuntimeError: boom" in messages
    assert "custom fact sleeps timed out" in messages
    assert "cycle_a is in a dependency cycle" in messages
    assert "syntax.py failed: SyntaxError" in messages
    assert "os" in facts


def test_external_facts_beat_custom_facts(tmp_path: Path) -> None:
    write(tmp_path / "custom" / "role.py",
          'from facts import fact\n\n\n@fact("role")\ndef r(facts):\n    return "custom"\n\n\n'
          '@fact("sees_role", needs=("role",))\ndef s(facts):\n    return facts["role"]\n')
    write(tmp_path / "ext" / "role.txt", "role=external\n")
    facts = collect_facts(external_dirs=[tmp_path / "ext"], custom_dirs=[tmp_path / "custom"])
    assert facts["role"] == "external"
    assert facts["sees_role"] == "external"


def test_custom_facts_override_core(tmp_path: Path) -> None:
    write(tmp_path / "k.py", 'from facts import fact\n\n\n@fact("kernel")\ndef k(facts):\n    return "custom"\n')
    assert collect_facts(external_dirs=[], custom_dirs=[tmp_path])["kernel"] == "custom"


def test_collect_custom_without_files_is_empty(tmp_path: Path) -> None:
    assert collect_custom([tmp_path], {}, timeout=1.0) == {}


# -- the runner and slow core collectors ---------------------------------------------------------
def test_runner_orders_by_needs_and_survives_failures(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def make(name: str, value: Any) -> Any:
        def run(facts: Mapping[str, Any]) -> Any:
            seen.append(name)
            if isinstance(value, Exception):
                raise value
            return {name: value, "saw": sorted(facts)}

        return run

    facts: dict[str, Any] = {}
    results = run_tasks([Task("c", make("c", 3), needs=("b",)), Task("b", make("b", ValueError("no")), needs=("a",)),
                         Task("a", make("a", 1)), Task("d", make("d", 4), needs=("elsewhere",))],
                        timeout=5.0, merge=lambda _n, v, f: f.update(v), facts=facts)
    assert seen.index("a") < seen.index("b") < seen.index("c")
    assert set(results) == {"a", "c", "d"}
    assert "a" in results["c"]["saw"] and "b" not in results["c"]["saw"]
    assert "fact collector b failed: ValueError: no" in caplog.text


def test_runner_times_out_a_hung_task(caplog: pytest.LogCaptureFixture) -> None:
    def hang(_facts: Mapping[str, Any]) -> Any:
        time.sleep(60)
        return {"late": True}

    started = time.monotonic()
    results = run_tasks([Task("hang", hang, timeout=0.2), Task("quick", lambda f: {"quick": 1}),
                         Task("after", lambda f: {"after": "hang" in f}, needs=("hang",))],
                        timeout=10.0, merge=lambda _n, v, f: f.update(v))
    assert time.monotonic() - started < 30  # a hang check, not a timing test
    assert set(results) == {"quick", "after"}
    assert "fact collector hang timed out" in caplog.text


def test_a_hung_or_broken_core_collector_never_breaks_collection(caplog: pytest.LogCaptureFixture) -> None:
    @collector("zz_test_hangs")
    def hangs(_facts: Mapping[str, Any]) -> dict[str, Any]:
        time.sleep(60)
        return {"zz_hung": True}

    @collector("zz_test_raises")
    def raises(_facts: Mapping[str, Any]) -> dict[str, Any]:
        raise OSError("unreadable")

    @collector("zz_test_not_a_mapping")
    def not_a_mapping(_facts: Mapping[str, Any]) -> Any:
        return ["oops"]

    try:
        with pytest.raises(ValueError, match="duplicate fact collector"):
            collector("zz_test_raises")(raises)
        caplog.set_level(logging.WARNING)
        started = time.monotonic()
        facts = collect_facts(external_dirs=[], timeout=2.0)
        assert time.monotonic() - started < 30  # a hang check, not a timing test
        assert "zz_hung" not in facts
        assert facts["os"]["family"] == "Debian"
        assert "zz_test_hangs timed out" in caplog.text
        assert "zz_test_raises failed: OSError: unreadable" in caplog.text
        assert "zz_test_not_a_mapping returned an unusable value" in caplog.text
    finally:
        for name in ("zz_test_hangs", "zz_test_raises", "zz_test_not_a_mapping"):
            COLLECTORS.pop(name, None)


def test_runner_many_tasks_with_fan_in_and_fan_out() -> None:
    order: list[str] = []

    def task(name: str) -> Any:
        def run(facts: Mapping[str, Any]) -> Any:
            order.append(name)
            return {name: len(facts)}

        return run

    tasks = [Task("root", task("root"))]
    tasks += [Task(f"mid{i}", task(f"mid{i}"), needs=("root",)) for i in range(20)]
    tasks += [Task("sink", task("sink"), needs=tuple(f"mid{i}" for i in range(20)))]
    tasks += [Task(f"free{i}", task(f"free{i}")) for i in range(20)]
    results = run_tasks(tasks, timeout=5.0, merge=lambda _n, v, f: f.update(v), max_workers=3)
    assert len(results) == 42
    assert order.index("root") < min(order.index(f"mid{i}") for i in range(20))
    assert order[-1] == "sink" or order.index("sink") > max(order.index(f"mid{i}") for i in range(20))
    assert results["sink"]["sink"] >= 21
    assert run_tasks([], timeout=1.0, merge=lambda _n, v, f: None) == {}

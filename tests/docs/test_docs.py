"""The manual (docs/) stays true: its examples run, its reference lists the real command line, settings and
environment variables, and its links resolve.

- docs/*.md: every console and sh block runs (tests/docs/mdblocks.py says how), in one session per file,
  except those marked ``<!-- not run: REASON -->``, which are counted below; yaml, json and puppet blocks parse.
- docs/REFERENCE.md lists every command and option of `bunraku` with its default
  (``python -m tests.docs.clireference`` rewrites that section), every field of the master's settings
  with its default, and every BUNRAKU_* environment variable the code reads.
- README.md and docs/*.md: every relative link names a file that exists, and a heading in it.
"""

from __future__ import annotations

import re
import time
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from tests.docs import clireference
from tests.docs.mdblocks import DOCS, REPO, Session, blocks, check_syntax, run_block, runnable

REFERENCE = DOCS / "REFERENCE.md"
GUIDE = DOCS / "GUIDE.md"
MANUAL = sorted(DOCS.glob("*.md"))

#: the loopback ports the manual's walkthrough uses: the master (8140), its CA (8141), its dashboard (8443),
#: and a port where the walkthrough's failing health check must find nothing (8089)
WALKTHROUGH_PORTS = {"GUIDE.md": (8140, 8141, 8443, 8089)}

#: blocks that cannot run on a test machine, per file: each is marked with its reason in the doc.
#: Keep this short; raise a count only with a reason a reader will accept.
NOT_RUN = {"GUIDE.md": 3, "REFERENCE.md": 0}


# -- the examples run ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("doc", [p for p in MANUAL if any(runnable(b) for b in blocks(p))], ids=lambda p: p.name)
def test_the_examples_run_as_shown(doc: Path, tmp_path: Path) -> None:
    import shutil
    import socket

    for tool in ("git", "curl"):
        assert shutil.which(tool), f"the manual's examples use {tool}, which is not installed"
    for port in WALKTHROUGH_PORTS.get(doc.name, ()):
        with socket.socket() as probe:
            taken = probe.connect_ex(("127.0.0.1", port)) == 0
        assert not taken, f"{doc.name}'s walkthrough needs 127.0.0.1:{port}, which something else listens on"
    session = Session(tmp_path)
    ran = 0
    took: dict[str, float] = {}
    cpu_took: dict[str, float] = {}
    try:
        for block in blocks(doc):
            if runnable(block):
                started = time.monotonic()
                cpu = _children_cpu()
                run_block(session, block)
                ran += 1
                took[block.where] = time.monotonic() - started
                cpu_took[block.where] = _children_cpu() - cpu
    finally:
        session.close()
        slow = sorted(cpu_took.items(), key=lambda item: -item[1])[:8]
        print(f"{doc.name}: {ran} blocks in {sum(took.values()):.1f} s ({sum(cpu_took.values()):.1f} s of CPU); "
              "most CPU: " + ", ".join(f"{where} {seconds:.1f} s" for where, seconds in slow)
              + "; longest: " + ", ".join(f"{where} {seconds:.1f} s"
                                          for where, seconds in sorted(took.items(), key=lambda i: -i[1])[:8]))
    assert ran > 0


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_only_the_examples_listed_here_do_not_run() -> None:
    for doc in MANUAL:
        skipped = [b for b in blocks(doc) if b.not_run is not None]
        for block in skipped:
            assert block.not_run, f"{block.where}: say why the block does not run: <!-- not run: REASON -->"
            assert block.lang in ("sh", "console"), f"{block.where}: only shell blocks are run or marked"
        assert len(skipped) == NOT_RUN.get(doc.name, 0), (
            f"{doc.name}: {len(skipped)} blocks are marked not run ({', '.join(b.where for b in skipped)}); "
            f"tests/docs/test_docs.py NOT_RUN says {NOT_RUN.get(doc.name, 0)}")


def test_every_shell_block_is_run_or_says_why_not() -> None:
    for doc in MANUAL:
        for block in blocks(doc):
            if block.lang in ("sh", "bash", "shell", "console") and not block.note:
                assert block.lang in ("sh", "console"), f"{block.where}: use ```sh or ```console"


def test_yaml_json_and_puppet_examples_parse(tmp_path: Path) -> None:
    checked = 0
    for doc in [*MANUAL, REPO / "README.md"]:
        for block in blocks(doc):
            if block.file is None and block.lang in ("yaml", "json", "puppet"):
                check_syntax(block, tmp_path)
                checked += 1
    assert checked > 5


# -- the command line ---------------------------------------------------------------------------------------
def test_the_reference_lists_every_command_and_option() -> None:
    documented = clireference.documented(REFERENCE.read_text(encoding="utf-8"))
    actual = clireference.actual()
    regenerate = " (run `python -m tests.docs.clireference` to rewrite docs/REFERENCE.md's command-line section)"
    problems = []
    for path in sorted(set(actual) | set(documented)):
        name = " ".join(("bunraku", *path))
        if path not in documented:
            problems.append(f"{name}: not in the reference")
            continue
        if path not in actual:
            problems.append(f"{name}: in the reference, but the command line has no such command")
            continue
        have, doc = actual[path], documented[path]
        for opt in sorted(set(have["options"]) - set(doc["options"])):
            problems.append(f"{name} {opt}: not in the reference")
        for opt in sorted(set(doc["options"]) - set(have["options"])):
            problems.append(f"{name} {opt}: in the reference, but the command has no such option")
        for opt in sorted(set(have["options"]) & set(doc["options"])):
            if have["options"][opt] != doc["options"][opt]:
                problems.append(f"{name} {opt}: the default is {have['options'][opt]!r}, the reference says "
                                f"{doc['options'][opt]!r}")
        if have["hidden"] != doc["hidden"]:
            problems.append(f"{name}: hidden options {sorted(have['hidden'])}, the reference lists "
                            f"{sorted(doc['hidden'])}")
    assert not problems, "\n".join(problems) + "\n" + regenerate


def test_every_command_answers_help() -> None:
    from cli import main

    runner = CliRunner()
    for cmd in clireference.walk():
        result = runner.invoke(main, [*cmd.path, "--help"])
        assert result.exit_code == 0, (cmd.path, result.output)
        assert result.output.startswith("Usage: "), (cmd.path, result.output)


# -- the master's settings ----------------------------------------------------------------------------------
def _section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def _canonical(value: Any) -> str:
    """A setting's default as the reference writes it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_canonical(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_canonical(v) for v in value) + "]"
    return str(value)


def _settings_rows() -> dict[str, str]:
    """{setting: its default cell} from the settings table of the reference."""
    section = _section(REFERENCE.read_text(encoding="utf-8"), "The master's settings file")
    rows = {}
    for line in section.splitlines():
        m = re.match(r"^\| `([\w.]+)` \| ([^|]*) \|", line)
        if m:
            rows[m.group(1)] = m.group(2)
    return rows


def test_the_reference_lists_every_setting_with_its_default() -> None:
    from master.config import MasterConfig

    rows = _settings_rows()
    problems = []
    for f in fields(MasterConfig):
        if f.name not in rows:
            problems.append(f"{f.name}: not in the settings table of docs/REFERENCE.md")
            continue
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
            if f.name == "certname":  # this host's name
                if "FQDN" not in rows[f.name]:
                    problems.append("certname: the default is this host's FQDN")
                continue
        want = f"`{_canonical(default)}`"
        if want not in rows[f.name]:
            problems.append(f"{f.name}: the default is {want}, the reference says {rows[f.name].strip()!r}")
    known = {f.name for f in fields(MasterConfig)}
    nested = {"git.repo", "git.poll_seconds", "git.remote", "git.credentials", "git.ssh_key", "dashboard.listen",
              "dashboard.tokens", "environments.NAME.follow_branch", "environments.NAME.release"}
    for name in rows:
        if name not in known and name not in nested:
            problems.append(f"{name}: in the reference, but the master has no such setting")
    assert not problems, "\n".join(problems)


def test_the_settings_example_of_the_reference_loads(tmp_path: Path) -> None:
    """The complete settings file the reference shows is one the master accepts."""
    import yaml

    from master.config import load_config

    found = [b for b in blocks(REFERENCE) if b.note == "check: master settings"]
    assert len(found) == 1
    data = yaml.safe_load(found[0].text)
    path = tmp_path / "master.yaml"
    path.write_text(yaml.safe_dump(data))
    load_config(path)


def test_the_reference_lists_every_key_of_the_groups_file() -> None:
    code = (REPO / "master" / "classify.py").read_text(encoding="utf-8")
    read = set(re.findall(r'\bspec\.get\("(\w+)"', code))
    assert read >= {"nodes", "classes", "parameters", "environment"}, read
    section = _section(REFERENCE.read_text(encoding="utf-8"), "The groups file")
    documented = set(re.findall(r"^\| `(\w+)` \|", section, re.M))
    assert read == documented, (f"keys master/classify.py reads: {sorted(read)}; the groups file table of "
                                f"docs/REFERENCE.md lists: {sorted(documented)}")


def _guide_section(heading: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(f"\n### {heading}\n")
    end = text.find("\n### ", start + 1)
    return text[start:end if end != -1 else None]


def test_the_guide_lists_every_healthcheck_attribute_with_its_default() -> None:
    from engine.catalog import HEALTHCHECK_ATTRIBUTES, HEALTHCHECK_CHECKS
    from engine.types import healthcheck

    rows = {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
        r"^\| `(\w+)` \| ([^|]+) \|([^|]*)\|", _guide_section("Health checks"), re.M)}
    assert set(rows) == set(HEALTHCHECK_ATTRIBUTES), (sorted(rows), sorted(HEALTHCHECK_ATTRIBUTES))
    for kind, attributes in HEALTHCHECK_CHECKS.items():
        for name in attributes:
            assert rows[name][0].strip() == kind, f"healthcheck {name}: a {kind} check's attribute"
    for name, default in (("retries", healthcheck.DEFAULT_RETRIES), ("interval", healthcheck.DEFAULT_INTERVAL),
                          ("timeout", healthcheck.DEFAULT_TIMEOUT)):
        assert rows[name][1].strip() == f"`{_canonical(default)}`", f"healthcheck {name}: the default is {default}"


def test_the_guide_explains_every_rollout_and_node_state() -> None:
    from master.rollout.view import NODE_STATES, ROLLOUT_STATES

    section = _guide_section("Rollout states")
    tables = re.split(r"\n\n(?=\| node state)", section)
    assert len(tables) == 2, "the rollout states table, then the node states table"
    rollout = re.findall(r"^\| `(\w+)` \|", tables[0], re.M)
    node = re.findall(r"^\| `(\w+)` \|", tables[1], re.M)
    assert rollout == list(ROLLOUT_STATES), (rollout, ROLLOUT_STATES)
    assert node == list(NODE_STATES), (node, NODE_STATES)


# -- environment variables ----------------------------------------------------------------------------------
_PACKAGES = ("cli", "agent", "master", "engine", "facts", "wire", "dsl", "bench")


def _variables_read() -> set[str]:
    names: set[str] = set()
    for package in _PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            names.update(re.findall(r"\bBUNRAKU_[A-Z0-9_]+\b", path.read_text(encoding="utf-8")))
    return names


def test_the_reference_lists_every_environment_variable() -> None:
    section = _section(REFERENCE.read_text(encoding="utf-8"), "Environment variables")
    documented = set(re.findall(r"^\| `(BUNRAKU_[A-Z0-9_]+)`", section, re.M))
    read = _variables_read()
    envvars: set[str] = set()
    from cli import main

    def collect(cmd: click.Command) -> None:
        for p in cmd.params:
            if isinstance(p.envvar, str):
                envvars.add(p.envvar)
        if isinstance(cmd, click.Group):
            for sub in cmd.commands.values():
                collect(sub)

    collect(main)
    assert read, "no BUNRAKU_* variable found in the code: the scan is broken"
    missing = sorted((read | envvars) - documented)
    assert not missing, f"environment variables the code reads and docs/REFERENCE.md does not list: {missing}"
    # the benchmarks' and the tests' own variables may come and go with them: only the product's must be read
    tools = set(re.findall(r"^\| `(BUNRAKU_[A-Z0-9_]+)` \| [^|]*(?:bench|tests/)", section, re.M))
    gone = sorted(documented - read - envvars - tools)
    assert not gone, f"docs/REFERENCE.md lists environment variables nothing reads any more: {gone}"


# -- links --------------------------------------------------------------------------------------------------
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        m = re.match(r"^#{1,6} (.*)$", line)
        if m and not in_fence:
            base = slug(m.group(1))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def test_every_relative_link_resolves() -> None:
    problems = []
    for doc in [REPO / "README.md", *MANUAL]:
        text = doc.read_text(encoding="utf-8")
        text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)  # not inside code blocks
        for target in _LINK.findall(text):
            if re.match(r"^[a-z]+:", target) or target.startswith("//"):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (doc.parent / file_part).resolve() if file_part else doc
            if not linked.exists():
                problems.append(f"{doc.relative_to(REPO)}: {target}: no such file")
                continue
            if anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{doc.relative_to(REPO)}: {target}: no heading with that anchor in {linked.name}")
    assert not problems, "\n".join(problems)


def test_the_index_lists_every_document() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    missing = [doc.name for doc in MANUAL if doc.name != "README.md" and f"]({doc.name})" not in index]
    assert not missing, f"docs/README.md, the index of docs/, does not link {missing}: add a row for each"


def test_the_readme_points_to_the_manual() -> None:
    head = (REPO / "README.md").read_text(encoding="utf-8")[:3000]
    assert "(docs/README.md)" in head or "(docs/)" in head or "(docs/GUIDE.md)" in head

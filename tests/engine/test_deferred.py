"""Deferred values resolved where the catalog is applied: a real apply into a temporary root, masterless
(``bunraku apply``, a manifest or a --catalog) and through the engine as the agent calls it."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bunraku import main
from dsl.deferred import call_deferred
from engine.apply import apply_catalog
from engine.catalog import Catalog, deferred_data

from .conftest import CatalogBuilder, failures

FACTS = {"os": {"family": "Debian", "release": {"major": "12"}}, "networking": {"fqdn": "node.example.com"}}


def D(name: str, *args: object) -> dict:  # noqa: N802 - reads like the manifest's Deferred(...)
    return deferred_data(name, list(args))


def SECRET(value: object) -> dict:  # noqa: N802
    return {"__ptype": "Sensitive", "__pvalue": value}


def test_deferred_parameters_are_resolved_before_apply(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/greeting", content=D("sprintf", "%s-%s\n", D("join", ["a", "b"], ","), 3))
    cb.add("File", "/etc/epp", content=D("inline_epp", "family=<%= $facts['os']['family'] %> n=<%= $n %>\n",
                                          {"n": D("$facts", "os", "release", "major")}))
    cb.add("File", "/etc/nested", content=D("join", [D("upcase", "x"), "y"], "+"))
    cb.add("Exec", "touch", command=["/bin/sh", "-c", D("sprintf", "echo %s", "hi")], refreshonly=True)
    report = apply_catalog(cb.catalog, root=root, state_dir=state, facts=FACTS, functions=call_deferred)
    assert not failures(report), failures(report)
    assert (root / "etc/greeting").read_text() == "a,b-3\n"
    assert (root / "etc/epp").read_text() == "family=Debian n=12\n"
    assert (root / "etc/nested").read_text() == "X+y"
    # the report shows the resolved value, never the Deferred
    text = report.to_json()
    assert "__ptype" not in text and "Deferred" not in text
    # the catalog itself is left as compiled
    assert cb.catalog.get("File[/etc/greeting]").parameters["content"]["__ptype"] == "Deferred"
    again = apply_catalog(cb.catalog, root=root, state_dir=state, facts=FACTS, functions=call_deferred)
    assert again.status == "unchanged"


def test_sensitive_results_and_arguments_stay_redacted(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    # unwrap of a Sensitive argument: the result holds the secret, so the parameter is sensitive
    cb.add("File", "/etc/token", content=D("inline_epp", "token=<%= $t.unwrap %>\n", {"t": SECRET("hunter2")}))
    # a function whose result is Sensitive
    cb.add("Notify", "pw", message=D("new", {"__ptype": "Type", "__pvalue": "Sensitive"}, "s3cr3t-pw"))
    cb.add("Notify", "listed", message=[D("sprintf", "%s", SECRET("l1st-secret"))])
    report = apply_catalog(cb.catalog, root=root, state_dir=state, facts=FACTS, functions=call_deferred)
    assert (root / "etc/token").read_text() == "token=hunter2\n"
    text = report.to_json()  # its logs and events
    assert "Notify[pw]" in text
    for secret in ("hunter2", "s3cr3t-pw", "l1st-secret"):
        assert secret not in text
    events = {ref: s.events for ref, s in report.resource_statuses.items()}
    assert events["File[/etc/token]"][0].desired_value == "[redacted]"
    assert all(e.desired_value == "[redacted]" for e in events["Notify[listed]"])


def test_an_unknown_function_fails_its_resource_and_dependents_only(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    bad = cb.add("File", "/etc/bad", content=D("no_such_function", 1))
    cb.add("File", "/etc/after", content="x\n", require=bad)
    cb.add("File", "/etc/compile_only", content=D("lookup", "key"))
    cb.add("File", "/etc/good", content=D("join", ["ok", "\n"], ""))
    report = apply_catalog(cb.catalog, root=root, state_dir=state, facts=FACTS, functions=call_deferred)
    fails = failures(report)
    assert fails["File[/etc/bad]"] == ["Could not evaluate: Deferred function 'no_such_function' failed: "
                                       "unknown function 'no_such_function' on the agent"]
    assert "Deferred function 'lookup' failed: unknown function 'lookup'" in fails["File[/etc/compile_only]"][0]
    assert report.resource_statuses["File[/etc/after]"].skipped
    assert (root / "etc/good").read_text() == "ok\n"
    assert not (root / "etc/bad").exists() and not (root / "etc/after").exists()
    # without a function library the resource fails the same way, in one line
    alone = apply_catalog(cb.catalog, root=root, state_dir=state, facts=FACTS)
    assert failures(alone)["File[/etc/good]"] == [
        "Could not evaluate: Deferred function 'join' cannot be called: this run has no function library to "
        "resolve Deferred values with"]


def test_bunraku_apply_resolves_a_manifest_and_a_catalog(root: Path, state: Path, tmp_path: Path) -> None:
    site = tmp_path / "site.pp"
    site.write_text(
        "file { '/etc/motd': content => Deferred('sprintf', [\"%s on %s\\n\", Deferred('upcase', ['hello']),\n"
        "  Deferred('$facts', ['networking', 'fqdn'])]) }\n"
        "file { '/etc/pw': content => Deferred('inline_epp', ['<%= $p.unwrap %>', {'p' => Sensitive('pa55word')}]) }\n"
        "notify { 'oops': message => Deferred('nope') }\n")
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(FACTS))
    runner = CliRunner()
    base = ["apply", "--root", str(root), "--state-dir", str(state), "--facts", str(facts)]
    out = runner.invoke(main, [*base, "--report", str(tmp_path / "r.json"), str(site)])
    assert out.exit_code == 1, out.output
    assert (root / "etc/motd").read_text() == "HELLO on node.example.com\n"
    assert (root / "etc/pw").read_text() == "pa55word"
    assert "Deferred function 'nope' failed: unknown function 'nope' on the agent" in out.output
    assert "Traceback" not in out.output and "pa55word" not in out.output
    assert "pa55word" not in (tmp_path / "r.json").read_text()
    # the catalog bunraku compile prints keeps the Deferred; applying it resolves it the same way
    compiled = runner.invoke(main, ["compile", "--node", "node.example.com", "--facts", str(facts), "--compact",
                                    str(site)])
    assert compiled.exit_code == 0, compiled.output
    assert '"__ptype": "Deferred"' in compiled.output and "pa55word" in compiled.output  # as Puppet's server
    (tmp_path / "catalog.json").write_text(compiled.output)
    (root / "etc/motd").unlink()
    again = runner.invoke(main, [*base, "--catalog", str(tmp_path / "catalog.json")])
    assert (root / "etc/motd").read_text() == "HELLO on node.example.com\n", again.output
    assert Catalog.from_json(compiled.output).get("File[/etc/motd]") is not None


def test_incremental_runs_always_resolve_deferred(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/family", content=D("$facts", "os", "family"))
    cb.add("File", "/etc/plain", content="x")
    first = apply_catalog(cb.catalog, root=root, state_dir=state, facts=FACTS, functions=call_deferred)
    assert (root / "etc/family").read_text() == "Debian"
    other = {**FACTS, "os": {"family": "RedHat"}}
    inc = apply_catalog(cb.catalog, root=root, state_dir=state, facts=other, functions=call_deferred,
                        incremental_from=cb.catalog)
    assert first.status == "changed" and inc.incremental is not None
    assert (root / "etc/family").read_text() == "RedHat"


def test_a_sensitive_inside_an_array_or_hash_makes_the_parameter_sensitive(root: Path, state: Path,
                                                                         tmp_path: Path) -> None:
    site = tmp_path / "site.pp"
    site.write_text("notify { 'n': message => ['a', {'k' => Sensitive('s3cr3t-nested')}] }\n"
                    "file { '/etc/f': content => Deferred('join', [['x', Sensitive('s3cr3t-arg').unwrap], '-']) }\n")
    out = CliRunner().invoke(main, ["apply", "--root", str(root), "--state-dir", str(state), "--report",
                                    str(tmp_path / "r.json"), str(site)])
    assert out.exit_code == 0, out.output
    assert "s3cr3t" not in out.output and "s3cr3t" not in (tmp_path / "r.json").read_text()
    # the messages say what changed, whole: a short value of the secret ('a') does not garble them
    assert "Notice: /Stage[main]/Main/Notify[n]/message: changed [redacted] to [redacted]" in out.output
    assert (root / "etc/f").read_text() == "x-s3cr3t-arg"

"""What a Puppet agent leaves in its state directory, a Bunraku agent leaves too, and Puppet's own code
reads it: ``last_run_summary.yaml`` (Puppet's YAML loader, and the agent's own reading of the last
environment), ``last_run_report.yaml`` (Puppet's report loader), ``classes.txt`` and ``resources.txt``
(Puppet's layout: one class, one lowercased managed resource a line)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.run import run_once
from engine.summary import last_run_summary
from tests.e2e.harness import agent_settings, make_site, start_master
from tests.interop.oracle import PuppetTree

#: Puppet's own code on the agent's files: the summary as its YAML loader and its agent read it
#: (``Configurer#last_server_specified_environment``), the report as its loader reads it.
READ_STATE = r"""
require 'puppet/configurer'
state = ARGV[0]
summary = Puppet::Util::Yaml.safe_load_file(File.join(state, 'last_run_summary.yaml'))
Puppet[:lastrunfile] = File.join(state, 'last_run_summary.yaml')
environment, loaded = Puppet::Configurer.new.send(:last_server_specified_environment)
report = Puppet::Transaction::Report.convert_from(:yaml, File.read(File.join(state, 'last_run_report.yaml')))
file_report = Puppet::Util::Yaml.safe_load_file(File.join(state, 'last_run_report.yaml'), [Puppet::Transaction::Report])
puts JSON.generate({
  'summary' => summary, 'environment_loaded' => loaded, 'server_environment' => environment,
  'report' => { 'class' => report.class.name, 'status' => report.status, 'exit_status' => report.exit_status,
                'host' => report.host, 'resources' => report.resource_statuses.keys.sort,
                'same_from_file' => file_report.transaction_uuid == report.transaction_uuid },
  'classes' => File.read(File.join(state, 'classes.txt')).split(/[\s]+/),
})
"""


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("state-files")
    make_site(tmp / "envs")
    server = start_master(tmp, tmp / "envs", autosign="true")
    yield server
    server.stop()


def test_an_agent_run_leaves_puppets_state_files(master: Any, tmp_path: Path) -> None:
    s = agent_settings(master, tmp_path, "state.example.com")
    result = run_once(s)
    assert result.exit_code == 2 and result.report is not None, "\n".join(t for _, t in result.lines)
    state = s.vardir / "state"
    summary = yaml.safe_load((state / "last_run_summary.yaml").read_text())
    assert list(summary) == ["version", "application", "resources", "time", "changes", "events"]
    assert summary["version"] == {"config": result.report.configuration_version,
                                  "puppet": result.report.puppet_version}
    assert summary["application"] == {"run_mode": "agent", "initial_environment": "production",
                                      "converged_environment": "production"}
    changed = len(result.report.resource_statuses)  # the demo site's files, all created
    assert summary["resources"]["changed"] == changed >= 2 and summary["resources"]["failed"] == 0
    assert summary["changes"] == {"total": changed} and summary["events"]["success"] == changed
    for category in ("resources", "changes", "events"):
        assert summary[category] == {name: value for name, _label, value
                                     in result.report.metrics[category]["values"]}
    assert {"config_retrieval", "transaction_evaluation", "catalog_application", "total", "last_run"} <= set(
        summary["time"])
    assert (state / "classes.txt").read_text() == "default\ndemo\n"  # the node, then its classes
    catalog = json.loads(s.catalog_cache.read_text())
    assert (state / "resources.txt").read_text().splitlines() == [  # catalog order, as Puppet writes it
        f"{r['type']}[{r['title']}]".lower() for r in catalog["resources"]
        if r["kind"] == "compilable_type" and r["type"] != "Stage"]
    assert set((state / "resources.txt").read_text().split()) == {ref.lower() for ref in result.report.resource_statuses}
    for name in ("last_run_summary.yaml", "last_run_report.yaml", "classes.txt", "resources.txt"):
        assert (state / name).stat().st_mode & 0o777 == 0o640, name
    # the report the master stored carries Bunraku's additions; the file on disk is Puppet's alone
    stored = master.store.reports("state.example.com", last=1)[0]
    assert stored["apply_mode"] == "full" and "health" in stored
    assert "apply_mode" not in (state / "last_run_report.yaml").read_text()


def test_puppets_code_reads_them(master: Any, tmp_path: Path, puppet: PuppetTree) -> None:
    s = agent_settings(master, tmp_path, "read.example.com")
    first = run_once(s)
    again = run_once(s)
    assert (first.exit_code, again.exit_code) == (2, 0)
    seen = puppet.ruby(READ_STATE, str(s.vardir / "state"))
    assert seen["summary"]["version"]["config"] == again.report.configuration_version
    assert seen["summary"]["resources"]["total"] == len(again.report.resource_statuses)
    assert seen["environment_loaded"] is True and seen["server_environment"] is None
    assert seen["report"] == {"class": "Puppet::Transaction::Report", "status": "unchanged", "exit_status": 0,
                              "host": "read.example.com", "resources": sorted(again.report.resource_statuses),
                              "same_from_file": True}
    assert seen["classes"] == ["default", "demo"]


def test_the_summary_of_a_run_without_a_catalog_says_it_failed() -> None:
    from engine.report import Report

    report = Report(host="h")
    report.finalise(0.0, {})
    summary = last_run_summary(report)
    assert summary["version"]["config"] is None and summary["resources"]["total"] == 0
    assert summary["events"] == {"failure": 0, "success": 0, "total": 0}
    assert report.status == "failed"

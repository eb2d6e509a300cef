"""Puppet 7 as the judge: run ``puppet apply --catalog`` and Puppet's Ruby code on what Bunraku writes.

Every Puppet process runs in a private tree (``PuppetTree``): its own confdir, vardir, codedir,
publicdir, logdir, rundir and empty module paths, so nothing of the host's Puppet setup is read and
nothing is written outside the tree; facts come from the ``memory`` terminus (no Facter run), which
``puppet apply --catalog`` only needs for the node's name.

Tests that need Puppet take the ``puppet`` fixture (``conftest.py``): skipped, with the reason, where
``puppet`` (Debian's ``puppet-agent``) or its Ruby libraries are missing.
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

PUPPET = shutil.which("puppet")
RUBY = shutil.which("ruby")


@functools.lru_cache(maxsize=1)
def puppet_missing() -> str | None:
    """Why Puppet cannot judge here, or None when it can."""
    if PUPPET is None or RUBY is None:
        return "Puppet is not installed (`puppet` and `ruby`; `.ci/run` installs Debian's puppet-agent)"
    probe = subprocess.run([RUBY, "-e", "require 'puppet'; print Puppet.version"], capture_output=True,
                           text=True, timeout=120)
    if probe.returncode != 0:
        return f"Puppet's Ruby libraries do not load: {probe.stderr.strip()[:200]}"
    if not probe.stdout.startswith("7."):
        return f"these tests judge with Puppet 7; found Puppet {probe.stdout}"
    return None


def require_puppet() -> None:
    """Skip the calling test, saying why, when Puppet cannot judge here."""
    reason = puppet_missing()
    if reason is not None:
        pytest.skip(reason)


@dataclass(frozen=True)
class PuppetTree:
    """A private Puppet installation tree under ``base``."""

    base: Path

    def __post_init__(self) -> None:
        for sub in ("conf", "var", "code", "public", "log", "run", "modules"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)

    @property
    def vardir(self) -> Path:
        return self.base / "var"

    def settings(self) -> list[str]:
        b = self.base
        return ["--confdir", str(b / "conf"), "--vardir", str(b / "var"), "--codedir", str(b / "code"),
                "--publicdir", str(b / "public"), "--logdir", str(b / "log"), "--rundir", str(b / "run"),
                "--basemodulepath", str(b / "modules"), "--vendormoduledir", str(b / "modules")]

    def apply_catalog(self, catalog: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        """``puppet apply --catalog CATALOG --detailed-exitcodes``."""
        assert PUPPET is not None
        return subprocess.run([PUPPET, "apply", "--catalog", str(catalog), *self.settings(),
                               "--facts_terminus", "memory", "--color", "false", "--detailed-exitcodes", *extra],
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)

    def last_run_report(self) -> dict[str, Any]:
        """Puppet's own ``last_run_report.yaml`` of its last apply, as data."""
        return load_tagged_yaml((self.vardir / "state" / "last_run_report.yaml").read_text(encoding="utf-8"))

    def ruby(self, script: str, *args: str) -> Any:
        """Run ``script`` with Puppet's libraries loaded and its settings pointing into this tree; the
        script prints one JSON document on stdout, returned as data."""
        assert RUBY is not None
        prelude = ("require 'puppet'\nrequire 'json'\n"
                   f"Puppet.initialize_settings({json.dumps(self.settings())})\n")
        done = subprocess.run([RUBY, "-e", prelude + script, "--", *args], capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"ruby with Puppet failed:\n{done.stderr[-4000:]}"
        return json.loads(done.stdout)


def load_tagged_yaml(text: str) -> Any:
    """A YAML document as Puppet writes it (``--- !ruby/object:Puppet::Transaction::Report`` on top):
    the data under the tag."""
    first, _, rest = text.partition("\n")
    if first.startswith("--- !ruby/object:"):
        text = "---\n" + rest
    return yaml.safe_load(text)


#: Loads each report file named on the command line with Puppet's loader, as a Puppet server does with
#: a submitted report (JSON) or the agent with its last run report (YAML), and says what Puppet sees.
LOAD_REPORTS = r"""
results = ARGV.map do |path|
  begin
    format = path.end_with?('.yaml') ? :yaml : :json
    report = Puppet::Transaction::Report.convert_from(format, File.read(path))
    statuses = report.resource_statuses.values.compact
    {
      'path' => path, 'class' => report.class.name, 'status' => report.status,
      'exit_status' => report.exit_status, 'transaction_completed' => report.transaction_completed,
      'noop' => report.noop, 'noop_pending' => report.noop_pending, 'host' => report.host,
      'puppet_version' => report.puppet_version, 'configuration_version' => report.configuration_version,
      'time' => report.time.iso8601(9), 'summary' => report.raw_summary.reject { |k, _| k == 'application' },
      'resources' => statuses.map { |s| [s.resource, {
        'time' => s.time.iso8601(9), 'failed' => s.failed, 'skipped' => s.skipped,
        'change_count' => s.change_count,
        'events' => s.events.map { |e| { 'name' => e.name.to_s, 'status' => e.status, 'property' => e.property,
                                         'message' => e.message, 'redacted' => e.redacted,
                                         'time' => e.time.iso8601(9) } } }] }.to_h,
      'logs' => report.logs.map { |l| { 'level' => l.level.to_s, 'tags' => l.tags.to_a, 'message' => l.message } },
    }
  rescue Exception => e
    { 'path' => path, 'error' => "#{e.class}: #{e.message}" }
  end
end
puts JSON.generate(results)
"""


def load_reports(tree: PuppetTree, paths: list[Path]) -> list[dict[str, Any]]:
    """What Puppet's report loader makes of each file (``error`` when it refuses one)."""
    result = tree.ruby(LOAD_REPORTS, *map(str, paths))
    assert isinstance(result, list)
    return result

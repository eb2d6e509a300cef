"""A catalog with a module's custom (Ruby) resource type on an agent that has no provider for it.

The compiler accepts such a type (it read the type's attributes from the module); this agent cannot
apply it: that resource fails with a message saying so, what depends on it is skipped, and the rest
of the catalog converges - the same catalog a Puppet agent would apply whole.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from click.testing import CliRunner

from bunraku import main
from dsl.compiler import CompileRequest, compile_catalog
from engine.apply import apply_catalog

from .conftest import failures

NO_PROVIDER = "no provider for type 'archive' in this agent; it needs a Puppet agent or a Python port"

ARCHIVE_TYPE = """\
Puppet::Type.newtype(:archive) do
  ensurable
  newparam(:path, namevar: true)
  newparam(:source)
  newparam(:extract) do
    newvalues(:true, :false)
  end
end
"""

SITE = """\
archive { '/tmp/app.tar.gz':
  source  => 'https://example.com/app.tar.gz',
  extract => true,
}
file { '/etc/app.conf':
  content => "after the archive\\n",
  require => Archive['/tmp/app.tar.gz'],
}
file { '/etc/motd':
  content => "independent\\n",
}
"""


def _site(tmp_path: Path) -> tuple[Path, Path]:
    modules = tmp_path / "modules"
    type_file = modules / "archive" / "lib" / "puppet" / "type" / "archive.rb"
    type_file.parent.mkdir(parents=True)
    type_file.write_text(ARCHIVE_TYPE, encoding="utf-8")
    manifest = tmp_path / "site.pp"
    manifest.write_text(textwrap.dedent(SITE), encoding="utf-8")
    return manifest, modules


def test_a_custom_type_fails_alone_and_the_rest_converges(root: Path, state: Path, tmp_path: Path) -> None:
    manifest, modules = _site(tmp_path)
    catalog = compile_catalog(CompileRequest.from_cli(manifest=manifest, node="node.example.com", facts={},
                                                      modulepath=[modules]))
    assert catalog.get("Archive[/tmp/app.tar.gz]") is not None
    report = apply_catalog(catalog, root=root, state_dir=state)
    assert failures(report) == {"Archive[/tmp/app.tar.gz]": [f"Could not evaluate: {NO_PROVIDER}"]}
    assert report.resource_statuses["File[/etc/app.conf]"].skipped
    assert not (root / "etc/app.conf").exists()
    assert (root / "etc/motd").read_text() == "independent\n"
    assert report.status == "failed"


def test_bunraku_apply_says_which_resource_needs_a_puppet_agent(root: Path, state: Path, tmp_path: Path) -> None:
    manifest, modules = _site(tmp_path)
    result = CliRunner().invoke(main, ["apply", str(manifest), "--modulepath", str(modules), "--root", str(root),
                                       "--state-dir", str(state), "--detailed-exitcodes"])
    assert result.exit_code == 6, result.output  # changes and failures
    assert f"Archive[/tmp/app.tar.gz]: Could not evaluate: {NO_PROVIDER}" in result.output
    assert "File[/etc/app.conf]: Skipping because of failed dependencies" in result.output
    assert (root / "etc/motd").read_text() == "independent\n"

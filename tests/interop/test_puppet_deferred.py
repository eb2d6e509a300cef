"""Puppet resolves the Deferred values of Bunraku's catalogs: ``puppet apply --catalog`` of what Bunraku
compiles writes the same files as Bunraku's own apply of that catalog."""

from __future__ import annotations

import json
from pathlib import Path

from dsl.compiler import CompileRequest, compile_catalog
from dsl.deferred import call_deferred
from engine.apply import apply_catalog
from engine.catalog import Catalog
from tests.interop.oracle import PuppetTree

MANIFEST = """\
file { '@ROOT@/greeting':
  content => Deferred('sprintf', ["%s-%s\\n", Deferred('join', [['a', 'b'], ',']), Deferred('upcase', ['x'])]),
}
file { '@ROOT@/template':
  content => Deferred('inline_epp', ['<% $items.each |$i| { %><%= $i %>;<% } %>', {'items' => [1, 2]}]),
}
file { '@ROOT@/secret':
  content => Deferred('inline_epp', ['<%= $p.unwrap %>', {'p' => Sensitive('pa55')}]),
}
"""


def _catalog(root: Path, tmp_path: Path) -> Path:
    site = tmp_path / "site.pp"
    site.write_text(MANIFEST.replace("@ROOT@", str(root)))
    catalog = compile_catalog(CompileRequest.from_cli(manifest=site, node="node.example.com", facts={}))
    path = tmp_path / f"catalog-{root.name}.json"
    path.write_text(catalog.to_json())
    return path


def test_puppet_apply_resolves_bunrakus_deferred_like_bunraku(puppet: PuppetTree, tmp_path: Path) -> None:
    theirs, ours = tmp_path / "puppet-root", tmp_path / "bunraku-root"
    theirs.mkdir()
    ours.mkdir()
    done = puppet.apply_catalog(_catalog(theirs, tmp_path))
    assert done.returncode in (0, 2) and "Error" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert "pa55" not in done.stdout + done.stderr
    catalog = Catalog.from_json(_catalog(ours, tmp_path).read_text())
    assert '"__ptype": "Deferred"' in json.dumps(catalog.to_dict())
    report = apply_catalog(catalog, root="/", save_report=False, functions=call_deferred)
    assert report.status == "changed", report.to_json()
    for name in ("greeting", "template", "secret"):
        assert (ours / name).read_text() == (theirs / name).read_text(), name
    assert (ours / "greeting").read_text() == "a,b-X\n"
    assert (ours / "template").read_text() == "1;2;"
    assert (ours / "secret").read_text() == "pa55"

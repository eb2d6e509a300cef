"""Exported resources (@@) and collecting them (<<| |>>) when the master's store is at hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dsl.compiler import CompileRequest, compile_catalog
from dsl.errors import DslError

REMOTE = {
    "File": [
        {"type": "File", "title": "/etc/peers/web02", "node": "web02", "tags": ["file", "peer"],
         "parameters": {"content": "web02\n"}},
        {"type": "File", "title": "/etc/peers/db01", "node": "db01", "tags": ["file", "db"],
         "parameters": {"content": "db01\n"}},
        {"type": "File", "title": "/etc/peers/web01", "node": "web01", "tags": ["file", "peer"],
         "parameters": {"content": "stale copy of our own export\n"}},
    ],
}


def compile_with(tmp_path: Path, source: str, remote: dict[str, list[dict[str, Any]]] | None = None) -> dict:
    site = tmp_path / "site.pp"
    site.write_text(source)
    req = CompileRequest.from_cli(manifest=site, node="web01", facts={})
    req.exported_source = lambda type_name: (remote or {}).get(type_name, [])
    return compile_catalog(req).to_dict()


def by_ref(catalog: dict) -> dict[str, dict]:
    return {f"{r['type']}[{r['title']}]": r for r in catalog["resources"]}


def test_own_exports_are_in_the_catalog_marked_exported(tmp_path: Path) -> None:
    cat = compile_with(tmp_path, "@@file { '/etc/peers/web01': content => \"web01\\n\", tag => 'peer' }\n")
    res = by_ref(cat)["File[/etc/peers/web01]"]
    assert res["exported"] is True and res["parameters"]["content"] == "web01\n"
    assert {"source": "Class[main]", "target": "File[/etc/peers/web01]"} in cat["edges"]


def test_collecting_adds_what_others_export_that_the_query_matches(tmp_path: Path) -> None:
    cat = compile_with(tmp_path, "@@file { '/etc/peers/web01': content => \"web01\\n\", tag => 'peer' }\n"
                                 "File <<| tag == 'peer' |>> { mode => '0644' }\n", REMOTE)
    refs = by_ref(cat)
    assert refs["File[/etc/peers/web02]"]["exported"] is False
    assert refs["File[/etc/peers/web02]"]["parameters"] == {"content": "web02\n", "mode": "0644"}
    assert "File[/etc/peers/db01]" not in refs
    # our own export is collected from this compilation (not the stored copy) and applied here
    own = refs["File[/etc/peers/web01]"]
    assert own["exported"] is False and own["parameters"]["content"] == "web01\n"


def test_a_clash_with_a_local_resource_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DslError, match=r"collecting exported File\[/etc/peers/web02\] from web02: this node "
                                       r"declares File\[/etc/peers/web02\] too"):
        compile_with(tmp_path, "file { '/etc/peers/web02': }\nFile <<| |>>\n", REMOTE)


def test_without_a_store_exports_are_refused(tmp_path: Path) -> None:
    site = tmp_path / "site.pp"
    site.write_text("@@file { '/x': }\n")
    with pytest.raises(DslError, match="need the master's store"):
        compile_catalog(CompileRequest.from_cli(manifest=site, node="web01", facts={}))

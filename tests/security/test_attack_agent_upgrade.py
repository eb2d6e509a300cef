"""Attacks on the agent's self-upgrade: a node lying about the version it runs, a build withdrawn after nodes
staged it, a version name that is a path, and builds that would fill the disk when unpacked. The master side
runs a real master on loopback with real certificates; the agent side stages real zip builds."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from agent import upgrade
from engine.report import Report
from engine.sources import ArtifactRef
from tests.e2e.harness import (
    client_for,
    issue_identity,
    issue_identity_from_ca,
    make_site,
    start_master,
    wait_for,
)
from wire.proto import bunraku_pb2 as pb

GROUPS = "groups:\n  web:\n    nodes: ['web*']\n  db:\n    nodes: ['db*']\n"
AGENT_FILES = {"cli/__init__.py": "", "engine/__init__.py": '__version__ = "2.0.0"\n', "agent/__init__.py": ""}


@pytest.fixture()
def master(tmp_path: Path) -> Any:
    make_site(tmp_path / "envs")
    groups = tmp_path / "groups.yaml"
    groups.write_text(GROUPS)
    server = start_master(tmp_path, tmp_path / "envs", groups=groups, puppet_listen="off")
    try:
        yield server
    finally:
        server.stop()


def _join(master: Any, tmp: Path, certname: str, running: str) -> Any:
    """A node that fetched its catalog (the master learns its group) and says which agent version it runs."""
    client = client_for(master, issue_identity(master, tmp, certname))
    facts = json.dumps({"role": "web", "bunraku_version": running}).encode()
    client.call("GetCatalog", pb.CatalogRequest(node=certname, environment="production", facts_json=facts))
    client.call("SubmitFacts", pb.FactsRequest(node=certname, environment="production", facts_json=facts))
    return client


def _push(master: Any, version: str, data: bytes) -> None:
    from master.artifacts import _repository

    repo = _repository(master.ctx)
    digest = hashlib.sha256(data).hexdigest()
    repo.put_chunk(digest, len(data), 0, data)
    repo.finish("bunraku-agent", version, digest, len(data), f"bunraku-{version}.pyz", {}, "ci")


def _offer(client: Any, certname: str) -> Any:
    reply = client.call("GetCatalog", pb.CatalogRequest(node=certname, environment="production",
                                                        facts_json=b'{"role": "web"}'))
    return reply.agent_version if reply.HasField("agent_version") else None


def test_a_yanked_build_is_offered_to_no_node(master: Any, tmp_path: Path) -> None:
    """A build withdrawn mid-rollout must stop being offered: a node that staged it before the yank would
    otherwise still switch to it (it needs no download)."""
    from master import fleet

    node = _join(master, tmp_path, "web01.example.com", "1.0.0")
    _push(master, "2.0.0", b"a build")
    ssldir = master.ctx.config.ssldir
    with client_for(master, issue_identity_from_ca(ssldir, tmp_path, "web-op", role="role=operator;groups=web")) as op:
        fleet.start_rollout(op, "", "", group="web", agent_version="2.0.0", health_timeout=600)
        offered = wait_for(lambda: _offer(node, "web01.example.com"), 30, "the node's assignment")
        assert offered.version == "2.0.0" and offered.sha256 == hashlib.sha256(b"a build").hexdigest()
        with client_for(master, issue_identity(master, tmp_path, "admin", operator=True)) as admin:
            admin.call("ArtifactCommand", pb.ArtifactCommandRequest(command="yank", app="bunraku-agent",
                                                                    version="2.0.0"))
        assert _offer(node, "web01.example.com") is None
    node.close()


def test_a_node_that_claims_a_path_as_its_version_is_left_out(master: Any, tmp_path: Path) -> None:
    """The version a node says it runs is what a rollback offers it back: one that is no version name (a
    path) never enters a rollout."""
    from master import fleet

    clients = [_join(master, tmp_path, "web01.example.com", "1.0.0"),
               _join(master, tmp_path, "web02.example.com", "../../../../tmp/evil")]
    _push(master, "2.0.0", b"a build")
    with client_for(master, issue_identity(master, tmp_path, "admin", operator=True)) as admin:
        info = fleet.start_rollout(admin, "", "", group="web", agent_version="2.0.0")
    nodes = sorted(n["name"] for wave in info["waves"] for n in wave["nodes"])
    assert nodes == ["web01.example.com"]
    for client in clients:
        client.close()


# -- the agent ---------------------------------------------------------------------------------------------------


class FileSource:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fetch_artifact(self, ref: ArtifactRef, dest: str) -> str:
        Path(dest).write_bytes(self.path.read_bytes())
        return ref.filename


def _build(path: Path, files: dict[str, bytes | str], version: str = "2.0.0") -> upgrade.Offer:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return upgrade.Offer(version, digest, path.stat().st_size, path.name, deadline=30)


@pytest.mark.parametrize("version", ["../../escaped", "..", ".incoming", "a/b", "ABSOLUTE"])
def test_a_version_that_is_a_path_is_refused_by_the_agent(tmp_path: Path, version: str) -> None:
    """Whatever the master says, a version names a directory of versions/ and nothing else (an absolute one
    would have the build unpacked wherever it points)."""
    if version == "ABSOLUTE":
        version = str(tmp_path / "abs")
    build = tmp_path / "b.pyz"
    offer = _build(build, AGENT_FILES, version)
    vardir = tmp_path / "var"
    report = Report(host="n1")
    assert upgrade.consider(vardir, offer, FileSource(build), report, noop=False) is None
    assert report.agent_upgrade is not None and report.agent_upgrade["state"] == "stage_failed"
    assert "not a version name" in report.agent_upgrade["reason"]
    found = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert all(not p.endswith(("escaped", "evil", "abs")) for p in found), found
    assert not (vardir / "agent" / "versions").exists() or not any((vardir / "agent" / "versions").iterdir())


def test_a_build_that_unpacks_to_too_much_is_refused_before_it_is_written(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A zip bomb (a small download that unpacks to gigabytes) would fill VARDIR's disk: the sizes its entries
    declare, which bound what is written, are added up first (the limit lowered here to keep the test small)."""
    monkeypatch.setattr(upgrade, "MAX_UNPACKED_BYTES", 1 << 20, raising=False)
    build = tmp_path / "bomb.pyz"
    offer = _build(build, {**AGENT_FILES, "cli/zeros.bin": b"\0" * (4 << 20)})
    assert build.stat().st_size < 64 << 10
    with pytest.raises(upgrade.UpgradeError, match="unpacks to 4194.* bytes, more than 1048576"):
        upgrade.stage(tmp_path / "var", offer, FileSource(build))
    versions = tmp_path / "var" / "agent" / "versions"
    assert not (versions / "2.0.0").exists()
    assert sum(p.stat().st_size for p in versions.rglob("*") if p.is_file() and not p.name.endswith(".part")) == 0


def test_a_build_of_too_many_entries_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upgrade, "MAX_ENTRIES", 50, raising=False)
    build = tmp_path / "many.pyz"
    offer = _build(build, {**AGENT_FILES, **{f"cli/f{i}.py": "" for i in range(100)}})
    with pytest.raises(upgrade.UpgradeError, match="103 entries, more than 50"):
        upgrade.stage(tmp_path / "var", offer, FileSource(build))
    assert not (tmp_path / "var" / "agent" / "versions" / "2.0.0").exists()
    assert not os.path.exists(tmp_path / "var" / "agent" / "versions" / ".incoming" / "2.0.0.unpack")

"""One bad commit in the site's git repository (a symlink out of the environment) cannot take the
environment away from the fleet: the master refuses that commit once, with one clear error operators
can read, keeps serving the last good commit, and never extracts the refused commit again. A real git
repository, a real master on loopback with real certificates, a real agent identity."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from master.environments import Environments, RefusedCommit
from tests.e2e.harness import client_for, git, issue_identity, make_git_site, start_master
from wire.client import ClientError
from wire.proto import bunraku_pb2 as pb

FACTS = {"role": "web", "networking": {"fqdn": "web01.example.com"}}
LINK = "modules/demo/files/passwd"


def _catalog(client: Any) -> Any:
    return client.call("GetCatalog", pb.CatalogRequest(facts_json=json.dumps(FACTS).encode()))


def _commit_link(work: Path, target: str) -> str:
    os.symlink(target, work / LINK)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "a link")
    return git(work, "rev-parse", "HEAD")


def _count_extractions(envs: Environments, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Which commits the master extracts from now on (the real extraction runs)."""
    extracted: list[str] = []
    real = envs._materialise  # noqa: SLF001 - observed, not replaced

    def counting(commit: str, target: Path) -> None:
        extracted.append(commit)
        real(commit, target)

    monkeypatch.setattr(envs, "_materialise", counting)
    return extracted


def test_absolute_symlink_commit_is_refused_and_the_last_good_one_served(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    work = make_git_site(tmp_path)
    good = git(work, "rev-parse", "HEAD")
    server = start_master(tmp_path, None, git_repo=str(work), git_poll_seconds=0)
    try:
        envs: Environments = server.ctx.environments
        paths = issue_identity(server, tmp_path, "web01.example.com")
        with client_for(server, paths) as client:
            assert _catalog(client).code_id == good
            bad = _commit_link(work, "/etc/passwd")
            extracted = _count_extractions(envs, monkeypatch)
            for _ in range(3):
                reply = _catalog(client)
                assert reply.code_id == good  # every node still gets the last good commit
                assert json.loads(reply.catalog_json)["code_id"] == good
            assert extracted == [bad]  # refused once, never extracted again

            problem = envs.problem("production")
            assert problem is not None and envs.problems() == [problem]
            assert problem.message == (f"environment production at commit {bad[:12]}: symlink {LINK} points "
                                       "outside the environment")
            assert (problem.commit, problem.serving) == (bad, good)
            with pytest.raises(RefusedCommit, match="points outside the environment"):
                envs.at_commit("production", bad)  # an explicit release of it fails just as clearly
            assert extracted == [bad]

            os.unlink(work / LINK)
            git(work, "add", "-A")
            git(work, "commit", "-q", "-m", "remove the link")
            fixed = git(work, "rev-parse", "HEAD")
            assert _catalog(client).code_id == fixed
            assert envs.problems() == []
    finally:
        server.stop()


def test_restarted_master_serves_the_newest_good_ancestor(tmp_path: Path) -> None:
    work = make_git_site(tmp_path)
    good = git(work, "rev-parse", "HEAD")
    bad = _commit_link(work, "../../../../../../etc/passwd")  # relative, but climbing out just the same
    server = start_master(tmp_path, None, git_repo=str(work), git_poll_seconds=0)
    try:
        paths = issue_identity(server, tmp_path, "web01.example.com")
        with client_for(server, paths) as client:
            assert _catalog(client).code_id == good
        problem = server.ctx.environments.problem("production")
        assert problem is not None and (problem.commit, problem.serving) == (bad, good)
    finally:
        server.stop()


def test_branch_with_no_good_commit_is_one_clear_error(tmp_path: Path) -> None:
    work = tmp_path / "site-git"
    work.mkdir()
    git(work, "init", "-q", "-b", "production")
    (work / "modules/demo/files").mkdir(parents=True)
    (work / "manifests").mkdir()
    (work / "manifests/site.pp").write_text("node default { }\n")
    bad = _commit_link(work, "/etc/shadow")
    server = start_master(tmp_path, None, git_repo=str(work), git_poll_seconds=0)
    try:
        paths = issue_identity(server, tmp_path, "web01.example.com")
        with client_for(server, paths) as client:
            with pytest.raises(ClientError) as err:
                _catalog(client)
        assert (f"environment production at commit {bad[:12]}: symlink {LINK} points outside the environment"
                in str(err.value))
        assert "Traceback" not in str(err.value)
    finally:
        server.stop()

"""A release that does not compile for some nodes is refused before any node gets it: the master
compiles it for every node in scope first, in its compile workers, and names each node and its error;
--force starts it anyway."""

from __future__ import annotations

import grpc
import pytest

from master import fleet as ops
from tests.e2e.harness import client_for, commit_change, issue_identity, make_git_site, start_master, wait_for
from wire.client import ClientError
from wire.proto import bunraku_pb2 as pb

NODES = {"web01.example.com": "web", "web02.example.com": "web", "db01.example.com": "db"}
BROKEN_FOR_DB = """\
node default {
  include demo
  if $facts['role'] == 'db' {
    $port = Integer('not a port')
  }
}
"""


def test_a_release_that_does_not_compile_is_refused_per_node_and_forced(tmp_path) -> None:  # noqa: ANN001
    work = make_git_site(tmp_path)
    master = start_master(tmp_path, None, git_repo=str(work), git_poll_seconds=0, workers=2,
                          environments={"production": {"follow_branch": False}}, live_timeout=0.5,
                          rollout_tick_seconds=0.2)
    try:
        ids = {node: issue_identity(master, tmp_path, node) for node in NODES}
        for node, role in NODES.items():  # each node runs once: the master keeps its facts
            with client_for(master, ids[node]) as agent:
                agent.call("GetCatalog", pb.CatalogRequest(facts_json=f'{{"role": "{role}"}}'.encode()))
        broken = commit_change(work, "manifests/site.pp", BROKEN_FOR_DB, "breaks db")
        with client_for(master, issue_identity(master, tmp_path, "ops", operator=True)) as admin:
            with pytest.raises(ClientError) as refused:
                ops.start_rollout(admin, "production", "production")
            assert refused.value.code == grpc.StatusCode.FAILED_PRECONDITION
            message = str(refused.value)
            assert f"production@{broken[:12]} does not compile for 1 of 3 node(s): db01.example.com: " in message
            assert "not a port" in message and "start it anyway with --force" in message
            assert "web01.example.com:" not in message and "\n" not in message
            assert ops.list_rollouts(admin) == []  # nothing started
            forced = ops.start_rollout(admin, "production", "production", force=True, canary="100%")
            assert forced["code_id"] == broken
            # db01 runs (no live channel here: it was deferred and asks at its next run); its catalog does
            # not compile, so the rollout fails it at once with that error, not after the health timeout
            with client_for(master, ids["db01.example.com"]) as db01:
                with pytest.raises(ClientError):
                    db01.call("GetCatalog", pb.CatalogRequest(facts_json=b'{"role": "db"}'))

            def db01_state() -> dict | None:
                info = ops.rollout_status(admin, forced["id"])
                nodes = [n for wave in info["waves"] for n in wave["nodes"] if n["name"] == "db01.example.com"]
                return nodes[0] if nodes and nodes[0]["state"] == "failed" else None

            failed = wait_for(db01_state, 20, "the rollout to fail db01")
            assert "its catalog does not compile" in failed["detail"] and "not a port" in failed["detail"]
    finally:
        master.stop()

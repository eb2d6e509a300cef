"""Two `bunraku master` processes on one PostgreSQL store (127.0.0.1:5432, a schema of its own), an agent
whose live channel is open to master B only: a rollout driven by master A reaches it at once and counts
it as triggered, a task queued through A runs on it at once, and a code deploy on A is served by B at
once. B is set so that nothing but a notification from A can explain any of it: it never drives
rollouts, looks for task runs only every hour, and re-reads the branch head only every hour; the agent
runs on its timer only every hour."""

from __future__ import annotations

import json
import ssl
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.harness import (
    LiveFleet,
    commit_change,
    git,
    issue_identity_from_ca,
    live_agent,
    make_git_site,
    wait_for,
)
from tests.master.test_store import PgSchema, needs_pg
from tests.reliability.fleet import MasterProcess, free_port

pytestmark = needs_pg

NODE = "web01.example.com"
GROUPS = "groups:\n  web:\n    nodes: ['web*']\n"
HOUR = 3600
LIVE = {"live_heartbeat_seconds": 0.5, "live_timeout": 3, "git_poll_seconds": HOUR, "workers": 1}


def site_pp(motd: str) -> str:
    return f"node default {{\n  class {{ 'demo': motd => '{motd}' }}\n}}\n"


@pytest.fixture(scope="module")
def masters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from master.dashboard.tokens import TokenStore

    tmp = tmp_path_factory.mktemp("two-masters")
    pg = PgSchema()
    work = make_git_site(tmp)
    groups = tmp / "groups.yaml"
    groups.write_text(GROUPS)
    tokens = tmp / "tokens.json"
    token = TokenStore(tokens).issue("ci", "operator")
    dashboard = free_port()
    common = {"store_url": pg.url(), "git_repo": str(work), "groups": str(groups), **LIVE}
    a = MasterProcess(tmp / "a", None, name="a", rollout_tick_seconds=0.3, task_poll_seconds=1,
                      dashboard_listen=f"127.0.0.1:{dashboard}", dashboard_tokens=str(tokens), **common)
    b = MasterProcess(tmp / "b", None, name="b", ssldir=a.ssldir, rollout_tick_seconds=HOUR,
                      task_poll_seconds=HOUR, **common)
    agents = LiveFleet()
    clients: list[Any] = []
    try:
        a.start()
        b.start()
        from wire.client import MasterClient

        paths = issue_identity_from_ca(a.ssldir, tmp, NODE)
        agents.add(live_agent(b.address, b.ca_address, tmp, NODE, paths.ssldir, task_accounts=("root",)))
        admin_paths = issue_identity_from_ca(a.ssldir, tmp, "ops", operator=True)
        admin_a = MasterClient([a.address], admin_paths, timeout=30)
        clients.append(admin_a)
        probe_paths = issue_identity_from_ca(a.ssldir, tmp, "probe01.example.com")
        probe_b = MasterClient([b.address], probe_paths, timeout=30)
        clients.append(probe_b)
        v1 = git(work, "rev-parse", "HEAD")
        wait_for(lambda: len(agents.results[NODE]) >= 1, 40, "the agent's first run (against master B)")
        yield {"tmp": tmp, "work": work, "schema": pg.name, "a": a, "b": b, "admin_a": admin_a, "probe_b": probe_b, "v1": v1,
               "agents": agents, "token": token, "dashboard": dashboard}
    finally:
        agents.close()
        for client in clients:
            client.close()
        b.stop()
        a.stop()
        pg.drop()


def _logs(m: dict[str, Any]) -> str:
    return "A:\n" + m["a"].log_text()[-3000:] + "\nB:\n" + m["b"].log_text()[-3000:]


def test_a_rollout_driven_by_one_master_triggers_an_agent_connected_to_the_other(masters: dict[str, Any]) -> None:
    from master import fleet as ops

    admin = masters["admin_a"]
    runs = masters["agents"].results[NODE]
    before = len(runs)
    v2 = commit_change(masters["work"], "manifests/site.pp", site_pp("v2"), "v2")
    started = ops.start_rollout(admin, "production", "production", group="web", health_timeout=40)
    assert started["code_id"] == v2

    def done() -> dict[str, Any] | None:
        info = ops.rollout_status(admin, started["id"])
        return info if info["state"] not in ("running", "rolling_back") else None

    info = wait_for(done, 45, f"rollout {started['id']} to finish")
    assert info["state"] == "completed", ops.rollout_lines(info) + "\n" + _logs(masters)
    node = info["nodes"][0]
    assert (node["name"], node["state"]) == (NODE, "succeeded"), ops.rollout_lines(info)
    kinds = [(e["kind"], e["node"]) for e in info["timeline"]]
    assert ("triggered", NODE) in kinds and ("deferred", NODE) not in kinds
    # the agent ran because it was told to (its timer waits an hour), and applied the release
    assert len(runs) > before
    motd = masters["tmp"] / "agents" / NODE / "root" / "etc" / "motd"
    assert motd.read_text().startswith("v2 from")
    assert ops.reports(admin, NODE, 1)[0]["code_id"] == v2


def test_a_task_queued_through_one_master_runs_at_once_on_an_agent_connected_to_the_other(
        masters: dict[str, Any]) -> None:
    from master.tasks import ops

    admin = masters["admin_a"]
    info, created = ops.run_task(admin, nodes=[NODE], account="root", command=["echo hello from $(hostname -s)"])
    assert created

    def over() -> dict[str, Any] | None:
        status = ops.task_status(admin, info["id"])
        return status if ops.finished(status) else None

    info = wait_for(over, 20, "the task to finish (master B looks for runs by itself only every hour)")
    run = info["runs"][0]
    assert (run["node"], run["state"], run["exit_code"]) == (NODE, "succeeded", 0), ops.task_lines(info)
    assert run["stdout"].startswith("hello from")


def _catalog_motd(client: Any) -> str:
    from wire.proto import bunraku_pb2 as pb

    facts = {"role": "probe", "networking": {"fqdn": "probe01.example.com"}}
    reply = client.call("GetCatalog", pb.CatalogRequest(node="", facts_json=json.dumps(facts).encode()))
    catalog = json.loads(reply.catalog_json)
    return str(next(r for r in catalog["resources"] if r["title"] == "/etc/motd")["parameters"]["content"])


def _deploy(masters: dict[str, Any]) -> dict[str, Any]:
    context = ssl.create_default_context(cafile=str(masters["a"].ssldir / "ca" / "ca_crt.pem"))
    context.check_hostname = False
    request = urllib.request.Request(f"https://127.0.0.1:{masters['dashboard']}/deploy",
                                     data=b'{"environment": "production"}', method="POST",
                                     headers={"Authorization": f"Bearer {masters['token']}"})
    with urllib.request.urlopen(request, context=context, timeout=30) as reply:
        return dict(json.loads(reply.read()))


def test_a_deploy_on_one_master_drops_the_catalogs_the_other_cached(masters: dict[str, Any]) -> None:
    probe = masters["probe_b"]
    first = _catalog_motd(probe)  # compiled and cached by master B
    assert _catalog_motd(probe) == first
    commit_change(masters["work"], "manifests/site.pp", site_pp("deployed"), "deployed")
    assert _catalog_motd(probe) == first  # B reads the branch head only every hour
    result = _deploy(masters)
    assert result["ok"], result
    motd = wait_for(lambda: (m := _catalog_motd(probe)).startswith("deployed") and m, 10,
                    "master B to serve the deployed code")
    assert motd.startswith("deployed from probe01.example.com")


def _listeners(schema: str) -> dict[int, str]:
    """pid -> application_name of the masters' listening connections on ``schema``'s channels."""
    import sqlalchemy as sa

    from master.notify import LISTENER_NAME
    from tests.master.test_store import PG_DB, PG_HOST, PG_PORT, PG_USER

    admin = sa.create_engine(f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}")
    try:
        with admin.begin() as conn:
            rows = conn.execute(sa.text("SELECT pid, application_name FROM pg_stat_activity "
                                        "WHERE application_name LIKE :name"), {"name": f"{LISTENER_NAME} %"}).all()
    finally:
        admin.dispose()
    return {int(r.pid): str(r.application_name) for r in rows if schema in str(r.application_name)}


def test_a_master_keeps_hearing_after_its_listening_connection_is_terminated(masters: dict[str, Any]) -> None:
    import sqlalchemy as sa

    from master.tasks import ops
    from tests.master.test_store import PG_DB, PG_HOST, PG_PORT, PG_USER

    schema = masters["schema"]
    before = wait_for(lambda: _listeners(schema) if len(_listeners(schema)) == 2 else None, 10,
                      "both masters listening")
    admin = sa.create_engine(f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{PG_DB}")
    try:
        with admin.begin() as conn:
            for pid in before:  # both masters lose their listening connection
                assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    finally:
        admin.dispose()
    after = wait_for(lambda: (now := _listeners(schema)) and len(now) == 2 and not set(now) & set(before) and now,
                     20, "both masters listening again")
    assert len(after) == 2
    info, _created = ops.run_task(masters["admin_a"], nodes=[NODE], account="root", command=["echo again"])

    def over() -> dict[str, Any] | None:
        status = ops.task_status(masters["admin_a"], info["id"])
        return status if ops.finished(status) else None

    info = wait_for(over, 20, "the task to finish after the masters reconnected")
    assert info["runs"][0]["state"] == "succeeded" and info["runs"][0]["stdout"] == "again\n", ops.task_lines(info)

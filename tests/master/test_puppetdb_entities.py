"""PuppetDB's edges, factsets and producers entities, node_state on every entity about nodes, the per-node path
forms, and ``/pdb/cmd/v1``'s "deactivate node", on a small store (SQLite, and the PostgreSQL at 127.0.0.1:5432)
filled through the store's own API."""

from __future__ import annotations

import io
import json
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from master.dashboard import TokenStore, create_app
from master.puppetdb import pql
from master.puppetdb.entities import Backend
from master.puppetdb.query import Paging, Scope, execute, split_from
from master.store import Store
from master.store.documents import digest_of
from tests.master.test_store import PgSchema, needs_pg

NOW = datetime.now(UTC).replace(microsecond=0)
NODE_TTL = timedelta(days=3)
MASTER = "master.example.com"
WEB, DB, OLD, GONE = "web01.example.com", "db01.example.com", "old01.example.com", "gone01.example.com"
GROUPS = {WEB: "web", DB: "db", OLD: "web", GONE: "web"}


def _catalog(node: str) -> dict[str, Any]:
    return {
        "name": node, "version": 1714564800, "code_id": "abc123", "catalog_uuid": str(uuid.uuid4()),
        "catalog_format": 2, "environment": "production", "tags": ["class"], "classes": ["base"],
        "resources": [
            {"type": "Class", "title": "Base", "tags": ["class"], "exported": False, "parameters": {}},
            {"type": "File", "title": "/etc/motd", "tags": ["file"], "exported": False,
             "parameters": {"content": f"{node}\n"}},
            {"type": "Service", "title": "ntp", "tags": ["service"], "exported": False, "parameters": {}},
        ],
        "edges": [{"source": "Class[Base]", "target": "File[/etc/motd]"},
                  {"source": "Class[Base]", "target": "Service[ntp]"},
                  {"source": "File[/etc/motd]", "target": "Service[ntp]", "relationship": "before"}],
    }


def _report(node: str, at: datetime) -> dict[str, Any]:
    return {
        "host": node, "time": at.isoformat().replace("+00:00", "Z"), "configuration_version": 1714564800,
        "code_id": "abc123", "catalog_uuid": str(uuid.uuid4()), "transaction_uuid": str(uuid.uuid4()),
        "environment": "production", "status": "changed", "noop": False, "noop_pending": False,
        "cached_catalog_status": "not_used", "corrective_change": False, "report_format": 12,
        "resource_statuses": {"File[/etc/motd]": {
            "resource_type": "File", "title": "/etc/motd", "change_count": 1, "changed": True, "failed": False,
            "events": [{"property": "content", "previous_value": "{md5}a", "desired_value": "{md5}b",
                        "message": "content changed", "status": "success", "time": at.isoformat()}]}},
        "metrics": {"events": {"name": "events", "values": [["total", "Total", 1]]}}, "logs": [],
    }


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=needs_pg)])
def fleet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    pg = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('pdbe') / 'store.db'}"
    else:
        pg = PgSchema()
        url = pg.url()
    store = Store.open(url)
    try:
        for node, group in GROUPS.items():
            at = NOW - (timedelta(days=10) if node == GONE else timedelta(hours=1))
            store.set_node_group(node, group)
            store.save_facts(node, {"role": group, "os": {"family": "Debian", "release": {"major": "12"}}},
                             received_at=at)
            store.save_catalog(node, _catalog(node), code_id="abc123", environment="production", compiled_at=at)
            store.save_report(_report(node, at), received_at=at)
        store.maintain(now=NOW, node_ttl=NODE_TTL)  # GONE expires
        assert store.deactivate_node(OLD, at=NOW)  # OLD is deactivated by hand
        backend = Backend(store.engine.dialect.name == "postgresql", NODE_TTL.total_seconds(), MASTER)
        yield {"store": store, "scope": Scope(backend), "url": url}
    finally:
        store.close()
        if pg is not None:
            pg.drop()


def run(fleet: dict[str, Any], entity: str, query: Any = None, **paging: Any) -> list[Any]:
    with fleet["store"].engine.connect() as conn:
        return execute(conn, fleet["scope"], entity, query, Paging(**paging)).rows


def run_pql(fleet: dict[str, Any], text: str) -> list[Any]:
    paging = Paging()
    entity, query = split_from(pql.parse(text), paging)
    with fleet["store"].engine.connect() as conn:
        return execute(conn, fleet["scope"], entity, query, paging).rows


# -- edges ------------------------------------------------------------------------------------------------------


def test_edges_are_each_active_nodes_catalog_edges(fleet: dict[str, Any]) -> None:
    rows = run(fleet, "edges", order_by=[("certname", "asc")])
    expected = [{"certname": node, "relationship": e.get("relationship", "contains"),
                 "source_title": e["source"].split("[", 1)[1][:-1], "source_type": e["source"].split("[")[0],
                 "target_title": e["target"].split("[", 1)[1][:-1], "target_type": e["target"].split("[")[0]}
                for node in sorted((WEB, DB)) for e in _catalog(node)["edges"]]
    assert sorted(rows, key=json.dumps) == sorted(expected, key=json.dumps)
    assert list(rows[0]) == ["certname", "relationship", "source_title", "source_type", "target_title",
                             "target_type"]
    # the catalog entity shows the same edges
    catalog = run(fleet, "catalogs", ["=", "certname", WEB])[0]
    assert catalog["edges"]["data"] == [{k: v for k, v in e.items() if k != "certname"}
                                        for e in expected if e["certname"] == WEB]


def test_edges_are_queryable_as_other_entities_are(fleet: dict[str, Any]) -> None:
    assert run_pql(fleet, f'edges[target_title] {{ certname = "{WEB}" and relationship = "before" }}') == [
        {"target_title": "ntp"}]
    assert run(fleet, "edges", ["extract", [["function", "count"], "relationship"], None,
                                ["group_by", "relationship"]]) in (
        [{"relationship": "before", "count": 2}, {"relationship": "contains", "count": 4}],
        [{"relationship": "contains", "count": 4}, {"relationship": "before", "count": 2}])
    # subqueries both ways: nodes whose catalogs have an edge to a File, edges of nodes whose facts say db
    assert run_pql(fleet, 'nodes[certname] { edges { target_type = "File" } order by certname }') == [
        {"certname": DB}, {"certname": WEB}]
    assert {r["certname"] for r in run(fleet, "edges", ["in", "certname", ["extract", "certname", [
        "select_facts", ["and", ["=", "name", "role"], ["=", "value", "db"]]]]])} == {DB}
    assert {r["certname"] for r in run(fleet, "edges", ["~", "source_type", "^Cla"])} == {WEB, DB}


# -- factsets ---------------------------------------------------------------------------------------------------


def test_factsets_are_each_nodes_facts_in_one_row(fleet: dict[str, Any]) -> None:
    store: Store = fleet["store"]
    rows = {r["certname"]: r for r in run(fleet, "factsets")}
    assert set(rows) == {WEB, DB}
    web = rows[WEB]
    stored = store.get_facts(WEB)
    assert set(web) == {"certname", "environment", "timestamp", "producer_timestamp", "facts", "hash", "producer"}
    assert web["environment"] == "production" and web["producer"] == MASTER
    assert web["timestamp"] == web["producer_timestamp"] == (NOW - timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    assert web["hash"] == digest_of(stored)
    assert web["facts"]["href"] == f"/pdb/query/v4/factsets/{WEB}/facts"
    data = {d["name"]: d["value"] for d in web["facts"]["data"]}
    assert data == {**stored, "trusted": {"certname": WEB, "hostname": "web01", "domain": "example.com",
                                          "authenticated": "remote", "extensions": {}}}
    # as the facts entity has them
    facts = {r["name"]: r["value"] for r in run(fleet, "facts", ["=", "certname", WEB])}
    assert facts == data
    assert run_pql(fleet, 'factsets[certname] { producer = "master.example.com" and certname ~ "^db" }') == [
        {"certname": DB}]
    newer = (NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {r["certname"] for r in run(fleet, "factsets", [">", "timestamp", newer])} == {WEB, DB}
    assert run(fleet, "factsets", ["extract", ["certname"], ["=", "hash", web["hash"]]]) == [{"certname": WEB}]


# -- producers --------------------------------------------------------------------------------------------------


def test_producers_are_the_answering_master(fleet: dict[str, Any]) -> None:
    assert run(fleet, "producers") == [{"name": MASTER}]
    assert run(fleet, "producers", ["=", "name", "other.example.com"]) == []
    assert run_pql(fleet, 'producers { name ~ "^master" }') == [{"name": MASTER}]
    for entity in ("catalogs", "reports", "factsets"):
        rows = run(fleet, entity, ["=", "producer", MASTER])
        assert rows and all(r["producer"] == MASTER for r in rows), entity
        assert run(fleet, entity, ["=", "producer", "other.example.com"]) == []
    # without a master's name (a store read outside a master), nothing is known of producers
    with fleet["store"].engine.connect() as conn:
        anonymous = Scope(Backend(fleet["scope"].backend.postgres))
        assert execute(conn, anonymous, "producers", None, Paging()).rows == []
        assert execute(conn, anonymous, "catalogs", ["extract", ["producer"]], Paging()).rows[0] == {
            "producer": None}


# -- node_state -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entity", ["nodes", "facts", "fact-contents", "inventory", "resources", "catalogs", "edges",
                                    "factsets", "reports", "events"])
def test_node_state_picks_active_inactive_or_any_nodes(fleet: dict[str, Any], entity: str) -> None:
    def certnames(query: Any) -> set[str]:
        return {r["certname"] for r in run(fleet, entity, query)}

    default = {WEB, DB} if entity not in ("reports", "events") else {WEB, DB, OLD, GONE}
    assert certnames(None) == default
    assert certnames(["=", "node_state", "active"]) == {WEB, DB}
    assert certnames(["=", "node_state", "inactive"]) == {OLD, GONE}
    assert certnames(["=", "node_state", "any"]) == {WEB, DB, OLD, GONE}
    assert certnames(["and", ["=", "certname", OLD], ["=", "node_state", "inactive"]]) == {OLD}
    assert certnames(["or", ["=", "certname", WEB], ["=", "node_state", "inactive"]]) == {WEB, OLD, GONE}
    assert certnames(["not", ["=", "node_state", "inactive"]]) == {WEB, DB}


def test_fact_contents_of_inactive_nodes_in_pql(fleet: dict[str, Any]) -> None:
    rows = run_pql(fleet, 'fact-contents[certname, value] { name = "role" and node_state = "inactive" '
                          "order by certname }")
    assert rows == [{"certname": GONE, "value": "web"}, {"certname": OLD, "value": "web"}]
    assert run(fleet, "fact-paths", ["and", ["=", "path", ["role"]], ["=", "node_state", "inactive"]]) == [
        {"path": ["role"], "type": "string"}]


# -- over HTTP ----------------------------------------------------------------------------------------------------


def _call(app: Any, path: str, token: str, query: str = "", *, method: str = "GET", body: bytes = b"",
          header: str = "HTTP_X_AUTHENTICATION") -> tuple[int, dict[str, str], bytes]:
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        got["status"], got["headers"] = int(status.split()[0]), dict(headers)

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
               header: token if header != "HTTP_AUTHORIZATION" else f"Bearer {token}"}
    out = b"".join(app(environ, start_response))
    return got["status"], got["headers"], out


@pytest.fixture
def app(fleet: dict[str, Any], tmp_path: Any) -> Iterator[tuple[Any, TokenStore]]:
    tokens = TokenStore(tmp_path / "tokens.json")
    dash = create_app(fleet["store"], tokens=tokens, cache_seconds=0, node_ttl=NODE_TTL.total_seconds())
    dash.master_name = MASTER  # type: ignore[attr-defined]
    yield dash, tokens


def test_the_per_node_paths(app: tuple[Any, TokenStore]) -> None:
    dash, tokens = app
    token = tokens.issue("scripts")

    def get(path: str, **params: Any) -> Any:
        status, _, body = _call(dash, path, token, urlencode(params))
        assert status == 200, (path, body)
        return json.loads(body)

    edges = get(f"/pdb/query/v4/catalogs/{WEB}/edges")
    assert len(edges) == 3 and {e["certname"] for e in edges} == {WEB}
    assert get(f"/pdb/query/v4/catalogs/{WEB}/edges", query='["=", "relationship", "before"]') == [
        {"certname": WEB, "relationship": "before", "source_title": "/etc/motd", "source_type": "File",
         "target_title": "ntp", "target_type": "Service"}]
    resources = get(f"/pdb/query/v4/catalogs/{WEB}/resources")
    assert sorted(r["type"] for r in resources) == ["Class", "File", "Service"]
    assert len(get("/pdb/query/v4/edges")) == 6
    factsets = get(f"/pdb/query/v4/factsets/{WEB}")
    assert [f["certname"] for f in factsets] == [WEB] and factsets[0]["producer"] == MASTER
    facts = get(f"/pdb/query/v4/factsets/{WEB}/facts")
    assert {f["name"] for f in facts} == {"role", "os", "trusted"} and {f["certname"] for f in facts} == {WEB}
    assert get("/pdb/query/v4/producers") == [{"name": MASTER}]
    assert get(f"/pdb/query/v4/producers/{MASTER}") == {"name": MASTER}
    status, _, _ = _call(dash, "/pdb/query/v4/producers/other.example.com", token)
    assert status == 404
    assert get("/pdb/query/v4", query="producers {}") == [{"name": MASTER}]
    assert get("/pdb/query/v4", query='["from", "factsets", ["=", "certname", "db01.example.com"]]')[0]["certname"] \
        == DB
    del dash.master_name  # a dashboard not told its master's name says this host's
    assert get("/pdb/query/v4/producers") == [{"name": socket.getfqdn().lower()}]


# -- commands -------------------------------------------------------------------------------------------------------


def test_deactivate_node_takes_an_operator(fleet: dict[str, Any], app: tuple[Any, TokenStore]) -> None:
    dash, tokens = app
    store: Store = fleet["store"]
    node = "spare01.example.com"
    store.set_node_group(node, "db")
    store.heartbeat(node)

    def active() -> bool:
        return node in {s.name for s in store.node_statuses()}

    command = json.dumps({"command": "deactivate node", "version": 3,
                          "payload": {"certname": node, "producer_timestamp": NOW.isoformat()}}).encode()
    viewer = tokens.issue("viewer", "viewer")
    status, _, body = _call(dash, "/pdb/cmd/v1", viewer, method="POST", body=command)
    assert status == 403 and b"operator or admin" in body and active()
    other_group = tokens.issue("web-ops", "operator", ["web"])
    status, _, body = _call(dash, "/pdb/cmd/v1", other_group, method="POST", body=command)
    assert status == 403 and active()
    operator = tokens.issue("db-ops", "operator", ["db"])
    status, headers, body = _call(dash, "/pdb/cmd/v1", operator, method="POST", body=command)
    assert status == 200 and headers["Content-Type"].startswith("application/json"), body
    assert uuid.UUID(json.loads(body)["uuid"]) and not active()
    # PuppetDB's other spelling (puppet node deactivate, pypuppetdb): the command in the query string
    store.heartbeat(node)
    assert active()
    admin = tokens.issue("admin", "admin")
    status, _, body = _call(dash, "/pdb/cmd/v1", admin, urlencode(
        {"command": "deactivate_node", "version": 3, "certname": node}), method="POST",
        body=json.dumps({"certname": node, "producer_timestamp": NOW.isoformat()}).encode(),
        header="HTTP_AUTHORIZATION")
    assert status == 200 and not active()
    assert node in {r["certname"] for r in json.loads(_call(dash, "/pdb/query/v4/nodes", admin, urlencode(
        {"query": '["=", "node_state", "inactive"]'}))[2])}
    status, _, _ = _call(dash, "/pdb/cmd/v1", admin, method="GET")
    assert status == 405


@pytest.mark.parametrize(("command", "message"), [
    ("replace facts", "command 'replace facts' is not accepted here: a Bunraku master stores the facts, catalogs "
                      "and reports its own agents send it; this API accepts 'deactivate node' only\n"),
    ("store_report", "command 'store report' is not accepted here: a Bunraku master stores the facts, catalogs "
                     "and reports its own agents send it; this API accepts 'deactivate node' only\n"),
    ("launch rockets", "unknown command 'launch rockets'; PuppetDB's commands are replace facts, replace catalog, "
                       "replace catalog inputs, store report, deactivate node, configure expiration\n"),
])
def test_other_commands_say_why_not(app: tuple[Any, TokenStore], command: str, message: str) -> None:
    dash, tokens = app
    admin = tokens.issue("admin", "admin")
    body = json.dumps({"command": command, "version": 5, "payload": {"certname": WEB, "values": {}}}).encode()
    status, headers, out = _call(dash, "/pdb/cmd/v1", admin, method="POST", body=body)
    assert (status, out.decode()) == (400, message)
    assert headers["Content-Type"].startswith("text/plain")


def test_a_command_is_refused_without_credentials(app: tuple[Any, TokenStore]) -> None:
    dash, _ = app
    body = json.dumps({"command": "deactivate node", "version": 3, "payload": {"certname": WEB}}).encode()
    status, _, _ = _call(dash, "/pdb/cmd/v1", "bkd_wrong", method="POST", body=body)
    assert status == 401


def test_pypuppetdb_reads_edges_and_factsets_and_deactivates(fleet: dict[str, Any],
                                                             app: tuple[Any, TokenStore]) -> None:
    """pypuppetdb itself (over plain HTTP to the dashboard's application: the TLS listener is the e2e tests')."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    pypuppetdb = pytest.importorskip("pypuppetdb", reason="pypuppetdb is not installed (pip install -e .[test])")
    from pypuppetdb.QueryBuilder import EqualsOperator

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    dash, tokens = app
    server = make_server("127.0.0.1", 0, dash, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        db = pypuppetdb.connect(host="127.0.0.1", port=server.server_port, protocol="http",
                                token=tokens.issue("ops", "operator"), timeout=30)
        edges = list(db.edges(query=EqualsOperator("certname", WEB)))
        assert sorted((e.source, e.target, e.relationship) for e in edges) == [
            ("Class[Base]", "File[/etc/motd]", "contains"), ("Class[Base]", "Service[ntp]", "contains"),
            ("File[/etc/motd]", "Service[ntp]", "before")]
        catalog = db.catalog(WEB)  # its edges name its resources
        assert sorted(str(e.relationship) for e in catalog.get_edges()) == ["before", "contains", "contains"]
        factsets = db.factsets(query=EqualsOperator("certname", DB))
        assert [f["certname"] for f in factsets] == [DB]
        assert {d["name"] for d in factsets[0]["facts"]["data"]} == {"role", "os", "trusted"}
        node = "spare02.example.com"
        fleet["store"].heartbeat(node)
        answer = db.command("deactivate node", {"certname": node, "producer_timestamp": NOW.isoformat()})
        assert uuid.UUID(answer["uuid"])
        assert node not in {s.name for s in fleet["store"].node_statuses()}
    finally:
        server.shutdown()
        server.server_close()

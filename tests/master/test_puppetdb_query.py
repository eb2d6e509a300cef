"""PuppetDB's query API over the store: PQL read into the AST, the AST compiled to SQL and run on a real store
(SQLite, and the PostgreSQL at 127.0.0.1:5432) filled through the store's own API, the answers checked
against what the store holds, and the one-line 400s of queries the API cannot answer."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from master.dashboard import TokenStore, create_app
from master.dashboard.sample import seed_sample_fleet
from master.puppetdb import pql
from master.puppetdb.entities import Backend
from master.puppetdb.errors import QueryError
from master.puppetdb.query import Paging, Scope, execute, split_from
from master.store import Store
from tests.master.test_store import PgSchema, needs_pg

NOW = datetime.now(UTC).replace(microsecond=0)
NODE_TTL = timedelta(days=3)
GONE, RETIRED = "gone01.example.com", "retired01.example.com"


# -- PQL ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "ast"), [
    ('nodes[certname] { facts { name = "os" } }',
     ["from", "nodes", ["extract", ["certname"], ["subquery", "facts", ["=", "name", "os"]]]]),
    ("nodes {}", ["from", "nodes"]),
    ('reports { certname in inventory[certname] { facts.os.family = "Debian" } and status = "failed" '
     "order by certname desc, start_time limit 10 offset 20 }",
     ["from", "reports", ["and", ["in", "certname", ["from", "inventory", ["extract", ["certname"],
                                                                           ["=", "facts.os.family", "Debian"]]]],
                          ["=", "status", "failed"]],
      ["order_by", [["certname", "desc"], ["start_time", "asc"]]], ["limit", 10], ["offset", 20]]),
    ("events[count(), status] { latest_report? = true group by status }",
     ["from", "events", ["extract", [["function", "count"], "status"], ["=", "latest_report?", True],
                         ["group_by", "status"]]]),
    ("nodes[certname] { !(certname ~ 'web') or deactivated is not null and report_timestamp >= "
     '"2024-05-01T00:00:00Z" }',
     ["from", "nodes", ["extract", ["certname"],
                        ["or", ["not", ["~", "certname", "web"]],
                         ["and", ["null?", "deactivated", False], [">=", "report_timestamp", "2024-05-01T00:00:00Z"]]]]]),
    ('facts { value != 4 and value > 2.5 and certname in ["a", "b"] }',
     ["from", "facts", ["and", ["not", ["=", "value", 4]], [">", "value", 2.5],
                        ["in", "certname", ["array", ["a", "b"]]]]]),
])
def test_pql_reads_into_the_ast(text: str, ast: list[Any]) -> None:
    assert pql.parse(text) == ast


@pytest.mark.parametrize(("text", "message"), [
    ("nodes { certname = }", "PQL:1:20: error: expected a value (a string, number, true or false), found '}'"),
    ('nodes { certname = "a"', "PQL:1:23: error: expected '}' to close the query of nodes opened at line 1 column 7, "
                               "found the end of the query"),
    ("nodes[certname {}", "PQL:1:16: error: expected ',' between fields (or ']' to close the list), found '{'"),
    ("nodes {\n  certname == 1 }", "PQL:2:13: error: expected a value (a string, number, true or false), found '='"),
    ('nodes { certname in facts { name = "os" } }',
     "PQL: error: the subquery of facts after 'in' must name its fields, as in facts[certname] { ... }"),
    ("nodes { certname = 'a' } extra", "PQL:1:26: error: expected the end of the query, found 'extra'"),
    ("nodes { certname = $x }", "PQL:1:20: error: unexpected character '$'"),
])
def test_pql_errors_name_the_place(text: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        pql.parse(text)
    assert caught.value.message == message


# -- a store -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=needs_pg)])
def fleet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    pg = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('pdbq') / 'store.db'}"
    else:
        pg = PgSchema()
        url = pg.url()
    store = Store.open(url)
    try:
        sample = seed_sample_fleet(store, now=NOW, nodes=6, days=1, runs_per_day=3)
        # one node the retention expires (silent longer than node_ttl), one an operator deactivates
        store.set_node_group(GONE, "web")
        store.save_facts(GONE, {"role": "web", "os": {"family": "Debian"}}, received_at=NOW - timedelta(days=10))
        store.maintain(now=NOW, node_ttl=NODE_TTL)
        store.set_node_group(RETIRED, "db")
        store.save_facts(RETIRED, {"role": "db", "os": {"family": "RedHat"}}, received_at=NOW - timedelta(hours=1))
        assert store.deactivate_node(RETIRED, at=NOW)
        yield {"store": store, "sample": sample,
               "scope": Scope(Backend(store.engine.dialect.name == "postgresql", NODE_TTL.total_seconds()))}
    finally:
        store.close()
        if pg is not None:
            pg.drop()


def run(fleet: dict[str, Any], entity: str, query: Any = None, *, scope: Scope | None = None,
        options: dict[str, Any] | None = None, **paging: Any) -> Any:
    with fleet["store"].engine.connect() as conn:
        return execute(conn, scope or fleet["scope"], entity, query, Paging(**paging), options)


def run_pql(fleet: dict[str, Any], text: str) -> list[Any]:
    paging = Paging()
    entity, query = split_from(pql.parse(text), paging)
    with fleet["store"].engine.connect() as conn:
        return execute(conn, fleet["scope"], entity, query, paging).rows


def active(fleet: dict[str, Any]) -> list[str]:
    return sorted(s.name for s in fleet["store"].node_statuses())


# -- nodes ---------------------------------------------------------------------------------------------------------


def test_nodes_are_the_active_nodes_with_their_latest_report(fleet: dict[str, Any]) -> None:
    rows = run(fleet, "nodes", order_by=[("certname", "asc")]).rows
    assert [r["certname"] for r in rows] == active(fleet)
    store: Store = fleet["store"]
    for row in rows:
        latest = store.report_summaries(row["certname"], last=1)
        assert row["latest_report_status"] == (latest[0]["status"] if latest else None)
        assert row["latest_report_hash"] == (latest[0]["transaction_uuid"] if latest else None)
        assert row["deactivated"] is None and row["expired"] is None
        assert row["catalog_environment"] == ("production" if store.get_catalog(row["certname"]) else None)
    web01 = next(r for r in rows if r["certname"] == "web01.example.com")
    assert web01["latest_report_status"] == "failed"
    assert web01["report_timestamp"].endswith("Z") and datetime.strptime(
        web01["report_timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")


def test_deactivated_and_expired_nodes_as_puppetdb_has_them(fleet: dict[str, Any]) -> None:
    rows = {r["certname"]: r for r in run(fleet, "nodes", ["=", "node_state", "inactive"]).rows}
    assert set(rows) == {GONE, RETIRED}
    assert rows[GONE]["expired"] is not None and rows[GONE]["deactivated"] is None
    assert rows[RETIRED]["deactivated"] == NOW.strftime("%Y-%m-%dT%H:%M:%S.000Z") and rows[RETIRED]["expired"] is None
    every = [r["certname"] for r in run(fleet, "nodes", ["=", "node_state", "any"]).rows]
    assert sorted(every) == sorted([*active(fleet), GONE, RETIRED])
    assert [r["certname"] for r in run(fleet, "nodes", ["null?", "expired", False]).rows] == [GONE]
    # facts of inactive nodes are left out too, unless asked for
    assert RETIRED not in {r["certname"] for r in run(fleet, "facts", ["=", "name", "role"]).rows}
    assert [r["certname"] for r in run(fleet, "facts", ["and", ["=", "name", "role"], ["=", "value", "db"],
                                                         ["=", "node_state", "inactive"]]).rows] == [RETIRED]
    # without a node_ttl, the store cannot tell an expired node from a deactivated one
    plain = Scope(Backend(fleet["scope"].backend.postgres))
    rows = {r["certname"]: r for r in run(fleet, "nodes", ["=", "node_state", "inactive"], scope=plain).rows}
    assert rows[GONE]["expired"] is None and rows[GONE]["deactivated"] is not None


def test_count_extracts_and_paging(fleet: dict[str, Any]) -> None:
    total = len(active(fleet))
    assert run(fleet, "nodes", ["extract", [["function", "count"]]]).rows == [{"count": total}]
    page = run(fleet, "nodes", ["extract", ["certname"]], order_by=[("certname", "desc")], limit=2, offset=1,
               include_total=True)
    assert page.rows == [{"certname": n} for n in sorted(active(fleet), reverse=True)[1:3]]
    assert page.total == total


def test_a_group_limited_viewer_sees_its_nodes_only(fleet: dict[str, Any]) -> None:
    sample = fleet["sample"]
    web = sorted(n for n, g in sample.groups.items() if g == "web")
    scope = Scope(fleet["scope"].backend, frozenset({"web"}))
    assert [r["certname"] for r in run(fleet, "nodes", scope=scope, order_by=[("certname", "asc")]).rows] == web
    assert {r["certname"] for r in run(fleet, "reports", scope=scope).rows} <= set(web)
    assert {r["certname"] for r in run(fleet, "facts", scope=scope).rows} == set(web)
    assert run(fleet, "nodes", scope=Scope(fleet["scope"].backend, frozenset())).rows == []


# -- facts ---------------------------------------------------------------------------------------------------------


def test_facts_filter_by_name_and_value_in_the_database(fleet: dict[str, Any]) -> None:
    store: Store = fleet["store"]
    names = active(fleet)
    rows = run(fleet, "facts", ["=", "name", "os"]).rows
    assert sorted(r["certname"] for r in rows) == sorted(n for n in names if store.get_facts(n))
    for row in rows:
        assert row["value"] == store.get_facts(row["certname"])["os"]
        assert row["environment"] == "production"
    processors = run(fleet, "facts", ["and", ["=", "name", "processors"], ["~", "certname", "^web"]]).rows
    assert all(r["value"] == store.get_facts(r["certname"])["processors"] for r in processors) and processors
    roles = Counter(r["value"] for r in run(fleet, "facts", ["=", "name", "role"]).rows)
    assert roles == Counter(store.get_facts(n)["role"] for n in names if store.get_facts(n))
    db = run(fleet, "facts", ["and", ["=", "name", "role"], ["=", "value", "db"]]).rows
    assert {r["certname"] for r in db} == {n for n in names if (store.get_facts(n) or {}).get("role") == "db"}
    assert run(fleet, "facts", ["and", ["=", "name", "role"], [">", "value", 1]]).rows == []  # text is no number
    assert run(fleet, "facts", ["and", ["=", "name", "role"], ["~", "value", "^d"]]).rows == db
    assert run(fleet, "fact-names").rows == sorted({"trusted", *(k for n in names for k in store.get_facts(n) or {})})
    trusted = run(fleet, "facts", ["and", ["=", "name", "trusted"], ["=", "certname", "web01.example.com"]]).rows
    assert trusted[0]["value"] == {"certname": "web01.example.com", "hostname": "web01", "domain": "example.com",
                                   "authenticated": "remote", "extensions": {}}


def test_fact_contents_paths_and_inventory(fleet: dict[str, Any]) -> None:
    store: Store = fleet["store"]
    rows = run(fleet, "fact-contents", ["=", "path", ["os", "family"]]).rows
    assert rows and all(r["value"] == store.get_facts(r["certname"])["os"]["family"] and r["name"] == "os"
                        for r in rows)
    majors = run(fleet, "fact-contents", ["and", ["=", "name", "os"], ["~>", "path", ["os", "release", "maj.*"]]]).rows
    assert {r["value"] for r in majors} == {store.get_facts(r["certname"])["os"]["release"]["major"] for r in majors}
    paths = run(fleet, "fact-paths", ["~>", "path", ["os", ".*"]]).rows
    assert {"path": ["os", "family"], "type": "string"} in paths and {"path": ["os", "release"], "type": "map"} in paths
    inventory = run(fleet, "inventory", ["=", "facts.os.release.major", "12"]).rows
    assert inventory and all(r["facts"]["os"]["release"]["major"] == "12" for r in inventory)
    assert inventory[0]["trusted"]["certname"] == inventory[0]["certname"]
    counted = run_pql(fleet, 'nodes[certname] { facts { name = "role" and value = "cache" } order by certname }')
    assert counted == [{"certname": n} for n in active(fleet) if (store.get_facts(n) or {}).get("role") == "cache"]


# -- catalogs and resources ----------------------------------------------------------------------------------------


def test_resources_and_catalogs_come_from_each_nodes_catalog(fleet: dict[str, Any]) -> None:
    store: Store = fleet["store"]
    with_catalogs = [n for n in active(fleet) if store.get_catalog(n)]
    expected = sum(len(store.get_catalog(n)["resources"]) for n in with_catalogs)
    assert run(fleet, "resources", ["extract", [["function", "count"]], ["=", "environment", "production"]]).rows == [
        {"count": expected}]
    files = run(fleet, "resources", ["=", "type", "File"]).rows
    assert len(files) == sum(1 for n in with_catalogs for r in store.get_catalog(n)["resources"] if r["type"] == "File")
    motd = run(fleet, "resources", ["and", ["=", "type", "File"], ["=", "title", "/etc/motd"],
                                    ["=", "certname", with_catalogs[0]]]).rows
    assert len(motd) == 1 and motd[0]["parameters"]["content"] == f"{with_catalogs[0]}\n"
    assert len(motd[0]["resource"]) == 40
    ensured = run(fleet, "resources", ["=", "parameters.ensure", "file"]).rows
    assert ensured and all(r["parameters"]["ensure"] == "file" for r in ensured)
    catalog = run(fleet, "catalogs", ["=", "certname", with_catalogs[0]]).rows[0]
    stored = store.get_catalog(with_catalogs[0])
    assert len(catalog["resources"]["data"]) == len(stored["resources"])
    assert catalog["hash"] and catalog["environment"] == "production"


# -- reports and events --------------------------------------------------------------------------------------------


def test_reports_sort_page_and_group_in_the_database(fleet: dict[str, Any]) -> None:
    store: Store = fleet["store"]
    node = "web01.example.com"
    summaries = store.report_summaries(node, last=100)
    rows = run(fleet, "reports", ["=", "certname", node], order_by=[("start_time", "desc")], limit=2, offset=1,
               include_total=True)
    assert rows.total == len(summaries)
    assert [r["hash"] for r in rows.rows] == [s["transaction_uuid"] for s in summaries[1:3]]
    first = rows.rows[0]
    assert first["metrics"]["data"] and {"category", "name", "value"} == set(first["metrics"]["data"][0])
    assert first["end_time"] >= first["start_time"]
    every = store.report_summaries(last=10_000)
    grouped = run(fleet, "reports", ["extract", [["function", "count"], "status"], None, ["group_by", "status"]]).rows
    assert {g["status"]: g["count"] for g in grouped} == Counter(s["status"] for s in every)
    since = (NOW - timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    recent = run(fleet, "reports", [">=", "producer_timestamp", since]).rows
    assert len(recent) == sum(1 for s in every if s["time"] >= NOW - timedelta(hours=6))
    latest = run(fleet, "reports", ["=", "latest_report?", True]).rows
    assert len(latest) == sum(1 for s in store.node_statuses() if s.last_run is not None)


def test_events_and_event_counts(fleet: dict[str, Any]) -> None:
    store: Store = fleet["store"]
    failed = next(s for s in store.report_summaries(last=10_000) if s["status"] == "failed")
    events = run(fleet, "events", ["=", "report", failed["transaction_uuid"]]).rows
    assert [(e["resource_type"], e["resource_title"], e["status"]) for e in events] == [
        (e["resource_type"], e["resource"].split("[", 1)[1][:-1], e["status"]) for e in store.report_events(failed["id"])]
    assert {e["certname"] for e in events} == {failed["node"]}
    counts = run(fleet, "event-counts", ["=", "latest_report?", True], options={"summarize_by": "certname"}).rows
    by_node = {c["subject"]["title"]: c for c in counts}
    assert by_node["web01.example.com"]["failures"] >= 1
    aggregate = run(fleet, "aggregate-event-counts", ["=", "latest_report?", True],
                    options={"summarize_by": "certname"}).rows
    assert aggregate == [{"summarize_by": "certname", "total": len(counts),
                          "successes": sum(1 for c in counts if c["successes"]),
                          "failures": sum(1 for c in counts if c["failures"]),
                          "noops": sum(1 for c in counts if c["noops"]), "skips": sum(1 for c in counts if c["skips"])}]
    paged = run(fleet, "event-counts", ["=", "latest_report?", True], options={"summarize_by": "certname"},
                order_by=[("successes", "desc")], limit=1, include_total=True)
    assert paged.total == len(counts) and paged.rows[0]["successes"] == max(c["successes"] for c in counts)
    only_failing = run(fleet, "event-counts", None, options={"summarize_by": "certname",
                                                             "counts_filter": '[">", "failures", 0]'}).rows
    assert only_failing and all(c["failures"] > 0 for c in only_failing)
    via_reports = run_pql(fleet, 'reports[certname] { events { status = "failure" } group by certname }')
    assert {r["certname"] for r in via_reports} == {c["subject"]["title"] for c in only_failing}


# -- errors --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("entity", "query", "message"), [
    ("nodes", ["=", "colour", "red"], "'colour' is not a queryable field of nodes; known fields: certname, "
                                      "deactivated, expired, catalog_timestamp, facts_timestamp, report_timestamp, "
                                      "catalog_environment, facts_environment, report_environment, "
                                      "latest_report_status, latest_report_noop, latest_report_noop_pending, "
                                      "latest_report_corrective_change, latest_report_hash, latest_report_job_id, "
                                      "cached_catalog_status, node_state"),
    ("nodes", ["like", "certname", "x"], "unknown operator 'like'; supported: =, >, <, >=, <=, ~, null?, and, or, "
                                         "not, in, extract, subquery, from, select_<entity>"),
    ("nodes", [">", "report_timestamp", "yesterday"],
     "'report_timestamp' is a time: give an ISO 8601 timestamp such as \"2024-05-01T10:00:00Z\", not \"yesterday\""),
    ("nodes", ["~", "certname", "("], "'~' on 'certname': bad regular expression: missing ), unterminated subpattern "
                                      "at position 0"),
    ("nodes", [">", "certname", "a"], "operator '>' takes a number or a time; 'certname' is text"),
    ("facts", ["<", "value", "x"], "'<' on 'value' takes a number, not \"x\""),
    ("widgets", None, "unknown entity 'widgets'; this API answers: nodes, environments, producers, facts, "
                      "factsets, fact-contents, fact-paths, fact-names, inventory, resources, catalogs, edges, "
                      "reports, events, event-counts, aggregate-event-counts"),
    ("nodes", ["in", "certname", ["extract", "certname", ["select_widgets"]]],
     "unknown entity 'widgets'; this API answers: nodes, environments, producers, facts, factsets, fact-contents, "
     "fact-paths, fact-names, inventory, resources, catalogs, edges, reports, events, event-counts, "
     "aggregate-event-counts"),
    ("nodes", ["=", "node_state", "sleeping"], "node_state takes '=' with \"active\", \"inactive\" or \"any\""),
    ("nodes", ["extract", [["function", "median", "certname"]]], "unknown function 'median'; supported: count, avg, "
                                                               "sum, min, max"),
    ("nodes", "certname", "expected a query such as [\"=\", \"certname\", \"web01\"], not \"certname\""),
])
def test_queries_the_api_cannot_answer_say_why(fleet: dict[str, Any], entity: str, query: Any, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        run(fleet, entity, query)
    assert caught.value.message == message


# -- over HTTP (the dashboard's WSGI application) -------------------------------------------------------------------


def _call(app: Any, path: str, token: str, query: str = "", *, method: str = "GET", body: bytes = b"",
          header: str = "HTTP_X_AUTHENTICATION") -> tuple[int, dict[str, str], bytes]:
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        got["status"], got["headers"] = int(status.split()[0]), dict(headers)

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "wsgi.input": io.BytesIO(body),
               "CONTENT_LENGTH": str(len(body)), header: token if header != "HTTP_AUTHORIZATION" else f"Bearer {token}"}
    out = b"".join(app(environ, start_response))
    return got["status"], got["headers"], out


def test_the_endpoints_answer_as_puppetdb_does(fleet: dict[str, Any], tmp_path: Any) -> None:
    from urllib.parse import urlencode

    tokens = TokenStore(tmp_path / "tokens.json")
    token = tokens.issue("scripts")
    app = create_app(fleet["store"], tokens=tokens, cache_seconds=0, node_ttl=NODE_TTL.total_seconds())
    status, headers, body = _call(app, "/pdb/query/v4", token, urlencode(
        {"query": 'nodes[certname] { latest_report_status = "failed" order by certname }'}))
    assert status == 200 and json.loads(body) == [{"certname": "web01.example.com"}]
    status, headers, body = _call(app, "/pdb/query/v4/reports", token, urlencode(
        {"query": '["=", "certname", "db01.example.com"]', "limit": 1, "include_total": "true"}))
    assert status == 200 and headers["X-Records"] == str(len(fleet["store"].report_summaries("db01.example.com",
                                                                                              last=100)))
    assert len(json.loads(body)) == 1
    status, _, body = _call(app, "/pdb/query/v4/nodes/web01.example.com", token, header="HTTP_AUTHORIZATION")
    assert status == 200 and json.loads(body)["certname"] == "web01.example.com"
    status, _, body = _call(app, "/pdb/query/v4/nodes/web01.example.com/facts/role", token)
    assert json.loads(body) == [{"certname": "web01.example.com", "name": "role", "value": "web",
                                 "environment": "production"}]
    status, _, body = _call(app, "/pdb/query/v4/facts", token, method="POST",
                            body=json.dumps({"query": ["=", "name", "role"], "limit": 2}).encode())
    assert status == 200 and len(json.loads(body)) == 2
    status, headers, body = _call(app, "/pdb/query/v4/nodes", token, urlencode({"query": '["=", "x", 1]'}))
    assert status == 400 and headers["Content-Type"].startswith("text/plain")
    assert body.decode().startswith("'x' is not a queryable field of nodes")
    status, _, body = _call(app, "/pdb/query/v4", token, urlencode({"query": "nodes { certname = }"}))
    assert status == 400 and body.decode() == "PQL:1:20: error: expected a value (a string, number, true or false), " \
                                              "found '}'\n"
    status, _, body = _call(app, "/pdb/meta/v1/version", token)
    assert json.loads(body) == {"version": "8.0.0"}
    status, _, body = _call(app, "/metrics/v2/read/puppetlabs.puppetdb.population:name=num-nodes", token)
    assert json.loads(body)["value"]["Value"] == len(active(fleet))
    status, _, _ = _call(app, "/pdb/query/v4/nodes", "bkd_wrong")
    assert status == 401
    # a token limited to a group sees that group's nodes only, in every entity
    limited = tokens.issue("web-team", "viewer", ["web"])
    web = {n for n, g in fleet["sample"].groups.items() if g == "web"}
    status, _, body = _call(app, "/pdb/query/v4", limited, urlencode({"query": "nodes[certname] {}"}))
    assert {r["certname"] for r in json.loads(body)} == web
    status, _, body = _call(app, "/pdb/query/v4/facts", limited, urlencode({"query": '["=", "name", "role"]'}))
    assert {r["certname"] for r in json.loads(body)} == web


# -- the overview's queries at fleet size ---------------------------------------------------------------------------


@pytest.mark.parametrize(("entity", "query", "paging"), [
    ("nodes", ["=", "node_state", "any"], {"order_by": [("certname", "asc")]}),
    ("nodes", ["and", ["=", "catalog_environment", "production"]], {"order_by": [("certname", "desc")], "limit": 3,
                                                                     "offset": 1}),
    ("nodes", ["extract", ["certname", "latest_report_status", "latest_report_noop", "report_timestamp"],
               ["=", "latest_report_status", "failed"]], {}),
    ("environments", None, {"order_by": [("name", "asc")]}),
    ("reports", ["extract", ["certname", "hash", "status", "noop", "start_time"], ["=", "certname", "web01.example.com"]],
     {"order_by": [("start_time", "desc")], "include_total": True}),
])
def test_answers_the_database_writes_as_json_are_the_rows(fleet: dict[str, Any], entity: str, query: Any,
                                                          paging: dict[str, Any]) -> None:
    """A node list of the whole fleet is JSON the database writes (no Python per node): the same answer."""
    with fleet["store"].engine.connect() as conn:
        rows = execute(conn, fleet["scope"], entity, query, Paging(**paging))
        text = execute(conn, fleet["scope"], entity, query, Paging(**paging), as_text=True)
    assert text.text is not None and text.rows == [] and text.total == rows.total
    assert rows.rows and json.loads(text.text) == rows.rows


def test_answers_with_documents_are_read_in_python(fleet: dict[str, Any]) -> None:
    with fleet["store"].engine.connect() as conn:
        for entity in ("reports", "facts", "catalogs", "resources", "inventory"):
            assert execute(conn, fleet["scope"], entity, None, Paging(limit=2), as_text=True).text is None


def test_the_reports_page_reads_an_index_not_the_reports(fleet: dict[str, Any]) -> None:
    """Puppetboard's reports page counts one environment's reports and shows the newest: both from the index
    on (environment, time), never the report documents."""
    import sqlalchemy as sa

    from master.puppetdb import entities

    store: Store = fleet["store"]
    entity = entities.build("reports", fleet["scope"].backend)
    env = entity.fields["environment"].expr
    start = entity.fields["start_time"].expr
    assert env is not None and start is not None
    count = sa.select(sa.func.count()).select_from(entity.base).where(env == "production")
    newest = sa.select(entity.certname).select_from(entity.base).where(env == "production").order_by(
        start.desc()).limit(100)
    with store.engine.connect() as conn:
        for statement in (count, newest):
            sql = str(statement.compile(conn, compile_kwargs={"literal_binds": True}))
            if conn.dialect.name == "sqlite":
                plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
                assert "INDEX ix_reports_environment_time" in plan, plan
            else:
                conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))
                assert "ix_reports_environment_time" in plan, plan


def test_each_nodes_latest_report_is_looked_up_by_its_key(fleet: dict[str, Any]) -> None:
    """On PostgreSQL a plain join of nodes with reports is planned as a hash join over every report of the
    store (hundreds of MB at 10,000 nodes with a month of history): the latest report is a LATERAL lookup
    by primary key instead; SQLite searches by rowid."""
    import sqlalchemy as sa

    from master.puppetdb import entities

    store: Store = fleet["store"]
    entity = entities.build("nodes", fleet["scope"].backend)
    status = entity.fields["latest_report_status"]
    statement = sa.select(entity.certname, status.expr).select_from(entity.source({"latest_report_status"}))
    with store.engine.connect() as conn:
        sql = str(statement.compile(conn, compile_kwargs={"literal_binds": True}))
        if conn.dialect.name == "sqlite":
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
            assert "SEARCH nr USING INTEGER PRIMARY KEY" in plan, plan
        else:
            assert "LATERAL" in sql and "LIMIT" in sql, sql
            conn.exec_driver_sql("SET LOCAL enable_hashjoin = off")
            conn.exec_driver_sql("SET LOCAL enable_mergejoin = off")
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql))
            assert "latest_report_id" in plan and "Nested Loop" in plan, plan

"""The dashboard at the WSGI level: every page and filter, the JSON API, authentication, metrics, charts and
tokens, against a store seeded with a realistic small fleet (master.dashboard.sample)."""

from __future__ import annotations

import io
import json
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from master.dashboard import Metrics, StaticRolloutSource, TokenError, TokenStore, create_app
from master.dashboard.app import Dashboard
from master.dashboard.pages import flatten_facts, message_parts
from master.dashboard.sample import SampleFleet, make_report, sample_facts, seed_sample_fleet
from master.dashboard.svgchart import Series, bar_chart, line_chart, nice_ticks
from master.store import Store
from master.store.documents import run_seconds

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
ROLLOUT = {"id": "r-7", "code_id": "3f2a9c1", "environment": "production", "state": "running", "current_wave": 1,
           "waves": [{"index": 0, "name": "canary",
                      "nodes": [{"name": "web01.example.com", "state": "succeeded", "health": "healthy"}]},
                     {"index": 1, "name": "batch 1",
                      "nodes": [{"name": "db01.example.com", "state": "failed", "health": "unhealthy"},
                                {"name": "cache01.example.com", "state": "pending", "health": None}]}]}


# -- a WSGI test client ---------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        for k, v in self.headers:
            if k.lower() == "set-cookie":
                jar.load(v)
        return {k: m.value for k, m in jar.items()}

    def links(self, css_class: str) -> list[str]:
        return re.findall(rf'<a class="{css_class}" href="([^"]+)"', self.text)


@dataclass
class Client:
    """Calls the WSGI app directly; keeps cookies like a browser."""

    app: Dashboard
    token: str | None = None
    cookies: dict[str, str] = field(default_factory=dict)
    peer_cert: bytes | None = None

    def request(self, method: str, url: str, *, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        parts = urlsplit(url)
        body = urlencode(form).encode() if form is not None else b""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method, "PATH_INFO": parts.path, "QUERY_STRING": parts.query,
            "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)), "wsgi.url_scheme": "https",
            "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost", "SERVER_PORT": "443",
        }
        if form is not None:
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        if self.token:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.peer_cert is not None:
            environ["bunraku.peer_cert"] = self.peer_cert
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        captured: dict[str, Any] = {}

        def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
            captured["status"], captured["headers"] = int(status.split()[0]), response_headers

        data = b"".join(self.app(environ, start_response))
        reply = Reply(captured["status"], captured["headers"], data)
        for name, value in reply.cookies().items():
            if value:
                self.cookies[name] = value
            else:
                self.cookies.pop(name, None)
        return reply

    def get(self, url: str, **kw: Any) -> Reply:
        return self.request("GET", url, **kw)

    def post(self, url: str, form: dict[str, str], **kw: Any) -> Reply:
        return self.request("POST", url, form=form, **kw)


# -- fixtures -------------------------------------------------------------------------------------------------


@dataclass
class Site:
    store: Store
    fleet: SampleFleet
    tokens: TokenStore
    token: str
    app: Dashboard
    metrics: Metrics

    def client(self, *, token: str | None = None) -> Client:
        return Client(self.app, token=token if token is not None else self.token)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("dashboard")
    store = Store.open(path=base / "store.db")
    fleet = seed_sample_fleet(store, now=NOW)
    # a node whose facts and report carry markup, to prove it is escaped
    store.save_facts("odd.example.com", {"motd": "<script>alert(1)</script>", "os": {"release": {"major": "13"}}},
                     received_at=NOW - timedelta(minutes=2))
    odd = make_report("odd.example.com", NOW - timedelta(minutes=30), "failed", __import__("random").Random(1))
    odd["logs"].append({"level": "err", "message": "<img src=x onerror=alert(1)>", "source": "x"})
    store.save_report(odd, received_at=NOW - timedelta(minutes=30))
    tokens = TokenStore(base / "tokens.json")
    token = tokens.issue("alice", "viewer")
    metrics = Metrics(now=lambda: NOW)
    app = create_app(store, metrics=metrics, tokens=tokens, rollouts=StaticRolloutSource([ROLLOUT]),
                     now=lambda: NOW, cache_seconds=0, page_size=5)
    yield Site(store, fleet, tokens, token, app, metrics)
    store.close()


def report_ids(store: Store, **filters: Any) -> list[int]:
    return [r["id"] for r in store.report_summaries(last=100_000, **filters)]


# -- pages ----------------------------------------------------------------------------------------------------


def test_overview_shows_the_fleet_by_status_the_unresponsive_and_the_last_day(site: Site) -> None:
    page = site.client().get("/")
    assert page.status == 200
    statuses = site.store.node_statuses(now=NOW)
    counts = {s: sum(1 for n in statuses if n.status == s) for s in ("failed", "changed", "unresponsive")}
    cards = page.text.split('id="status-cards"')[1].split("</div>\n</div>")[0]
    for status, count in counts.items():
        assert re.search(rf'status-{status}"><a href="/nodes\?status={status}"><div class="n">{count}</div>', cards)
    assert counts["unresponsive"] == 1 and counts["failed"] >= 2
    # unresponsive nodes are listed; the last day's failures link to their reports
    unresponsive_section = page.text.split("Unresponsive nodes")[1]
    assert site.fleet.unresponsive in unresponsive_section
    failed_24h = site.store.report_summaries(last=10, status="failed", since=NOW - timedelta(hours=24))
    failures = page.text.split("Failures, last 24 hours")[1].split("Changes, last 24 hours")[0]
    assert [f"/report/{r['id']}" for r in failed_24h] == re.findall(r'href="(/report/\d+)"', failures)
    day = site.store.stats(since=NOW - timedelta(hours=24), now=NOW)
    assert re.search(rf'<div class="n">{day["failed"]}</div>failed runs', page.text)
    assert re.search(rf'<div class="n">{day["changed"]}</div>runs with changes', page.text)
    assert page.text.count("<svg") == 3 and "Runs, last 24 hours" in page.text


def test_node_list_filters_and_pages(site: Site) -> None:
    client = site.client()
    everyone = client.get("/api/nodes?per=500").json()
    assert everyone["total"] == len(site.store.node_statuses(now=NOW))
    web = client.get("/api/nodes?group=web&per=500").json()
    assert {n["name"] for n in web["nodes"]} == {n for n, g in site.fleet.groups.items() if g == "web"}
    failed = client.get("/nodes?status=failed")
    expected = sorted(n.name for n in site.store.node_statuses(now=NOW) if n.status == "failed")
    assert [urlsplit(h).path.removeprefix("/node/") for h in failed.links("node-link")] == expected
    assert client.get("/api/nodes?q=CACHE0&per=500").json()["total"] == 3
    # five a page: follow "next" to the end, seeing every node once
    seen, url = [], "/nodes"
    while url:
        page = client.get(url)
        seen += page.links("node-link")
        found = re.search(r'id="next" href="([^"]+)"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert len(seen) == everyone["total"] == len(set(seen))
    assert client.get("/nodes?status=bogus").status == 400
    assert client.get("/nodes?page=x").status == 400


def test_a_disabled_agent_shows_on_the_nodes_pages_until_it_is_enabled(tmp_path: Path) -> None:
    store = Store.open(path=tmp_path / "store.db")
    try:
        for name in ("web01.example.com", "web02.example.com"):
            store.save_report(make_report(name, NOW - timedelta(minutes=10), "unchanged",
                                          __import__("random").Random(2)), received_at=NOW - timedelta(minutes=10))
        tokens = TokenStore(tmp_path / "tokens.json")
        client = Client(create_app(store, tokens=tokens, now=lambda: NOW, cache_seconds=0),
                        token=tokens.issue("alice", "viewer"))
        assert store.note_agent_disabled("web01.example.com", "kernel <upgrade>", at=NOW - timedelta(minutes=5))
        assert not store.note_agent_disabled("web01.example.com", "kernel <upgrade>")  # unchanged: no write
        rows = {row.split('href="/node/')[1].split('"')[0]: row
                for row in client.get("/nodes").text.split("<tr>") if "node-link" in row}
        assert 'class="badge disabled agent-disabled"' in rows["web01.example.com"]
        assert "kernel &lt;upgrade&gt;" in rows["web01.example.com"]  # the agent's message, escaped
        assert "agent disabled" not in rows["web02.example.com"]
        node = client.get("/node/web01.example.com").text
        state = node.split('id="agent-state">')[1].split("</dd>")[0]
        assert "disabled</span> kernel &lt;upgrade&gt; (since" in state
        assert client.get("/api/nodes?per=50").json()["nodes"][0]["disabled"] == "kernel <upgrade>"
        # enabled again (its live channel says so): the mark goes
        assert store.note_agent_disabled("web01.example.com", None)
        assert "agent-disabled" not in client.get("/nodes").text
        assert client.get("/node/web01.example.com").text.split('id="agent-state">')[1].startswith("enabled</dd>")
        # a run after it was disabled also means it runs again
        store.note_agent_disabled("web02.example.com", "", at=NOW - timedelta(minutes=3))
        assert [n.disabled for n in store.node_statuses(now=NOW)] == [None, ""]
        store.save_report(make_report("web02.example.com", NOW - timedelta(minutes=1), "unchanged",
                                      __import__("random").Random(3)), received_at=NOW - timedelta(minutes=1))
        assert [n.disabled for n in store.node_statuses(now=NOW)] == [None, None]
    finally:
        store.close()


def test_the_nodes_list_says_which_agent_wrote_each_nodes_latest_report(tmp_path: Path) -> None:
    store = Store.open(path=tmp_path / "store.db")
    try:
        rng = __import__("random").Random(4)
        for name, version, minutes in (("web01.example.com", "bunraku 0.2.0", 10), ("web02.example.com", "7.23.0", 10),
                                       ("web01.example.com", "bunraku 0.1.0", 20)):  # older: does not count
            report = make_report(name, NOW - timedelta(minutes=minutes), "unchanged", rng)
            report["puppet_version"] = version
            store.save_report(report, received_at=NOW - timedelta(minutes=minutes))
        store.save_facts("db01.example.com", {"os": {"family": "Debian"}})  # no report yet
        tokens = TokenStore(tmp_path / "tokens.json")
        client = Client(create_app(store, tokens=tokens, now=lambda: NOW, cache_seconds=0),
                        token=tokens.issue("alice", "viewer"))
        rows = {row.split('href="/node/')[1].split('"')[0]: row
                for row in client.get("/nodes").text.split("<tr>") if "node-link" in row}
        assert '<td class="agent-version">0.2.0</td>' in rows["web01.example.com"]
        assert '<td class="agent-version">puppet 7.23.0</td>' in rows["web02.example.com"]
        assert '<td class="agent-version"></td>' in rows["db01.example.com"]
        assert {n.name: n.agent_version for n in store.node_statuses(now=NOW)} == {
            "db01.example.com": None, "web01.example.com": "bunraku 0.2.0", "web02.example.com": "7.23.0"}
    finally:
        store.close()


def test_node_page_has_facts_classes_reports_and_plots(site: Site) -> None:
    name = site.fleet.nodes[0]  # web01: last run failed
    page = site.client().get(f"/node/{name}")
    assert page.status == 200
    assert '<span class="badge failed">failed</span>' in page.text.split("</h1>")[0]
    assert "<li>role::web</li>" in page.text and "<li>profile::nginx</li>" in page.text
    assert '<td>os.release.major</td><td><a href="/search?fact=os.release.major&amp;value=12">12</a>' in page.text
    latest = site.store.report_summaries(name, last=15)
    assert page.links("report-link") == [f"/report/{r['id']}" for r in latest]
    charts = page.text.split('id="node-charts"')[1].split("</div>")[0]
    assert charts.count("<svg") == 2 and "Run time" in charts and "Changes per run" in charts
    assert charts.count("<circle") == min(60, len(site.store.report_summaries(name, last=1000)))
    api = site.client().get(f"/api/node/{name}").json()
    assert api["status"]["group"] == "web" and api["classes"][0] == "role::web"
    assert api["catalog"]["compile_seconds"] > 0 and len(api["runs"]) == 24
    assert all(run["seconds"] > 0 for run in api["runs"])
    assert site.client().get("/node/nope.example.com").status == 404
    assert site.client().get("/api/node/nope.example.com").json() == {"error": "no node named 'nope.example.com'"}


def test_report_page_shows_events_and_the_file_diff(site: Site) -> None:
    name = site.fleet.nodes[1]  # web... second node: last run changed
    latest = site.store.report_summaries(name, last=1)[0]
    assert latest["status"] == "changed"
    page = site.client().get(f"/report/{latest['id']}")
    assert page.status == 200
    assert "File[/etc/ntp.conf]" in page.text and "Service[ntp]" in page.text
    assert '<span class="del">-server 0.pool.ntp.org</span>' in page.text
    assert '<span class="add">+server ntp1.example.com</span>' in page.text
    assert '<span class="hunk">@@ -1,2 +1,2 @@</span>' in page.text
    assert "ensure changed &#39;stopped&#39; to &#39;running&#39;" in page.text
    assert "Applied catalog in" in page.text
    api = site.client().get(f"/api/report/{latest['id']}").json()
    assert api["report"]["host"] == name and len(api["events"]) == 2 and api["seconds"] > 0
    assert site.client().get("/report/999999").status == 404


def test_noop_and_failed_reports_are_marked(site: Site) -> None:
    noop = site.store.report_summaries(site.fleet.nodes[2], last=1)[0]
    assert noop["noop"]
    page = site.client().get(f"/report/{noop['id']}").text
    assert '<span class="badge noop">noop</span>' in page and "content would have changed" in page
    failed = site.store.report_summaries(site.fleet.nodes[0], last=1)[0]
    page = site.client().get(f"/report/{failed['id']}").text
    assert "Exec[migrate-db]" in page and '<span class="badge failure">failure</span>' in page


def test_report_list_filters(site: Site) -> None:
    client = site.client()

    def ids(query: str) -> list[int]:
        return [r["id"] for r in client.get(f"/api/reports?per=500&{query}").json()["reports"]]

    node = site.fleet.nodes[3]
    assert ids(f"node={node}") == report_ids(site.store, node=node)
    assert ids("status=failed") == report_ids(site.store, status="failed")
    assert ids("status=changed&range=24h") == report_ids(site.store, status="changed", since=NOW - timedelta(hours=24))
    window = ids("since=2024-05-09T00:00&until=2024-05-09")
    expected = [r["id"] for r in site.store.report_summaries(last=100_000, since=datetime(2024, 5, 9, tzinfo=UTC))
                if r["time"] < datetime(2024, 5, 10, tzinfo=UTC)]
    assert window == expected and window
    documents = {r["id"]: r for r in site.store.report_summaries(last=100_000)}
    assert all(documents[i]["noop"] for i in ids("status=noop")) and ids("status=noop")
    assert all(documents[i]["corrective_change"] for i in ids("status=corrective")) and ids("status=corrective")
    web = set(ids("group=web"))
    assert web and all(site.fleet.groups.get(documents[i]["node"]) == "web" for i in web)
    page = client.get(f"/reports?node={node}&status=unchanged")
    assert page.status == 200 and set(page.links("node-link")) == {f"/node/{node}"}
    for bad in ("status=nope", "since=yesterday", "range=1y", "before=garbage", "per=abc"):
        reply = client.get(f"/reports?{bad}")
        assert reply.status == 400, bad
        assert bad.split("=")[0] in reply.text
    assert client.get("/api/reports?since=yesterday").json()["error"].startswith("since: expected a time")


def test_report_list_pages_by_cursor_without_gaps_or_repeats(site: Site) -> None:
    client = site.client()
    seen: list[int] = []
    url = "/reports?status=unchanged"
    pages = 0
    while url:
        page = client.get(url)
        assert page.status == 200
        seen += [int(h.rsplit("/", 1)[1]) for h in page.links("report-link")]
        found = re.search(r'id="older" href="([^"]+)"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else ""
        pages += 1
        if pages > 1:
            assert 'id="newest"' in page.text
    assert seen == report_ids(site.store, status="unchanged")
    assert pages == -(-len(seen) // 5)
    # the API gives the same cursor
    first = client.get("/api/reports?per=7").json()
    second = client.get(f"/api/reports?per=7&before={first['next']}").json()
    assert [r["id"] for r in first["reports"] + second["reports"]] == report_ids(site.store)[:14]


def test_search_by_fact(site: Site) -> None:
    client = site.client()
    expected = site.store.nodes_with_fact("os.release.major", "12")
    assert len(expected) >= 3
    found = client.get("/api/search?fact=os.release.major&value=12").json()
    assert [n["name"] for n in found["nodes"]] == expected and found["total"] == len(expected)
    page = client.get("/search?fact=os.release.major&value=12")
    assert [urlsplit(h).path.removeprefix("/node/") for h in page.links("node-link")] == expected
    assert f"{len(expected)} nodes with os.release.major = 12" in page.text
    # facts hold numbers; the query is text, and matches the number that reads the same
    assert sample_facts("x", "web", 1)["processors"]["count"] == 4
    four = client.get("/api/search?fact=processors.count&value=4").json()
    assert [n["name"] for n in four["nodes"]] == site.store.nodes_with_fact("processors.count", 4)
    assert four["total"] >= 2
    assert client.get("/search").status == 200
    assert client.get("/api/search").status == 400


def test_statistics_by_fleet_group_and_node(site: Site) -> None:
    client = site.client()
    day = client.get("/api/stats?range=24h").json()
    reports = site.store.report_summaries(last=100_000, since=NOW - timedelta(hours=24))
    totals = day["totals"]
    assert totals["runs"] == len(reports) == sum(b["runs"] for b in day["series"])
    assert totals["failed"] == sum(r["status"] == "failed" for r in reports)
    corrective = sum(r["status"] != "unchanged" and r["corrective_change"] for r in reports)
    intentional = sum(r["status"] != "unchanged" and not r["corrective_change"] and r["change_count"] > 0
                      for r in reports)
    assert (totals["corrective"], totals["intentional"]) == (corrective, intentional)
    assert corrective > 0 and intentional > 0
    durations = [run_seconds(site.store.get_report(r["id"])) for r in reports]
    assert totals["avg_seconds"] == pytest.approx(sum(durations) / len(durations), abs=0.001)
    assert totals["max_seconds"] == pytest.approx(max(durations), abs=0.001)
    assert len(day["series"]) == 25 and day["bucket"] == "hour"
    assert [g["group"] for g in day["groups"]] == ["cache", "db", "web", None]
    assert sum(g["runs"] for g in day["groups"]) == totals["runs"]
    assert day["top"]["failed"][0]["failed"] >= day["top"]["failed"][-1]["failed"] > 0
    assert day["compile"]["catalogs"] == 9 and 0.2 <= day["compile"]["avg"] <= 2.5
    month = client.get("/api/stats?range=30d&group=db").json()
    db_nodes = {n for n, g in site.fleet.groups.items() if g == "db"}
    assert month["totals"]["runs"] == sum(len(report_ids(site.store, node=n)) for n in db_nodes)
    assert month["bucket"] == "day" and len(month["series"]) == 31 and month["groups"] == []
    node = client.get(f"/api/stats?range=7d&node={site.fleet.nodes[0]}").json()
    assert node["totals"]["runs"] == len(report_ids(site.store, node=site.fleet.nodes[0]))
    page = client.get("/stats?range=7d")
    assert page.status == 200 and page.text.count("<svg") == 4
    assert "Corrective and intentional changes (fleet)" in page.text and 'id="top-failed"' in page.text
    assert client.get("/stats?group=web").status == 200
    assert client.get("/stats?range=5y").status == 400


def test_rollouts(site: Site) -> None:
    client = site.client()
    listing = client.get("/rollouts")
    assert '<a href="/rollout/r-7">r-7</a>' in listing.text
    assert "3 node(s) in 2 wave(s): 1 pending, 1 succeeded, 1 failed; 1 unhealthy" in listing.text
    detail = client.get("/rollout/r-7")
    assert "Wave 0 (canary)" in detail.text and "Wave 1" in detail.text and "Wave 2" not in detail.text
    assert '<span class="badge unhealthy">unhealthy</span>' in detail.text
    assert client.get("/rollout/r-8").status == 404
    api = client.get("/api/rollouts").json()["rollouts"]
    assert api[0]["progress"] == {"total": 3, "waves": 2, "states": {"succeeded": 1, "failed": 1, "pending": 1},
                                  "health": {"healthy": 1, "unhealthy": 1}}
    empty = create_app(site.store, tokens=site.tokens, now=lambda: NOW)
    page = Client(empty, token=site.token).get("/rollouts")
    assert page.status == 200 and "No rollout has run yet." in page.text
    assert Client(empty, token=site.token).get("/api/rollouts").json() == {"rollouts": []}


def test_metrics(site: Site) -> None:
    site.metrics.catalog_compiled(0.3)
    site.metrics.catalog_compiled(1.7)
    site.metrics.report_received("failed")
    site.metrics.report_received("changed")
    reply = site.client().get("/metrics")
    assert reply.status == 200 and reply.header("Content-Type", ).startswith("text/plain; version=0.0.4")
    text = reply.text
    assert "bunraku_catalogs_compiled_total 2.0" in text
    assert 'bunraku_catalog_compile_seconds_bucket{le="0.5"} 1.0' in text
    assert 'bunraku_catalog_compile_seconds_bucket{le="2.5"} 2.0' in text
    assert "bunraku_catalog_compile_seconds_sum 2.0" in text
    assert 'bunraku_reports_received_total{status="failed"} 1.0' in text
    assert 'bunraku_reports_received_total{status="unchanged"} 0.0' in text
    for status, count in site.app.fleet().counts.items():
        assert f'bunraku_nodes{{status="{status}"}} {float(count)}' in text
    assert 'bunraku_rollouts{state="running"} 1.0' in text and 'bunraku_rollouts{state="completed"} 0.0' in text
    # a registry of its own: two Metrics never share counters
    assert "bunraku_catalogs_compiled_total 0.0" in Metrics().render().decode()


def test_pages_load_nothing_from_elsewhere_and_escape_what_they_show(site: Site) -> None:
    client = site.client()
    odd = site.store.report_summaries("odd.example.com", last=1)[0]
    urls = ["/", "/nodes", f"/node/{site.fleet.nodes[0]}", "/node/odd.example.com", "/reports",
            f"/report/{odd['id']}", "/search?fact=os.release.major&value=12", "/stats", "/rollouts", "/rollout/r-7"]
    for url in urls:
        page = client.get(url)
        assert page.status == 200, url
        assert "<script" not in page.text and "<img" not in page.text  # no script anywhere, nothing unescaped
        external = re.findall(r'(?:src|href|action)="(?!/|#)([^"]*)"', page.text)
        assert external == [], (url, external)
        assert re.findall(r"https?://", page.text.replace('xmlns="http://www.w3.org/2000/svg"', "")) == [], url
        assert "default-src 'none'" in (page.header("Content-Security-Policy") or "")
        assert page.header("X-Frame-Options") == "DENY"
    node = client.get("/node/odd.example.com").text
    assert "<script>alert(1)</script>" not in node and "&lt;script&gt;alert(1)&lt;/script&gt;" in node
    report = client.get(f"/report/{odd['id']}").text
    assert "<img src=x" not in report and "&lt;img src=x onerror=alert(1)&gt;" in report


# -- authentication -------------------------------------------------------------------------------------------


def test_nobody_logged_in_is_sent_to_the_login_page_or_refused(site: Site) -> None:
    anonymous = site.client(token="")
    page = anonymous.get("/nodes?status=failed")
    assert page.status == 302
    location = page.header("Location") or ""
    assert urlsplit(location).path == "/login"
    assert parse_qs(urlsplit(location).query) == {"next": ["/nodes?status=failed"]}
    for url in ("/api/nodes", "/metrics", "/api/nope"):
        reply = anonymous.get(url)
        assert reply.status == 401, url
        assert reply.header("WWW-Authenticate") == 'Bearer realm="bunraku"'
    assert anonymous.get("/no-such-page").status == 302  # nothing about the site before logging in
    login = anonymous.get("/login")
    assert login.status == 200 and 'name="token"' in login.text
    assert anonymous.post("/logout", {}).status == 303


def test_bad_tokens_are_refused(site: Site) -> None:
    for token in ("bkd_wrong", site.token + "x", "x" * 1000):
        assert site.client(token=token).get("/api/nodes").status == 401
        assert site.client(token=token).get("/").status == 401
    anonymous = site.client(token="")
    assert anonymous.get("/?token=bkd_wrong").status == 401
    reply = anonymous.post("/login", {"token": "bkd_wrong", "next": "/nodes"})
    assert reply.status == 401 and "token refused" in reply.text and not anonymous.cookies
    anonymous.cookies["bunraku_token"] = "bkd_stale"
    refused = anonymous.get("/")
    assert refused.status == 401 and "bunraku_token" not in anonymous.cookies  # the stale cookie is cleared
    assert anonymous.get("/login").status == 200  # ... and never blocks the login page


def test_token_logins_bearer_query_cookie_and_form(site: Site) -> None:
    assert site.client().get("/api/whoami").json() == {"name": "alice", "role": "viewer", "method": "token",
                                                       "groups": None}
    browser = site.client(token="")
    reply = browser.get(f"/nodes?status=failed&token={site.token}")
    assert reply.status == 303 and reply.header("Location") == "/nodes?status=failed"  # the token leaves the URL
    cookie = next(v for k, v in reply.headers if k == "Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    assert browser.get("/nodes?status=failed").status == 200
    assert browser.post("/logout", {}).status == 303 and "bunraku_token" not in browser.cookies
    assert browser.get("/").status == 302
    form = browser.post("/login", {"token": site.token, "next": "/stats?range=7d"})
    assert form.status == 303 and form.header("Location") == "/stats?range=7d"
    assert browser.get("/stats?range=7d").status == 200
    assert browser.get("/login?next=/reports").header("Location") == "/reports"  # already logged in
    # never redirect off the site
    for target in ("https://evil.example.com/", "//evil.example.com/", "/\\evil.example.com"):
        assert site.client(token="").post("/login", {"token": site.token, "next": target}).header("Location") == "/"


def test_revoked_token_stops_working_at_once(site: Site, tmp_path: Path) -> None:
    tokens = TokenStore(tmp_path / "tokens.json")
    bob = tokens.issue("bob", "admin")
    app = create_app(site.store, tokens=tokens, now=lambda: NOW, cache_seconds=0)
    assert Client(app, token=bob).get("/api/whoami").json()["role"] == "admin"
    other_process = TokenStore(tmp_path / "tokens.json")  # e.g. the CLI
    assert other_process.revoke("bob") and not other_process.revoke("bob")
    assert Client(app, token=bob).get("/api/whoami").status == 401


def test_operator_certificate_logs_in_but_an_agent_certificate_does_not(site: Site) -> None:
    from tests.master.test_dashboard_tls import Pki

    pki = Pki()
    operator = Client(site.app, token="", peer_cert=pki.der(pki.issue("ops-alice", operator=True)))
    assert operator.get("/api/whoami").json() == {"name": "ops-alice", "role": "admin", "method": "certificate",
                                                  "groups": None}
    assert operator.get("/").status == 200
    agent = Client(site.app, token="", peer_cert=pki.der(pki.issue("web01.example.com")))
    assert agent.get("/").status == 302 and agent.get("/api/nodes").status == 401


def test_methods_and_unknown_paths(site: Site) -> None:
    client = site.client()
    assert client.post("/nodes", {}).status == 405
    assert client.get("/logout").status == 405
    assert client.get("/no-such-page").status == 404
    assert client.get("/api/no-such").json() == {"error": "no such endpoint"}
    head = client.request("HEAD", "/")
    assert head.status == 200 and head.body == b""


# -- tokens, charts, helpers ----------------------------------------------------------------------------------


def test_token_file_is_private_and_holds_only_hashes(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "tokens.json"
    tokens = TokenStore(path)
    first = tokens.issue("carol")
    second = tokens.issue("dave", "admin")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert first not in text and second not in text and len(first) > 40
    assert {(e["name"], e["role"]) for e in tokens.list()} == {("carol", "viewer"), ("dave", "admin")}
    replaced = tokens.issue("carol")
    assert tokens.verify(first) is None and tokens.verify(replaced) is not None
    assert tokens.verify("") is None and tokens.verify(second).role == "admin"  # type: ignore[union-attr]
    with pytest.raises(TokenError, match="unknown role 'root'"):
        tokens.issue("eve", "root")
    path.write_text("{not json")
    with pytest.raises(TokenError, match=r"tokens.json:1:2: error:"):
        tokens.list()
    assert TokenStore(tmp_path / "none.json").verify(first) is None


def test_charts_have_axes_labels_and_escape_text() -> None:
    assert nice_ticks(0) == [0.0, 1.0]
    assert nice_ticks(9.3) == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    assert nice_ticks(0.07)[-1] >= 0.07
    svg = str(line_chart("Run <time>", ["a", "b", "c"], [Series("x&y", [1.0, None, 3.0])], y_label="seconds"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "Run &lt;time&gt;" in svg and "x&amp;y" in svg and "<script" not in svg
    assert svg.count("<polyline") == 0 and svg.count("<circle") == 2  # the gap splits the line
    assert ">seconds</text>" in svg and ">0</text>" in svg and ">3</text>" in svg
    bars = str(bar_chart("Runs", ["h1", "h2"], [Series("changed", [1, 2]), Series("failed", [0, 3])]))
    assert bars.count('class="bar"') == 3 and 'fill="#c0392b"' in bars  # failed is red everywhere
    assert "no data" in str(bar_chart("Empty", ["a"], [Series("s", [0])]))


def test_count_charts_tick_whole_numbers_only() -> None:
    for high in (1, 2, 3, 4, 7, 13, 40):
        assert all(tick == int(tick) for tick in nice_ticks(high, whole=True)), high
        assert nice_ticks(high, whole=True)[-1] >= high
    assert nice_ticks(2) != nice_ticks(2, whole=True)  # 0.5 apart unless counting
    svg = str(bar_chart("Nodes by status", ["ok", "failed"], [Series("ok", [2, 0]), Series("failed", [0, 1])],
                        y_label="nodes", whole=True))
    ticks = re.findall(r'text-anchor="end" font-size="10">([^<]*)</text>', svg)
    assert ticks == ["0", "1", "2"]


def test_helpers() -> None:
    assert run_seconds({"metrics": {"time": {"values": [["file", "File", 1], ["total", "Total", 2.5]]}}}) == 2.5
    assert run_seconds({"metrics": {"time": {"total": 4}}}) == 4.0
    assert run_seconds({"metrics": {}}) is None and run_seconds(None) is None
    assert flatten_facts({"os": {"release": {"major": "12"}}, "ips": [{"a": 1}], "tags": ["x"]}) == [
        ("ips.0.a", 1), ("os.release.major", "12"), ("tags", ["x"])]
    parts = message_parts("content changed\n--- a\n+++ b\n@@ -1 +1 @@\n-old\n+new\n same")
    assert parts["summary"] == "content changed" and [k for k, _ in parts["diff"]] == [
        "file", "file", "hunk", "del", "add", "ctx"]
    assert message_parts("one line") == {"summary": "one line", "diff": [], "text": ""}


def test_cached_statistics_agree_with_fresh_ones(site: Site) -> None:
    cached = create_app(site.store, tokens=site.tokens, now=lambda: NOW, cache_seconds=60)
    for query in ("range=24h", "range=7d", "range=30d&group=web", f"range=7d&node={site.fleet.nodes[0]}"):
        fresh = site.client().get(f"/api/stats?{query}").json()
        first = Client(cached, token=site.token).get(f"/api/stats?{query}").json()
        again = Client(cached, token=site.token).get(f"/api/stats?{query}").json()  # from the settled buckets
        for answer in (first, again):
            assert (answer["totals"], answer["series"], answer["top"]) == (fresh["totals"], fresh["series"], fresh["top"])


def rounded(value: Any) -> Any:
    """Averages differ in the last digit between databases (float summation order)."""
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def test_postgresql_gives_the_same_figures(site: Site) -> None:
    from tests.master.test_store import PG_USER, PgSchema

    if PG_USER is None:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
    pg = PgSchema()
    try:
        with Store.open(pg.url()) as store:
            seed_sample_fleet(store, now=NOW)
            app = create_app(store, tokens=site.tokens, now=lambda: NOW, cache_seconds=0)
            lite = create_app(site.store, tokens=site.tokens, now=lambda: NOW, cache_seconds=0)
            on_pg, on_lite = Client(app, token=site.token), Client(lite, token=site.token)
            # (the module's store also has odd.example.com, in no group: compare groups and nodes)
            for query in ("range=24h&group=web", "range=30d&group=cache", "range=7d&group=db",
                          f"range=7d&node={site.fleet.nodes[0]}"):
                a, b = on_pg.get(f"/api/stats?{query}").json(), on_lite.get(f"/api/stats?{query}").json()
                keys = ("series", "compile_series", "compile")
                assert rounded({k: a[k] for k in keys}) == rounded({k: b[k] for k in keys}), query
            a = on_pg.get("/api/reports?per=500&status=failed&group=web").json()["reports"]
            b = on_lite.get("/api/reports?per=500&status=failed&group=web").json()["reports"]
            assert [(r["node"], r["time"], r["seconds"]) for r in a] == [(r["node"], r["time"], r["seconds"]) for r in b]
            assert a
            node = site.fleet.nodes[0]
            assert [r["seconds"] for r in on_pg.get(f"/api/node/{node}").json()["runs"]] == [
                r["seconds"] for r in on_lite.get(f"/api/node/{node}").json()["runs"]]
            assert on_pg.get("/search?fact=os.release.major&value=12").status == 200
            assert on_pg.get("/").status == 200 and on_pg.get("/stats?range=30d").status == 200
    finally:
        pg.drop()

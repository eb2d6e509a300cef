"""Attacks on the dashboard of a running master, each replayed over real TLS with certificates from the
master's own CA: a revoked operator, viewers limited by role and group, the login page's redirect target,
and floods of idle connections."""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from master.dashboard import server as dashboard_server
from master.dashboard.http import Response, UnsafeHeader
from master.dashboard.sample import SampleFleet, seed_sample_fleet
from master.rollout import RolloutOptions
from tests.e2e.harness import issue_identity_from_ca, make_site, start_master
from tests.reliability.fleet import bunraku
from wire import pki

WEB_ONLY = pki.role_text("viewer", ["web"])


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass
class Site:
    master: Any
    base: Path
    ssldir: Path
    fleet: SampleFleet

    @property
    def port(self) -> int:
        return int(self.master.dashboard.port)

    def identity(self, certname: str, *, role: str | None = None, operator: bool = False) -> tuple[Path, Path]:
        paths = issue_identity_from_ca(self.ssldir, self.base, certname, role=role, operator=operator)
        return paths.cert, paths.key

    def context(self, identity: tuple[Path, Path] | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ssldir / "certs" / "ca.pem"))
        context.check_hostname = False
        if identity is not None:
            context.load_cert_chain(str(identity[0]), str(identity[1]))
        return context

    def request(self, path: str, *, identity: tuple[Path, Path] | None = None, token: str | None = None,
                method: str = "GET", form: dict[str, str] | None = None, source: str = "127.0.0.1") -> Reply:
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context(identity),
                                                 timeout=20, source_address=(source, 0))
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return Reply(response.status, response.getheaders(), response.read())
        finally:
            connection.close()

    def group_nodes(self, *groups: str) -> set[str]:
        return {name for name, group in self.fleet.groups.items() if group in groups}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("dashboard-security")
    make_site(base / "envs")
    master = start_master(base, base / "envs", dashboard_listen="127.0.0.1:0")
    try:
        store = master.ctx.store
        fleet = seed_sample_fleet(store, now=datetime.now(UTC), nodes=6, days=1, runs_per_day=4)
        for group in ("web", "db"):
            master.ctx.rollouts.start("c0ffee1", "production", options=RolloutOptions(), group=group,
                                      created_by="admin")
        yield Site(master, base, base / "master" / "ssl", fleet)
    finally:
        master.stop()


def refused(site: Site, path: str, identity: tuple[Path, Path]) -> bool:
    """The dashboard turns ``identity`` away: in the handshake, or with 401/403."""
    try:
        return site.request(path, identity=identity).status in (401, 403)
    except (ssl.SSLError, ConnectionError):
        return True


# -- revocation --------------------------------------------------------------------------------------------


def test_a_certificate_revoked_while_the_master_runs_no_longer_opens_the_dashboard(site: Site) -> None:
    carol = site.identity("carol-ops", operator=True)
    assert site.request("/api/whoami", identity=carol).json()["name"] == "carol-ops"
    assert site.request("/api/node/db01.example.com", identity=carol).status == 200
    revoked = bunraku("cert", "--ssldir", str(site.ssldir), "revoke", "carol-ops")
    assert revoked.returncode == 0, revoked.stderr
    deadline = time.monotonic() + 10
    while not refused(site, "/api/whoami", carol) and time.monotonic() < deadline:
        time.sleep(0.2)
    for path in ("/api/whoami", "/api/node/db01.example.com", "/api/nodes", "/node/web01.example.com"):
        assert refused(site, path, carol), path
    # the others carry on
    dave = site.identity("dave-ops", operator=True)
    assert site.request("/api/whoami", identity=dave).status == 200


# -- roles and groups ----------------------------------------------------------------------------------------


def _group_limited_viewers(site: Site) -> Iterator[tuple[str, dict[str, Any]]]:
    """A viewer of group web by certificate, and one by a token issued from the command line."""
    yield "certificate", {"identity": site.identity("web-viewer", role=WEB_ONLY)}
    issued = bunraku("dashboard", "token-issue", "web-reader", "--role", "viewer", "--groups", "web",
                     "--ssldir", str(site.ssldir))
    assert issued.returncode == 0, issued.stderr
    yield "token", {"token": issued.stdout.strip()}


def same_but_for(one: bytes, other: bytes, names: tuple[str, str]) -> bool:
    return one.replace(names[0].encode(), b"NAME") == other.replace(names[1].encode(), b"NAME")


def test_a_group_limited_viewer_sees_nothing_of_other_groups(site: Site) -> None:
    web = site.group_nodes("web")
    assert web == {"web01.example.com", "web02.example.com", "legacy01.example.com"}
    db01 = site.master.ctx.store.report_summaries("db01.example.com", last=1)[0]["id"]
    web01 = site.master.ctx.store.report_summaries("web01.example.com", last=1)[0]["id"]
    rollouts = {r["group"]: str(r["id"]) for r in site.master.ctx.rollouts.list_all()}
    for method, who in _group_limited_viewers(site):
        def get(path: str, who: dict[str, Any] = who) -> Reply:
            return site.request(path, **who)

        me = get("/api/whoami").json()
        assert (me["role"], me["groups"], me["method"]) == ("viewer", ["web"], method)

        listed = get("/api/nodes?per=500").json()
        assert {n["name"] for n in listed["nodes"]} == web and listed["total"] == 3
        assert sum(listed["counts"].values()) == 3 and listed["groups"] == ["web"]
        assert get("/api/nodes?group=db").json()["total"] == 0

        # a node of another group answers exactly as a node that does not exist
        for prefix in ("/api/node/", "/node/"):
            hidden, missing = get(prefix + "db01.example.com"), get(prefix + "nosuch.example.com")
            assert hidden.status == missing.status == 404
            assert same_but_for(hidden.body, missing.body, ("db01.example.com", "nosuch.example.com"))
            assert get(prefix + "web01.example.com").status == 200
        for prefix in ("/api/report/", "/report/"):
            hidden, missing = get(f"{prefix}{db01}"), get(f"{prefix}999999")
            assert hidden.status == missing.status == 404
            assert same_but_for(hidden.body, missing.body, (f"report {db01}", "report 999999"))
            assert get(f"{prefix}{web01}").status == 200

        reports = get("/api/reports?per=500").json()["reports"]
        assert reports and {r["node"] for r in reports} <= web
        assert get("/api/reports?node=db01.example.com").json()["reports"] == []
        assert get("/api/reports?group=db").json()["reports"] == []

        assert get("/api/search?fact=role&value=db").json()["total"] == 0
        found = get("/api/search?fact=kernel&value=Linux&per=1000").json()
        assert {n["name"] for n in found["nodes"]} == web

        stats = get("/api/stats?range=24h").json()
        assert sum(stats["nodes"].values()) == 3
        assert {row["node"] for rows in stats["top"].values() for row in rows} <= web
        assert {row["group"] for row in stats["groups"]} <= {"web"} and stats["group_names"] == ["web"]
        assert stats["totals"]["nodes_reporting"] <= 3
        for hidden_scope, missing_scope in (("node=db01.example.com", "node=nosuch.example.com"),
                                            ("group=db", "group=nosuch")):
            hidden = get(f"/api/stats?range=24h&{hidden_scope}").json()
            missing = get(f"/api/stats?range=24h&{missing_scope}").json()
            assert hidden["totals"]["runs"] == 0, hidden_scope
            for key in ("totals", "series", "compile", "compile_series", "groups", "top"):
                assert hidden[key] == missing[key], (hidden_scope, key)

        listed_rollouts = get("/api/rollouts").json()["rollouts"]
        assert [r["group"] for r in listed_rollouts] == ["web"]
        assert get(f"/api/rollout/{rollouts['db']}").status == get("/api/rollout/424242").status == 404
        assert get(f"/api/rollout/{rollouts['web']}").status == 200

        # fleet-wide figures are not a group's
        assert get("/metrics").status == 403

        for path in ("/", "/nodes?per=500", "/reports?per=500", "/stats", "/search?fact=kernel&value=Linux",
                     "/rollouts", f"/rollout/{rollouts['web']}"):
            page = get(path)
            assert page.status == 200, path
            assert not re.search(rb"(db|cache)0\d\.example\.com|new01", page.body), path


def test_the_role_and_groups_come_from_the_certificate_and_the_token(site: Site) -> None:
    admin = site.identity("erin-ops", operator=True)
    assert site.request("/api/whoami", identity=admin).json() == {
        "name": "erin-ops", "role": "admin", "groups": None, "method": "certificate"}
    assert site.request("/api/node/db01.example.com", identity=admin).status == 200
    assert site.request("/metrics", identity=admin).status == 200
    everywhere = site.identity("frank-viewer", role=pki.role_text("viewer"))
    assert site.request("/api/whoami", identity=everywhere).json()["role"] == "viewer"
    assert site.request("/api/nodes?per=500", identity=everywhere).json()["total"] == len(site.fleet.nodes)
    # an agent's certificate is no operator's, whatever its name
    agent = site.identity("db01.example.com")
    assert site.request("/api/node/db01.example.com", identity=agent).status == 401
    # a token without --groups sees every group, as a certificate without groups does
    issued = bunraku("dashboard", "token-issue", "fleet-reader", "--ssldir", str(site.ssldir))
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert site.request("/api/whoami", token=token).json() == {
        "name": "fleet-reader", "role": "viewer", "groups": None, "method": "token"}
    assert site.request("/api/node/db01.example.com", token=token).status == 200
    limited = bunraku("dashboard", "token-issue", "db-operator", "--role", "operator", "--groups", "db,cache",
                      "--ssldir", str(site.ssldir))
    assert limited.returncode == 0, limited.stderr
    assert site.request("/api/whoami", token=limited.stdout.strip()).json()["groups"] == ["cache", "db"]
    listed = bunraku("dashboard", "token-list", "--ssldir", str(site.ssldir)).stdout
    assert "db-operator\toperator;groups=cache,db\t" in listed and "fleet-reader\tviewer\t" in listed
    bad = bunraku("dashboard", "token-issue", "x", "--groups", " , ", "--ssldir", str(site.ssldir))
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


# -- the login page's redirect -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin_token(site: Site) -> str:
    issued = bunraku("dashboard", "token-issue", "login-admin", "--role", "admin", "--ssldir", str(site.ssldir))
    assert issued.returncode == 0, issued.stderr
    return issued.stdout.strip()


HOSTILE_TARGETS = [
    "/\r\nSet-Cookie: injected=1",
    "/\nSet-Cookie: injected=1",
    "/%0d%0aSet-Cookie:%20injected=1",
    "/\t/evil.example.com",
    "/%09/evil.example.com",
    "/ /evil.example.com",
    "//evil.example.com",
    "/\\evil.example.com",
    "/%5cevil.example.com",
    "/%2f/evil.example.com",
    "https://evil.example.com/",
    "\x00/x",
    "/\u2028/evil.example.com",
]


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_login_sends_hostile_next_targets_home(site: Site, admin_token: str, target: str) -> None:
    token = admin_token
    for reply in (site.request(f"/login?next={quote(target, safe='')}", token=token),
                  site.request("/login", method="POST", form={"token": token, "next": target})):
        assert reply.status == 303
        assert reply.header("Location") == ["/"]
        assert not any("injected" in value for _, value in reply.headers)


def test_login_keeps_a_next_target_on_this_site(site: Site, admin_token: str) -> None:
    token = admin_token
    reply = site.request(f"/login?next={quote('/nodes?status=failed&group=web', safe='')}", token=token)
    assert reply.status == 303 and reply.header("Location") == ["/nodes?status=failed&group=web"]
    reply = site.request(f"/login?next={quote('/node/wéb01', safe='')}", token=token)
    assert reply.status == 303 and reply.header("Location") == ["/node/w%C3%A9b01"]


def test_the_response_layer_refuses_control_characters_in_headers() -> None:
    for value in ("/\r\nSet-Cookie: x=1", "a\x00b", "tab\there", "del\x7f"):
        with pytest.raises(UnsafeHeader):
            Response(303, b"", headers=[("Location", value)]).wsgi_headers()
    with pytest.raises(UnsafeHeader):
        Response(200, b"", headers=[("X-Bad\r\nName", "v")]).wsgi_headers()
    assert ("Location", "/nodes") in Response(303, b"", headers=[("Location", "/nodes")]).wsgi_headers()


# -- connection floods ---------------------------------------------------------------------------------------


def _connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=20, source_address=(source, 0))


def _flood(port: int, sources: list[str]) -> list[socket.socket]:
    """A connection from each of ``sources``; those the server resets at once (over a cap) are dropped."""
    held = []
    for source in sources:
        try:
            held.append(_connect(port, source))
        except OSError:
            continue
    return held


def test_an_idle_flood_from_one_address_does_not_lock_out_other_viewers(site: Site) -> None:
    admin = site.identity("grace-ops", operator=True)
    flood = [_connect(site.port) for _ in range(dashboard_server.MAX_CONNECTIONS_PER_ADDRESS)]
    try:
        # the flooding address gets no more: its next connection is closed before any TLS
        with pytest.raises((ssl.SSLError, ConnectionError)):
            site.request("/api/whoami", identity=admin)
        # a viewer elsewhere is served all the same
        assert site.request("/api/whoami", identity=admin, source="127.0.0.2").status == 200
    finally:
        for connection in flood:
            connection.close()
    # the flood's slots are given back
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if site.request("/api/whoami", identity=admin).status == 200:
                break
        except (ssl.SSLError, ConnectionError):
            time.sleep(0.2)
    assert site.request("/api/whoami", identity=admin).status == 200


def test_the_total_connection_limit_holds_across_addresses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard_server, "MAX_CONNECTIONS_PER_ADDRESS", 2)
    monkeypatch.setattr(dashboard_server, "MAX_CONNECTIONS", 4)
    make_site(tmp_path / "envs")
    master = start_master(tmp_path, tmp_path / "envs", dashboard_listen="127.0.0.1:0")
    try:
        site = Site(master, tmp_path, tmp_path / "master" / "ssl", SampleFleet([], {}, "", ""))
        admin = site.identity("heidi-ops", operator=True)
        flood = [_connect(site.port, source) for source in ("127.0.0.3", "127.0.0.3", "127.0.0.4", "127.0.0.4")]
        try:
            for source in ("127.0.0.3", "127.0.0.5"):
                with pytest.raises((ssl.SSLError, ConnectionError)):
                    site.request("/api/whoami", identity=admin, source=source)
        finally:
            for connection in flood:
                connection.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if site.request("/api/whoami", identity=admin, source="127.0.0.5").status == 200:
                    break
            except (ssl.SSLError, ConnectionError):
                time.sleep(0.2)
        assert site.request("/api/whoami", identity=admin, source="127.0.0.5").status == 200
    finally:
        master.stop()


def _closed_by_server(connection: socket.socket | ssl.SSLSocket) -> bool:
    try:
        return connection.recv(1) == b""
    except (ConnectionError, ssl.SSLError):
        return True
    except TimeoutError:
        return False


def test_connections_that_never_handshake_or_never_ask_are_dropped(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard_server, "HANDSHAKE_TIMEOUT", 1.0)
    monkeypatch.setattr(dashboard_server, "IDLE_TIMEOUT", 1.0)
    make_site(tmp_path / "envs")
    master = start_master(tmp_path, tmp_path / "envs", dashboard_listen="127.0.0.1:0")
    try:
        port = master.dashboard.port
        silent = _connect(port)  # never says hello
        context = ssl.create_default_context(cafile=str(tmp_path / "master" / "ssl" / "certs" / "ca.pem"))
        context.check_hostname = False
        idle = context.wrap_socket(_connect(port))  # says hello, then never asks for anything
        half = context.wrap_socket(_connect(port))  # starts a request and never finishes it
        half.sendall(b"GET /api/whoami HTTP/1.1\r\nHost: x\r\n")
        for connection in (silent, idle, half):
            connection.settimeout(10)
            assert _closed_by_server(connection)
            connection.close()
    finally:
        master.stop()


def test_many_addresses_of_one_network_do_not_lock_out_other_viewers(site: Site) -> None:
    admin = site.identity("ivan-ops", operator=True)
    per_address = dashboard_server.MAX_CONNECTIONS_PER_ADDRESS
    # 9 addresses of one /24, each at its own limit: more than the dashboard's connections in all
    flood = _flood(site.port, [f"127.0.1.{2 + i // per_address}" for i in range(9 * per_address)])
    try:
        with pytest.raises((ssl.SSLError, ConnectionError)):  # one more address of that network: refused
            site.request("/api/whoami", identity=admin, source="127.0.1.200")
        assert site.request("/api/whoami", identity=admin, source="127.0.0.7").status == 200
    finally:
        for connection in flood:
            connection.close()


@pytest.mark.parametrize("path", ["/%5Cevil.example.com", "/%2F%2Fevil.example.com", "/%2F%5Cevil.example.com",
                                  "/%09/evil.example.com"])
def test_a_token_in_the_address_never_redirects_off_the_site(site: Site, admin_token: str, path: str) -> None:
    reply = site.request(f"{path}?token={admin_token}")
    assert reply.status == 303
    assert reply.header("Location") == ["/"]
    reply = site.request(f"/nodes?status=failed&token={admin_token}")  # a path on the site is kept
    assert reply.status == 303 and reply.header("Location") == ["/nodes?status=failed"]

"""Attacks on PuppetDB's API on the dashboard listener, as a viewer and as a page elsewhere would make them: regular
expressions whose matching explodes on what nodes sent, queries nested or widened until the compiler or the
database gives up, values the database cannot bind, and a deactivation carried by a credential a browser sends
by itself. The dashboard runs in process over a real SQLite store; every refusal is PuppetDB's one-line 400."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from master.dashboard import TokenStore, create_app
from master.dashboard.app import COOKIE
from master.dashboard.sample import seed_sample_fleet
from master.store import Store

NOW = datetime.now(UTC).replace(microsecond=0)
#: a fact value a node sent, on which a backtracking pattern takes 2^20 steps (more letters: exponentially more)
BAIT = "a" * 20 + "!"


class Site:
    def __init__(self, tmp: Path) -> None:
        self.store = Store.open(f"sqlite:///{tmp / 'store.db'}")
        seed_sample_fleet(self.store, now=NOW, nodes=3, days=1, runs_per_day=2)
        self.store.save_facts("web01.example.com", {"role": "web", "motd": BAIT, "cpus": [1, 2]})
        self.tokens = TokenStore(tmp / "tokens.json")
        self.viewer = self.tokens.issue("scripts", "viewer")
        self.operator = self.tokens.issue("ops", "operator")
        self.app = create_app(self.store, tokens=self.tokens, cache_seconds=0)

    def call(self, path: str, query: str = "", *, token: str | None = None, method: str = "GET", body: bytes = b"",
             headers: dict[str, str] | None = None) -> tuple[int, str]:
        got: dict[str, Any] = {}

        def start_response(status: str, response_headers: list[tuple[str, str]]) -> None:
            got["status"] = int(status.split()[0])

        environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                                   "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
        if token is not None:
            environ["HTTP_X_AUTHENTICATION"] = token
        environ.update(headers or {})
        out = b"".join(self.app(environ, start_response))
        return got["status"], out.decode("utf-8", "replace")

    def query(self, path: str, query: Any, **params: Any) -> tuple[int, str]:
        text = query if isinstance(query, str) else json.dumps(query)
        return self.call(path, urlencode({"query": text, **params}), token=self.viewer)

    def post(self, path: str, query: Any) -> tuple[int, str]:
        return self.call(path, token=self.viewer, method="POST", body=json.dumps({"query": query}).encode())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    made = Site(tmp_path_factory.mktemp("pdb-attack"))
    yield made
    made.store.close()


@pytest.mark.parametrize(("path", "query"), [
    ("/pdb/query/v4/facts", ["~", "value", "^(a+)+$"]),
    ("/pdb/query/v4", 'facts { name = "motd" and value ~ "^(a|aa)*$" }'),
    ("/pdb/query/v4/fact-contents", ["and", ["=", "name", "motd"], ["~", "value", "^(a*)*$"]]),
    ("/pdb/query/v4/nodes", ["not", ["~", "certname", "^([a-z0-9]+\\.?)+$"]]),
])
def test_a_regular_expression_whose_matching_explodes_is_refused(site: Site, path: str, query: Any) -> None:
    """A repeated repetition backtracks exponentially on a value such as "aaaa...!", which any node may send as
    a fact: one query would hold a dashboard thread and a store connection for hours."""
    status, text = site.query(path, query)
    assert status == 400, text[:200]
    assert "exponential time" in text and "\n" == text[-1] and text.count("\n") == 1
    # what a person types into a search box still matches
    status, text = site.query("/pdb/query/v4/facts", ["and", ["=", "name", "motd"], ["~", "value", "^a+!$"]])
    assert status == 200 and [row["certname"] for row in json.loads(text)] == ["web01.example.com"]


@pytest.mark.parametrize("shape", ["json", "pql", "or", "subqueries", "counts_filter"])
def test_a_query_nested_or_widened_without_end_is_a_400(site: Site, shape: str) -> None:
    """Nested 3,000 deep, 300 PQL negations, 5,000 alternatives, 250 alternatives three subqueries down: each
    was a recursion error or SQLite's "expression tree is too large", i.e. a 500 and a traceback in the log."""
    if shape == "json":
        status, text = site.query("/pdb/query/v4/nodes", '["not",' * 3000 + '["=","certname","x"]' + "]" * 3000)
    elif shape == "pql":
        status, text = site.query("/pdb/query/v4", "nodes { " + "!(" * 300 + "certname = 'x'" + ")" * 300 + " }")
    elif shape == "or":
        status, text = site.post("/pdb/query/v4/nodes", ["or", *(["=", "certname", str(i)] for i in range(5000))])
    elif shape == "subqueries":
        query: Any = ["or", *(["=", "certname", str(i)] for i in range(250))]
        for level in range(3):
            query = ["subquery", ("reports", "events")[level % 2], ["and", ["=", "certname", "x"], query]]
        status, text = site.post("/pdb/query/v4/nodes", ["extract", ["certname"], query])
    else:
        deep = '["not",' * 3000 + '[">","failures",0]' + "]" * 3000
        status, text = site.call("/pdb/query/v4/event-counts", urlencode(
            {"summarize_by": "certname", "counts_filter": deep}), token=site.viewer)
    assert status == 400, text[:300]
    assert text.count("\n") == 1 and ("nested" in text or "conditions" in text)


@pytest.mark.parametrize(("path", "query", "expected"), [
    ("/pdb/query/v4/fact-paths", ["~>", "path", ["(", "x"]], 400),
    ("/pdb/query/v4/fact-contents", ["~>", "path", ["os", "(?P<"]], 400),
    ("/pdb/query/v4/facts", [">", "value", 10 ** 400], 400),
    ("/pdb/query/v4/facts", ["=", "value", 2 ** 70], 200),
    ("/pdb/query/v4/facts", ["=", "value", [1, 2]], 200),
    ("/pdb/query/v4/nodes", ["in", "certname", ["from", "nodes", ["extract"]]], 400),
])
def test_values_the_database_cannot_take_are_answered_not_a_500(site: Site, path: str, query: Any,
                                                                expected: int) -> None:
    status, text = site.post(path, query)
    assert status == expected, text[:300]
    if expected == 200 and query[2] == [1, 2]:  # an array compares with the fact that is that array
        assert [(r["certname"], r["name"]) for r in json.loads(text)] == [("web01.example.com", "cpus")]


def test_deactivating_takes_the_token_in_a_header_not_one_a_browser_sends_by_itself(site: Site) -> None:
    """A form elsewhere can make an operator's browser POST with the dashboard's cookie (or a token in the
    address) and with credentials it caches for the site, such as a proxy's Basic ones: an Authorization header
    that is no Bearer token must not count as the token coming from a header."""
    node = "db01.example.com"
    body = json.dumps({"command": "deactivate node", "version": 3, "payload": {"certname": node}}).encode()
    basic = {"HTTP_AUTHORIZATION": "Basic b3BzOnNlY3JldA=="}
    for how in ({"HTTP_COOKIE": f"{COOKIE}={site.operator}", **basic},
                {"QUERY_STRING": urlencode({"token": site.operator}), **basic}):
        status, text = site.call("/pdb/cmd/v1", how.pop("QUERY_STRING", ""), method="POST", body=body, headers=how)
        assert status == 401, text
    assert node in {s.name for s in site.store.node_statuses()}
    # with the token in X-Authentication (or as a Bearer token) it is carried out
    status, text = site.call("/pdb/cmd/v1", method="POST", body=body, token=site.operator)
    assert status == 200 and "uuid" in json.loads(text)
    assert node not in {s.name for s in site.store.node_statuses()}


def test_a_browser_holding_an_operator_certificate_cannot_be_made_to_deactivate(site: Site) -> None:
    """A browser sends its client certificate to the dashboard whatever page made the request: a form elsewhere
    can POST a body that reads as JSON (enctype text/plain), but never with JSON's content type."""
    from master.dashboard.app import PEER_CERT_KEY
    from tests.master.test_dashboard_tls import Pki

    pki = Pki()
    cert = {PEER_CERT_KEY: pki.der(pki.issue("ops-alice", operator=True))}
    node = "cache01.example.com"
    # what <form enctype="text/plain"> with the input named '{"command":"deactivate node","payload":"NODE","x":"'
    # and the value '"}' sends
    forged = ('{"command":"deactivate node","payload":"' + node + '","x":"="}').encode()
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {**cert, **({"CONTENT_TYPE": kind} if kind else {})}
        status, text = site.call("/pdb/cmd/v1", method="POST", body=forged, headers=headers)
        assert status == 415 and text == "a command is JSON: send it with Content-Type: application/json\n"
    assert node in {s.name for s in site.store.node_statuses()}
    status, text = site.call("/pdb/cmd/v1", method="POST", body=forged,
                             headers={**cert, "CONTENT_TYPE": "application/json; charset=utf-8"})
    assert status == 200 and node not in {s.name for s in site.store.node_statuses()}

"""``POST /deploy`` on the dashboard listener: the git server's webhook reaches the master's deployer."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from master.dashboard import create_app
from master.dashboard.tokens import TokenStore
from master.store import Store
from tests.master.test_deploy import deployer, git, make_remote, push


def _post(app: Any, body: bytes, *, token: str | None = None, cookie: str | None = None,
          authorization: str | None = None, peer_cert: bytes | None = None,
          content_type: str = "application/json") -> tuple[int, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/deploy", "QUERY_STRING": "", "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": content_type, "wsgi.url_scheme": "https",
        "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost", "SERVER_PORT": "443",
    }
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if cookie:
        environ["HTTP_COOKIE"] = f"bunraku_token={cookie}"
    if authorization:
        environ["HTTP_AUTHORIZATION"] = authorization
    if peer_cert is not None:
        environ["bunraku.peer_cert"] = peer_cert
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = int(status.split()[0])

    data = b"".join(app(environ, start_response))
    return captured["status"], json.loads(data) if data else None


def test_the_webhook_deploys_for_operators_only(tmp_path: Path) -> None:
    bare, work = make_remote(tmp_path)
    d = deployer(tmp_path, f"file://{bare}")
    tokens = TokenStore(tmp_path / "tokens.json")
    operator, viewer = tokens.issue("ci", "operator"), tokens.issue("alice", "viewer")
    web_only = tokens.issue("web-team", "operator", ["web"])
    with Store.open(path=tmp_path / "s.db") as store:
        app = create_app(store, tokens=tokens, deployer=d)
        head = push(work, "manifests/site.pp", "notify { 'new': }\n")
        status, reply = _post(app, b'{"environment": "production"}', token=operator)
        assert status == 200 and reply["environments"][0]["commit"] == head == git(work, "rev-parse", "HEAD")
        assert _post(app, b"{}", token=viewer)[0] == 403
        assert _post(app, b"{}", token=web_only)[0] == 403  # a deploy reaches every group's nodes
        assert _post(app, b"{}")[0] == 401
        assert _post(app, b"{}", cookie=operator)[0] == 401  # a browser's cookie does not deploy (no CSRF)
        # nor with some other Authorization header a browser or proxy adds (Basic credentials)
        assert _post(app, b"{}", cookie=operator, authorization="Basic dXNlcjpwYXNz")[0] == 401
        assert _post(app, b'{"environment": "../x"}', token=operator)[0] == 400
        assert _post(app, b"x" * 5000, token=operator)[0] == 413
        # an operator certificate deploys with JSON's content type; a form's (what any web page can make a
        # browser holding the certificate post) is refused
        from tests.master.test_dashboard_tls import Pki

        pki = Pki()
        cert = pki.der(pki.issue("ops-alice", operator=True))
        assert _post(app, b"{}", peer_cert=cert)[0] == 200
        for form in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", ""):
            status, reply = _post(app, b"{}", peer_cert=cert, content_type=form)
            assert status == 415 and "Content-Type: application/json" in reply["error"], (form, reply)
        # a master that does not fetch from git says so
        assert _post(create_app(store, tokens=tokens), b"{}", token=operator)[0] == 404

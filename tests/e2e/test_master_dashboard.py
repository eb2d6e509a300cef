"""The dashboard served by a running master: an agent's run shows up on its pages and in /metrics,
and only operators (certificate or token) get in."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from agent.run import run_once
from master.dashboard import TokenStore
from tests.e2e.harness import agent_settings, issue_identity, make_site, start_master


def _get(url: str, *, token: str | None = None, cert: tuple[Path, Path] | None = None,
         cafile: Path | None = None) -> tuple[int, str]:
    ctx = ssl.create_default_context(cafile=str(cafile)) if cafile else ssl.create_default_context()
    ctx.check_hostname = False
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_master_serves_the_dashboard_and_metrics(tmp_path: Path) -> None:
    make_site(tmp_path / "envs")
    server = start_master(tmp_path, tmp_path / "envs", dashboard_listen="127.0.0.1:0", autosign="true")
    try:
        assert server.dashboard is not None
        base = f"https://127.0.0.1:{server.dashboard.port}"
        ca = tmp_path / "master" / "ssl" / "certs" / "ca.pem"
        settings = agent_settings(server, tmp_path, "web01.example.com")
        result = run_once(settings)
        assert result.exit_code in (0, 2), result
        token = TokenStore(tmp_path / "master" / "ssl" / "dashboard-tokens.json").issue("viewer1")
        status, _ = _get(f"{base}/api/nodes", cafile=ca)
        assert status == 401
        status, body = _get(f"{base}/api/nodes", token=token, cafile=ca)
        assert status == 200 and "web01.example.com" in body
        status, body = _get(f"{base}/metrics", token=token, cafile=ca)
        assert status == 200
        assert 'bunraku_reports_received_total{status="changed"} 1.0' in body or \
               'bunraku_reports_received_total{status="unchanged"} 1.0' in body
        assert "bunraku_catalog_compile_seconds_count 1.0" in body
        assert "bunraku_facts_received_total 1.0" in body  # the agent's run sent its facts once
        op = issue_identity(server, tmp_path, "alice", operator=True)
        status, body = _get(f"{base}/node/web01.example.com", cert=(op.cert, op.key), cafile=ca)
        assert status == 200 and "<svg" in body
        agent = issue_identity(server, tmp_path, "web02.example.com")
        status, _ = _get(f"{base}/api/nodes", cert=(agent.cert, agent.key), cafile=ca)
        assert status == 401
    finally:
        server.stop()


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])

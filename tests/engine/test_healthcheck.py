"""healthcheck: http, tcp and command probes against real servers, sockets and processes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.apply import apply_catalog
from engine.errors import ValidationError
from engine.registry import get_type
from engine.report import Report

from .conftest import CatalogBuilder

FAST = {"retries": 0, "interval": 0, "timeout": 2}


class _Handler(BaseHTTPRequestHandler):
    routes = {"/health": (200, "ok"), "/down": (503, "maintenance"), "/starting": (200, "starting up"),
              "/empty": (204, "")}

    def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
        status, body = self.routes.get(self.path, (404, "not found"))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
        pass


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _apply(cb: CatalogBuilder, root: Path, state: Path, **kw: object) -> Report:
    return apply_catalog(cb.catalog, root=root, state_dir=state, **kw)  # type: ignore[arg-type]


def _health(report: Report, name: str) -> dict[str, object]:
    return report.health["checks"][name]  # type: ignore[no-any-return]


# -- http ------------------------------------------------------------------------------------------------
def test_http_healthy_is_a_success_event_and_changes_nothing(web: str, root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Healthcheck", "web", check="http", url=f"{web}/health", expect_status=200, expect_body="ok", **FAST)
    report = _apply(cb, root, state)
    st = report.resource_statuses["Healthcheck[web]"]
    assert not st.failed and not st.changed and st.change_count == 0 and st.provider == "builtin"
    [event] = st.events
    assert (event.property, event.status, event.name) == ("health", "success", "health_checked")
    assert (event.previous_value, event.desired_value) == ("healthy", "healthy")
    assert event.message == f"healthy after 1 attempt: GET {web}/health: HTTP 200, body contains 'ok'"
    assert report.status == "unchanged" and report.exit_code() == 0
    assert report.health["status"] == "healthy"
    check = _health(report, "web")
    assert check["healthy"] is True and check["attempts"] == 1 and check["status"] == "healthy"
    assert check["message"] == event.message and isinstance(check["duration"], float)


def test_http_default_expectation_is_any_2xx(web: str, root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Healthcheck", "empty", url=f"{web}/empty", **FAST)  # check inferred from url
    report = _apply(cb, root, state)
    assert report.health["status"] == "healthy"
    assert "HTTP 204" in str(_health(report, "empty")["message"])


def test_http_wrong_status_fails_the_resource_after_every_retry(web: str, root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Healthcheck", "web", check="http", url=f"{web}/down", expect_status=[200, 204], retries=2,
           interval=0.01, timeout=2)
    report = _apply(cb, root, state)
    st = report.resource_statuses["Healthcheck[web]"]
    assert st.failed and not st.changed
    [event] = st.events
    assert event.status == "failure" and event.previous_value == "unhealthy"
    assert event.message == (f"unhealthy after 3 attempts: GET {web}/down: HTTP 503, expected 200, 204; "
                             "body 'maintenance'")
    # Puppet's rule, unchanged: a failed resource makes a failed report; health says why.
    assert report.status == "failed" and report.exit_code() == 4
    assert report.health["status"] == "unhealthy"
    assert _health(report, "web")["attempts"] == 3 and _health(report, "web")["healthy"] is False


def test_http_wrong_body(web: str, root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Healthcheck", "web", check="http", url=f"{web}/starting", expect_body="ok", **FAST)
    report = _apply(cb, root, state)
    assert report.resource_statuses["Healthcheck[web]"].failed
    assert _health(report, "web")["message"] == (
        f"unhealthy after 1 attempt: GET {web}/starting: HTTP 200 but the body does not contain 'ok'; "
        "body 'starting up'")


def test_http_connection_refused_is_retried(closed_port: int, root: Path, state: Path) -> None:
    url = f"http://127.0.0.1:{closed_port}/health"
    cb = CatalogBuilder()
    cb.add("Healthcheck", "web", check="http", url=url, retries=2, interval=0.01, timeout=1)
    report = _apply(cb, root, state)
    check = _health(report, "web")
    assert check["attempts"] == 3 and check["healthy"] is False
    assert check["message"] == f"unhealthy after 3 attempts: GET {url}: connection refused"
    assert report.health["status"] == "unhealthy"


# -- tcp -------------------------------------------------------------------------------------------------
def test_tcp_listening_and_closed(closed_port: int, root: Path, state: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        cb = CatalogBuilder()
        cb.add("Healthcheck", "open", check="tcp", host="127.0.0.1", port=port, **FAST)
        cb.add("Healthcheck", "closed", check="tcp", port=str(closed_port), retries=1, interval=0, timeout=1)
        report = _apply(cb, root, state)
    assert _health(report, "open") == {**_health(report, "open"), "healthy": True, "attempts": 1,
                                       "message": f"healthy after 1 attempt: connected to 127.0.0.1:{port}"}
    assert _health(report, "closed")["message"] == (
        f"unhealthy after 2 attempts: connect to 127.0.0.1:{closed_port}: connection refused")
    assert report.health["status"] == "unhealthy"
    assert not report.resource_statuses["Healthcheck[open]"].failed
    assert report.resource_statuses["Healthcheck[closed]"].failed


# -- command ---------------------------------------------------------------------------------------------
def test_command_exit_status_with_path_and_environment(shell_root: Path, state: Path) -> None:
    root = shell_root
    cb = CatalogBuilder()
    cb.add("Healthcheck", "ok", check="command", command='test "$MODE" = ready', path="/usr/bin:/bin",
           environment=["MODE=ready"], **FAST)
    cb.add("Healthcheck", "bad", check="command", command=["sh", "-c", "echo not ready; exit 1"],
           path=["/usr/bin", "/bin"], **FAST)
    report = _apply(cb, root, state)
    assert _health(report, "ok")["message"] == "healthy after 1 attempt: 'test \"$MODE\" = ready' exited 0"
    assert _health(report, "bad")["message"] == (
        "unhealthy after 1 attempt: 'sh -c echo not ready; exit 1' exited 1: not ready")
    assert report.health["status"] == "unhealthy"


# -- noop, ordering, relationships -----------------------------------------------------------------------
def test_noop_runs_checks_and_reports_them(web: str, root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("File", "/etc/app.conf", content="x\n")
    cb.add("Healthcheck", "web", url=f"{web}/health", **FAST)
    cb.add("Healthcheck", "down", url=f"{web}/down", **FAST)
    report = _apply(cb, root, state, noop=True)
    assert report.noop and not (root / "etc/app.conf").exists() and not state.exists()
    assert report.resource_statuses["File[/etc/app.conf]"].events[0].status == "noop"
    assert [e.status for e in report.resource_statuses["Healthcheck[web]"].events] == ["success"]
    assert [e.status for e in report.resource_statuses["Healthcheck[down]"].events] == ["failure"]
    assert report.health["status"] == "unhealthy" and set(report.health["checks"]) == {"web", "down"}


def test_check_without_relationships_runs_after_everything_even_after_failures(shell_root: Path,
                                                                               state: Path) -> None:
    root = shell_root  # commands run chrooted into it
    cb = CatalogBuilder()
    cb.add("Healthcheck", "conf", check="command", command="/usr/bin/test -f /etc/app.conf", **FAST)
    cb.add("Exec", "broken", command="/bin/false")
    cb.add("File", "/etc/app.conf", content="x\n")
    report = _apply(cb, root, state)
    assert list(report.resource_statuses)[-1] == "Healthcheck[conf]"
    assert report.health["status"] == "healthy"  # declared first, evaluated last: the file is there
    assert report.resource_statuses["Exec[broken]"].failed and report.status == "failed"


def test_require_waits_and_skips_on_failure_before_gates(web: str, shell_root: Path, state: Path) -> None:
    root = shell_root
    cb = CatalogBuilder()
    cb.add("Exec", "broken", command="/bin/false")
    cb.add("Healthcheck", "after-broken", url=f"{web}/health", require="Exec[broken]", **FAST)
    cb.add("Healthcheck", "gate", url=f"{web}/down", before="File[/etc/released]", **FAST)
    cb.add("File", "/etc/released", content="yes\n")
    cb.add("File", "/etc/announced", content="yes\n", require="File[/etc/released]")
    report = _apply(cb, root, state)
    st = report.resource_statuses
    # Skipping is transitive, as in Puppet: what depends on a skipped resource is skipped too.
    assert st["File[/etc/announced]"].skipped
    assert st["File[/etc/announced]"].skip_reason == "dependency Healthcheck[gate] failed"
    assert st["Healthcheck[after-broken]"].skipped
    assert _health(report, "after-broken") == {
        "status": "unknown", "healthy": False, "attempts": 0, "duration": 0.0,
        "message": "not run: dependency Exec[broken] failed"}
    assert st["Healthcheck[gate]"].failed and st["File[/etc/released]"].skipped
    assert not (root / "etc/released").exists()
    assert report.health["status"] == "unhealthy"


def test_refresh_does_not_reach_or_leave_a_check(web: str, shell_root: Path, state: Path) -> None:
    root = shell_root
    log = root / "ran"  # where the chrooted touch would write
    cb = CatalogBuilder()
    cb.add("File", "/etc/app.conf", content="x\n", notify="Healthcheck[web]")
    cb.add("Healthcheck", "web", url=f"{web}/health", notify="Exec[/bin/touch /ran]", **FAST)
    cb.add("Exec", "/bin/touch /ran", refreshonly=True)
    report = _apply(cb, root, state)
    assert report.health["status"] == "healthy" and not log.exists()
    assert report.status == "changed"


def test_invalid_check_is_a_failed_resource_with_unknown_health(root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Healthcheck", "web", check="http", url="http://127.0.0.1/", port=80)
    report = _apply(cb, root, state)
    assert report.resource_statuses["Healthcheck[web]"].failed
    assert _health(report, "web")["message"] == "Could not evaluate: port does not apply to check => http"
    assert report.health["status"] == "unknown"


def test_report_fields_round_trip(web: str, root: Path, state: Path) -> None:
    cb = CatalogBuilder()
    cb.add("Notify", "hi")
    plain = _apply(cb, root, state)
    assert plain.health == {"status": "unknown", "checks": {}}
    cb.add("Healthcheck", "web", url=f"{web}/health", **FAST)
    report = _apply(cb, root, state)
    data = json.loads(report.to_store_json())
    assert data["apply_mode"] == "full" and data["incremental"] is None
    assert data["health"]["status"] == "healthy" and data["health"]["checks"]["web"]["attempts"] == 1
    assert Report.from_dict(data).to_store_dict() == data
    # the saved file is Puppet's report: the health is for Bunraku's master, not in Puppet's schema
    saved = json.loads((state / "last_run_report.json").read_text())
    assert "health" not in saved and saved == report.to_dict()


# -- validation (pure) -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "message"), [
    ({}, "check is required: one of http, tcp, command"),
    ({"check": "ping"}, "invalid value 'ping' for check; expected one of: http, tcp, command"),
    ({"check": "http"}, "check => http needs a url"),
    ({"url": "ftp://x/"}, "url must be an absolute http:// or https:// URL, not 'ftp://x/'"),
    ({"url": "http://x/", "expect_status": 42}, "expect_status must be an HTTP status code (100-599), not 42"),
    ({"check": "tcp"}, "check => tcp needs a port"),
    ({"check": "tcp", "port": 70000}, "port must be between 1 and 65535, not 70000"),
    ({"port": 1, "url": "http://x/"}, "check is required: one of http, tcp, command"),
    ({"check": "tcp", "port": 1, "expect_body": "ok"}, "expect_body does not apply to check => tcp"),
    ({"check": "command", "command": "true"},
     "'true' is not qualified and no path was specified. Please qualify the command or specify a path."),
    ({"command": "/bin/true", "environment": "X"}, "invalid environment setting 'X': expected NAME=VALUE"),
    ({"command": "/bin/true", "retries": -1}, "retries must be 0 or more"),
    ({"command": "/bin/true", "timeout": 0}, "timeout must be more than 0 seconds, not 0"),
    ({"command": "/bin/true", "interval": "soon"}, "interval must be a number of seconds, not 'soon'"),
])
def test_validation_messages(params: dict[str, object], message: str) -> None:
    rtype = get_type("healthcheck")
    assert rtype is not None
    with pytest.raises(ValidationError) as err:
        rtype.validate("web", params)
    assert str(err.value) == message


def test_validation_defaults() -> None:
    rtype = get_type("healthcheck")
    assert rtype is not None
    p = rtype.validate("db", {"check": "tcp", "port": "5432"})
    assert p == {"name": "db", "check": "tcp", "port": 5432, "host": "127.0.0.1", "retries": 2,
                 "interval": 1.0, "timeout": 5.0}
    p = rtype.validate("web", {"url": "https://example.test/h", "expect_status": "200", "require": "X[y]"})
    assert p["check"] == "http" and p["expect_status"] == [200] and "require" not in p


# -- through the language --------------------------------------------------------------------------------
def test_compiled_manifest_applies(web: str, shell_root: Path, state: Path, tmp_path: Path) -> None:
    from dsl.compiler import CompileRequest, compile_catalog

    root = shell_root
    manifest = tmp_path / "site.pp"
    manifest.write_text(f"""
file {{ '/etc/app.conf': content => "ok\\n" }}
healthcheck {{ 'web':
  check => http, url => '{web}/health', expect_status => 200, expect_body => 'ok',
  retries => 1, interval => 0, timeout => 2,
}}
healthcheck {{ 'conf':
  check       => command,
  command     => 'test -f "$CONF"',
  path        => ['/usr/bin', '/bin'],
  environment => ["CONF=/etc/app.conf"],
  retries     => 0,
  require     => File['/etc/app.conf'],
}}
""")
    catalog = compile_catalog(CompileRequest.from_cli(manifest=manifest, node="web01", facts={}))
    assert catalog.get("Healthcheck[web]") is not None
    report = apply_catalog(catalog, root=root, state_dir=state)
    assert report.health["status"] == "healthy", report.health
    assert set(report.health["checks"]) == {"web", "conf"}
    assert report.status == "changed" and (root / "etc/app.conf").read_text() == "ok\n"


def test_compiler_rejects_unknown_healthcheck_attribute(tmp_path: Path) -> None:
    from dsl.compiler import CompileRequest, compile_catalog
    from dsl.errors import DslError

    manifest = tmp_path / "site.pp"
    manifest.write_text("healthcheck { 'web': check => http, url => 'http://x/', expect => 200 }\n")
    with pytest.raises(DslError, match="expect"):
        compile_catalog(CompileRequest.from_cli(manifest=manifest, node="web01", facts={}))

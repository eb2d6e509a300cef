"""Spooled reports and the master's refusals: a refusal for now (the rate limit, an internal error)
keeps the report and tries it again later; only a refusal for good (a malformed report, a revoked
certificate) sets it aside - logged as an error, counted, and shown by `bunraku agent status`."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest

from agent.run import RunResult, run_daemon, run_once
from agent.spool import ReportSpool
from agent.status import AgentStatus
from tests.e2e.harness import make_site, start_master
from tests.reliability.fleet import MasterProcess, bunraku, issue, light_agent
from wire.proto import bunraku_pb2 as pb
from wire.proto import bunraku_pb2_grpc as pb_grpc


def _report(host: str, **fields: Any) -> dict[str, Any]:
    return {"host": host, "transaction_uuid": str(uuid.uuid4()), "status": "unchanged",
            "time": "2024-01-01T00:00:00Z", "environment": "production", "noop": False,
            "resource_statuses": {}, "metrics": {}, "logs": [], **fields}


def _set_aside(spool_dir: Path) -> list[str]:
    return sorted(p.name for p in spool_dir.iterdir() if p.name.endswith((".refused", ".corrupt")))


def _stored(master_vardir: Path, node: str) -> set[str]:
    from master.store import Store

    with Store.open(path=master_vardir / "store.sqlite") as store:
        return {r["transaction_uuid"] for r in store.reports(node, last=1000)}


def test_reports_spooled_while_the_master_was_away_all_arrive_under_its_rate_limit(tmp_path: Path) -> None:
    make_site(tmp_path / "envs")
    master = MasterProcess(tmp_path / "m", tmp_path / "envs", rate_limit={"per_node_per_minute": 60})
    master.start()  # once, for its CA
    try:
        node = "limited.example.com"
        s = light_agent([master.address], tmp_path, issue(master.ca(), tmp_path / "ids", node), timeout=3.0)
        master.stop()  # the master goes away; the agent keeps running and spools its reports
        offline = [run_once(s) for _ in range(15)]
        spooled = {r.report.transaction_uuid for r in offline if r.report is not None}
        assert len(spooled) == 15 and all(r.report_fate == "spooled" for r in offline)
        assert ReportSpool(s.spool_dir).depth() == 15

        master.start()  # back, allowing 60 calls a minute (bursts of 6): far fewer than the agent has
        stop = threading.Event()
        results: list[RunResult] = []
        s.runinterval = 3600.0  # one run; what it cannot deliver goes out between runs, as the delay allows
        daemon = threading.Thread(target=run_daemon, args=(s, stop, results.append), daemon=True)
        daemon.start()
        try:
            deadline = time.monotonic() + 90
            while not (results and ReportSpool(s.spool_dir).depth() == 0) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            stop.set()
            daemon.join(timeout=30)
        assert _set_aside(s.spool_dir) == []
        assert ReportSpool(s.spool_dir).depth() == 0
        assert AgentStatus.open(s.status_file).set_aside_count == 0
    finally:
        master.stop()
    assert "rate limit: refused a call" in master.log_text()  # the limit did turn reports away
    stored = _stored(master.vardir, node)
    assert spooled <= stored, f"{len(spooled - stored)} of 15 spooled reports never arrived"
    assert results[0].report is not None and results[0].report.transaction_uuid in stored


# -- a master that fails for a while -------------------------------------------------------------------
class FailingThenWorkingMaster(pb_grpc.MasterServicer):
    """Refuses reports with the given failures, one call each, then takes them."""

    def __init__(self, failures: list[grpc.StatusCode]) -> None:
        self.failures = list(failures)
        self.received: list[str] = []

    def SubmitReport(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        if self.failures:
            code = self.failures.pop(0)
            if code == grpc.StatusCode.UNKNOWN:
                raise RuntimeError("the store connection dropped")  # grpc answers UNKNOWN
            context.abort(code, "internal error while storing the report")
        self.received.append(json.loads(request.report_json)["transaction_uuid"])
        return pb.ReportReply(id=str(len(self.received)))


@pytest.fixture
def failing_master(tmp_path: Path) -> Iterator[tuple[FailingThenWorkingMaster, str, Any]]:
    """A gRPC server over mutual TLS with certificates from a real CA, and an agent identity."""
    from master.ca import CertificateAuthority

    ca = CertificateAuthority(tmp_path / "ca")
    server_paths = ca.setup("master.test")
    servicer = FailingThenWorkingMaster([grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN])
    server = grpc.server(futures.ThreadPoolExecutor(4))
    pb_grpc.add_MasterServicer_to_server(servicer, server)
    creds = grpc.ssl_server_credentials([(server_paths.key.read_bytes(), server_paths.cert.read_bytes())],
                                        root_certificates=ca.ca_pem(), require_client_auth=True)
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}", issue(ca, tmp_path / "ids", "flaky.example.com")
    finally:
        server.stop(None)


def test_internal_and_unknown_errors_keep_spooled_reports_for_a_later_attempt(
        failing_master: tuple[FailingThenWorkingMaster, str, Any], tmp_path: Path) -> None:
    servicer, address, paths = failing_master
    s = light_agent([address], tmp_path, paths, timeout=5.0)
    spool = ReportSpool(s.spool_dir)
    waiting = [_report("flaky.example.com") for _ in range(3)]
    for report in waiting:
        spool.add(json.dumps(report).encode(), report["transaction_uuid"])

    first = run_once(s)  # INTERNAL on the first spooled report, UNKNOWN on the run's own report
    assert _set_aside(s.spool_dir) == []
    assert spool.depth() == 4 and first.report_fate == "spooled"
    assert any("stay in the spool" in text and "internal error" in text for _, text in first.lines), first.lines
    assert servicer.received == []

    second = run_once(s)  # the master works again: everything goes out, in order
    assert second.report_sent and spool.depth() == 0 and _set_aside(s.spool_dir) == []
    assert first.report is not None and second.report is not None
    assert servicer.received == [r["transaction_uuid"] for r in waiting] + [
        first.report.transaction_uuid, second.report.transaction_uuid]
    assert AgentStatus.open(s.status_file).set_aside_count == 0


# -- refusals for good ---------------------------------------------------------------------------------
@pytest.fixture
def master(tmp_path: Path) -> Iterator[Any]:
    make_site(tmp_path / "envs")
    server = start_master(tmp_path, tmp_path / "envs")
    yield server
    server.stop()


def test_a_malformed_report_is_set_aside_visibly_and_the_others_delivered(
        master: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    node = "malformed.example.com"
    s = light_agent([master.address], tmp_path, issue(master.ctx.ca, tmp_path / "ids", node), timeout=5.0)
    spool = ReportSpool(s.spool_dir)
    bad, good = _report(node, status="exploded"), _report(node)
    for report in (bad, good):
        spool.add(json.dumps(report).encode(), report["transaction_uuid"])
    with caplog.at_level(logging.ERROR, logger="agent.spool"):
        result = run_once(s)
    assert result.report_sent and spool.depth() == 0
    assert [n.split("-", 1)[1] for n in _set_aside(s.spool_dir)] == [f"{bad['transaction_uuid']}.json.refused"]
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "set aside" in errors[0] and "malformed" in errors[0], errors
    stored = {r["transaction_uuid"] for r in master.store.reports(node, last=10)}
    assert good["transaction_uuid"] in stored and bad["transaction_uuid"] not in stored

    shown = bunraku("agent", "--vardir", str(s.vardir), "--certname", node, "status")
    assert shown.returncode == 0, shown.stderr
    assert "spool:     0 report(s) waiting" in shown.stdout
    assert "set aside: 1 report(s); 1 kept in" in shown.stdout
    assert "the master refused it as malformed" in shown.stdout and "status must be one of" in shown.stdout
    assert "last run:" in shown.stdout and "report sent" in shown.stdout
    info = json.loads(bunraku("agent", "--vardir", str(s.vardir), "--certname", node, "status", "--json").stdout)
    assert info["set_aside"]["count"] == 1 and info["spool"]["waiting"] == 0


def test_reports_of_a_revoked_node_are_set_aside(master: Any, tmp_path: Path) -> None:
    node = "revoked.example.com"
    s = light_agent([master.address], tmp_path, issue(master.ctx.ca, tmp_path / "ids", node), timeout=5.0)
    report = _report(node)
    ReportSpool(s.spool_dir).add(json.dumps(report).encode(), report["transaction_uuid"])
    master.ctx.ca.revoke(node)
    run_once(s)
    aside = AgentStatus.open(s.status_file).data["set_aside"]
    assert aside["count"] == 1 and "certificate has been revoked" in aside["recent"][0]["reason"]
    assert any(n.endswith(f"{report['transaction_uuid']}.json.refused") for n in _set_aside(s.spool_dir))

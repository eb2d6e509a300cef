"""One node cannot fill the master's store with reports, on a running master over real TLS: a report over
``max_report_bytes`` is refused (and its agent sets it aside rather than send it again and again), a node
keeps its newest ``reports_per_node`` reports, and GetReports answers at most MAX_REPORTS_PER_CALL reports
and never more than fit in one reply."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest

from agent.delivery import deliver_spool, final_refusal
from agent.spool import ReportSpool
from agent.status import AgentStatus
from master.service import MAX_REPORTS_PER_CALL
from tests.e2e.harness import client_for, issue_identity, make_site, start_master
from wire.client import ClientError, MasterBusy
from wire.proto import bunraku_pb2 as pb

MAX_MESSAGE = 1024 * 1024
MAX_REPORT = 64 * 1024
KEEP = 20
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report-limits")


@pytest.fixture(scope="module")
def master(tmp: Path) -> Iterator[Any]:
    make_site(tmp / "envs")
    server = start_master(tmp, tmp / "envs", max_message_bytes=MAX_MESSAGE, max_report_bytes=MAX_REPORT,
                          reports_per_node=KEEP, rate_limit=False)
    yield server
    server.stop()


def _report(node: str, n: int, *, padding: int = 0) -> dict[str, Any]:
    at = (START + timedelta(minutes=n)).isoformat()
    event = {"property": "content", "status": "success", "message": f"run {n}", "time": at}
    return {"host": node, "transaction_uuid": str(uuid.uuid4()), "status": "changed", "time": at,
            "environment": "production", "noop": False, "metrics": {},
            "resource_statuses": {"File[/etc/motd]": {"events": [event], "changed": True}},
            "logs": [{"level": "notice", "message": "x" * padding, "source": "p", "time": at}]}


def _send(client: Any, report: dict[str, Any]) -> None:
    client.call("SubmitReport", pb.ReportRequest(report_json=json.dumps(report).encode()))


def test_a_report_over_the_limit_is_refused_and_set_aside_by_its_agent(master: Any, tmp: Path) -> None:
    node = "big01.example.com"
    huge = json.dumps(_report(node, 0, padding=MAX_REPORT)).encode()
    with client_for(master, issue_identity(master, tmp, node)) as client:
        with pytest.raises(ClientError) as err:
            client.call("SubmitReport", pb.ReportRequest(report_json=huge))
        assert err.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED and not isinstance(err.value, MasterBusy)
        message = str(err.value)
        assert f"the report is {len(huge)} bytes, larger than max_report_bytes ({MAX_REPORT}) of this master" in message
        assert "\n" not in message and str(tmp) not in message
        assert final_refusal(err.value) is not None
        # the agent's own delivery: set aside at once, not retried
        spool = ReportSpool(tmp / "spool")
        spool.add(huge, "huge")
        status = AgentStatus.open(tmp / "status.json")
        outcome = deliver_spool(client, spool, status)
        assert len(outcome.set_aside) == 1 and outcome.error is None and spool.depth() == 0
    assert master.store.reports(node, last=10) == []


def test_a_node_keeps_only_its_newest_reports(master: Any, tmp: Path) -> None:
    node = "chatty01.example.com"
    sent = [_report(node, n) for n in range(KEEP + 7)]
    with client_for(master, issue_identity(master, tmp, node)) as client:
        for report in sent:
            _send(client, report)
        _send(client, _report(node, -1))  # a late one older than all: kept only if among the newest
    kept = [r["transaction_uuid"] for r in master.store.reports(node, last=1000)]
    assert kept == [r["transaction_uuid"] for r in reversed(sent[-KEEP:])]
    with master.store.engine.connect() as conn:
        events = conn.exec_driver_sql("SELECT COUNT(*) FROM events WHERE node = ?", (node,)).scalar_one()
    assert events == KEEP  # the events of the reports let go went with them


def test_get_reports_answers_a_bounded_number_within_one_reply(master: Any, tmp: Path) -> None:
    many = "many01.example.com"
    for n in range(MAX_REPORTS_PER_CALL + 5):  # stored directly: more than one call answers
        master.store.save_report(_report(many, n))
    large = "large01.example.com"
    sent = [_report(large, n, padding=MAX_REPORT - 2048) for n in range(KEEP)]  # more than one reply holds
    with client_for(master, issue_identity(master, tmp, large)) as client:
        for report in sent:
            _send(client, report)
        reply = client.call("GetReports", pb.GetReportsRequest(last=2**31 - 1))
        got = [json.loads(r)["transaction_uuid"] for r in reply.report_json]
        assert 1 < len(got) < KEEP and sum(len(r) for r in reply.report_json) < MAX_MESSAGE
        assert got == [r["transaction_uuid"] for r in reversed(sent)][:len(got)]  # the newest first
    with client_for(master, issue_identity(master, tmp, many)) as client:
        reply = client.call("GetReports", pb.GetReportsRequest(last=2**31 - 1))
        assert len(reply.report_json) == MAX_REPORTS_PER_CALL
        assert json.loads(reply.report_json[0])["logs"][0]["time"] == \
            (START + timedelta(minutes=MAX_REPORTS_PER_CALL + 4)).isoformat()

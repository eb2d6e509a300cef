"""The master's memory under large requests: one node flooding facts documents as big as the limits
allow must not balloon the master, the memory must come back afterwards, a facts document is parsed
once, and a compile that needs too much memory fails for its node alone. Real masters, real TLS."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from master import compilepool, service
from master.limits import BUSY_MESSAGE, InflightBytes
from tests.e2e.harness import client_for, issue_identity, make_site, start_master
from tests.reliability.fleet import MasterProcess, issue, record_figures
from tests.security.attacks import PeakSampler, big_facts, flood_large_facts, rss_bytes, wait_until
from wire.client import ClientError, MasterClient
from wire.proto import bunraku_pb2 as pb

MB = 1_000_000
HOG_PP = """\
node 'hog.example.com' {
  $blocks = range(1, 100).map |$i| { sprintf('%10000000s', $i) }  # 1 GB of strings, 10 MB at a time
}
node default {
  include demo
}
"""


def test_a_flood_of_large_facts_from_one_node_is_bounded_and_the_memory_comes_back(tmp_path: Path) -> None:
    make_site(tmp_path / "envs")
    master = MasterProcess(tmp_path / "master", tmp_path / "envs")
    master.start()
    try:
        assert master.proc is not None
        pid = master.proc.pid
        paths = issue(master.ca(), tmp_path / "ids", "flood.example.com")
        documents = [big_facts(tag=str(i)) for i in range(4)]
        with MasterClient([master.address], paths, timeout=120) as client:
            client.call("Heartbeat", pb.HeartbeatRequest())
            before = rss_bytes(pid)
            with PeakSampler(pid) as sampler:
                outcomes = flood_large_facts(client, documents, 40)
            assert set(outcomes) <= {"ok", f"RESOURCE_EXHAUSTED: {BUSY_MESSAGE}"}, outcomes
            assert outcomes["ok"] >= 1 and outcomes[f"RESOURCE_EXHAUSTED: {BUSY_MESSAGE}"] >= 1, outcomes
            assert sampler.peak < 1200 * MB, sampler.peak
            # freed memory goes back to the system once the large requests are done
            wait_until(lambda: rss_bytes(pid) < before + 300 * MB, 15, "the master's memory to come back")
            after = rss_bytes(pid)
            reply = client.call("GetCatalog", pb.CatalogRequest(facts_json=b'{"role": "web"}'))
            assert json.loads(reply.catalog_json)["name"] == "flood.example.com"
        record_figures("large_facts_flood", {"calls": 40, "bytes_each": len(documents[0]), **dict(outcomes),
                                             "rss_before_mb": before // MB, "rss_peak_mb": sampler.peak // MB,
                                             "rss_after_mb": after // MB})
    finally:
        master.kill()


class _JsonSpy:
    """Stands in for the ``json`` module of the master's modules: records the size of every document
    parsed or serialised there."""

    def __init__(self) -> None:
        self.parsed: list[int] = []
        self.serialised: list[int] = []

    def loads(self, data: Any, **kw: Any) -> Any:
        self.parsed.append(len(data))
        return json.loads(data, **kw)

    def dumps(self, value: Any, **kw: Any) -> str:
        text = json.dumps(value, **kw)
        self.serialised.append(len(text))
        return text


def test_a_large_facts_document_is_parsed_once_and_never_serialised_again(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    make_site(tmp_path / "envs")
    master = start_master(tmp_path, tmp_path / "envs")
    try:
        spy = _JsonSpy()
        monkeypatch.setattr(service, "json", spy)
        monkeypatch.setattr(compilepool, "json", spy)
        facts = big_facts(100_000)
        large = len(facts) // 2
        with client_for(master, issue_identity(master, tmp_path, "web01.example.com")) as client:
            for _ in range(2):
                reply = client.call("GetCatalog", pb.CatalogRequest(facts_json=facts))
                assert json.loads(reply.catalog_json)["name"] == "web01.example.com"
            client.call("SubmitFacts", pb.FactsRequest(facts_json=facts))
        assert [n for n in spy.parsed if n >= large] == [len(facts)]  # checked once; the same bytes again are known
        assert [n for n in spy.serialised if n >= large] == []
        assert master.store.get_facts("web01.example.com")["f0000001"] == "value-0000000000000000001"
    finally:
        master.stop()


@pytest.fixture(scope="module")
def hog_master(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    tmp = tmp_path_factory.mktemp("memory-limits")
    make_site(tmp / "envs")
    (tmp / "envs" / "production" / "manifests" / "site.pp").write_text(HOG_PP)
    server = start_master(tmp, tmp / "envs", compile_memory_mb=512)
    server.tmp = tmp
    yield server
    server.stop()


def test_a_compile_over_the_worker_memory_limit_fails_for_its_node_and_a_new_worker_takes_over(hog_master) -> None:
    tmp = hog_master.tmp
    before = hog_master.ctx.pool.worker_pids()
    with client_for(hog_master, issue_identity(hog_master, tmp, "hog.example.com")) as client:
        with pytest.raises(ClientError) as info:
            client.call("GetCatalog", pb.CatalogRequest(facts_json=b"{}"), timeout=60)
    assert info.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert str(info.value).partition(": ")[2] == ("compile of hog.example.com exceeded the worker memory limit "
                                                  "of 512 MiB at manifests/site.pp:2:38")
    with client_for(hog_master, issue_identity(hog_master, tmp, "web01.example.com")) as client:
        reply = client.call("GetCatalog", pb.CatalogRequest(facts_json=b'{"role": "web"}'), timeout=60)
    assert json.loads(reply.catalog_json)["name"] == "web01.example.com"
    after = hog_master.ctx.pool.worker_pids()
    assert len(after) == 1 and after != before


# -- the budget itself ------------------------------------------------------------------------------
def test_the_in_flight_budget_holds_per_peer_and_overall_and_lets_waiters_in_when_room_is_made() -> None:
    budget = InflightBytes(total=100, per_peer=60, wait=0.05)
    assert budget.acquire("a", 50)
    assert not budget.acquire("a", 20)  # over its own share: refused at once
    assert budget.acquire("b", 40)
    assert not budget.acquire("c", 20)  # over the whole budget
    assert budget.refused == 2
    budget.release("b", 40)
    assert budget.acquire("c", 20)
    budget.release("a", 50)
    budget.release("c", 20)
    assert budget.acquire("d", 500)  # bigger than any budget, but alone: let in
    patient = InflightBytes(total=100, per_peer=100, wait=60)
    assert patient.acquire("a", 80)
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(patient.acquire("b", 80)))
    waiter.start()
    patient.release("a", 80)
    waiter.join(timeout=60)
    assert results == [True] and patient.in_flight == 80

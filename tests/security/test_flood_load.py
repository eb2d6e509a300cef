"""The master under several attacks at once: thousands of idle connections on the certificate port,
one node flooding facts documents as big as the limits allow, and meanwhile 50 signed agents who must
all get their catalogs, with the master's memory bounded. A real master process, real TLS; figures
(catalog latency, peak memory) are recorded, not asserted."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from master.limits import BUSY_MESSAGE
from tests.e2e.harness import make_site
from tests.reliability.fleet import ROOT, MasterProcess, issue, record_figures
from tests.security.attacks import PeakSampler
from wire.client import MasterClient
from wire.proto import bunraku_pb2 as pb

MB = 1_000_000
RSS_BOUND = 1500 * MB
AGENTS = 50
ROUNDS = 2


def _attack(attackers: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    """An attack from a process of its own (see tests.security.attacks), once it is under way."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.security.attacks", *args], cwd=ROOT, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    attackers.append(proc)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _result(proc: subprocess.Popen[str]) -> dict[str, int]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    proc.wait(timeout=60)
    return dict(json.loads(line))


def _flood_load(base: Path, idle: int, name: str) -> None:
    make_site(base / "envs")
    master = MasterProcess(base / "master", base / "envs", workers=2)
    master.start()
    attackers: list[subprocess.Popen[str]] = []
    try:
        assert master.proc is not None
        ca = master.ca()
        agents = [issue(ca, base / "ids", f"agent{i:02d}.example.com") for i in range(AGENTS)]
        flooder = issue(ca, base / "ids", "flood.example.com")
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()

        def agent(paths) -> None:  # noqa: ANN001
            with MasterClient([master.address], paths, timeout=120) as client:
                for round_ in range(ROUNDS):  # new facts each round: each catalog is compiled, not cached
                    facts = json.dumps({"role": "web", "round": round_, "networking": {"fqdn": paths.certname}})
                    started = time.monotonic()
                    try:
                        reply = client.call("GetCatalog", pb.CatalogRequest(facts_json=facts.encode()))
                        assert json.loads(reply.catalog_json)["name"] == paths.certname
                    except Exception as exc:  # noqa: BLE001 - counted; the test asserts there are none
                        with lock:
                            failures.append(f"{paths.certname}: {exc}")
                        continue
                    with lock:
                        latencies.append(time.monotonic() - started)

        with PeakSampler(master.proc.pid) as sampler:
            connections = _attack(attackers, "idle", master.ca_address, str(idle), str(max(1, idle // 8)))
            large = _attack(attackers, "large-facts", master.address, str(flooder.ssldir), flooder.certname, "40")
            threads = [threading.Thread(target=agent, args=(paths,)) for paths in agents]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            outcomes = Counter(_result(large))
            assert connections.stdin is not None
            connections.stdin.close()
            flood = _result(connections)
        assert failures == []
        assert len(latencies) == AGENTS * ROUNDS
        assert set(outcomes) <= {"ok", f"RESOURCE_EXHAUSTED: {BUSY_MESSAGE}"}, outcomes
        assert sampler.peak < RSS_BOUND, sampler.peak
        values = sorted(latencies)
        pick = lambda q: round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)  # noqa: E731
        record_figures(name, {"idle_connections": idle, "idle_opened": flood["opened"],
                              "idle_dropped_by_master": flood["dropped"], "agents": AGENTS,
                              "catalogs": len(values), "catalog_p50_ms": pick(0.5), "catalog_p99_ms": pick(0.99),
                              "catalog_max_ms": round(values[-1] * 1000, 1), "flood_ok": outcomes["ok"],
                              "flood_refused": sum(outcomes.values()) - outcomes["ok"],
                              "rss_peak_mb": sampler.peak // MB,
                              "rss_peak_with_workers_mb": sampler.peak_with_children // MB})
    finally:
        for proc in attackers:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        master.kill()


def test_signed_agents_get_catalogs_while_the_ca_port_and_one_node_flood_the_master(tmp_path: Path) -> None:
    _flood_load(tmp_path, 1000, "flood_load")


@pytest.mark.soak
def test_signed_agents_get_catalogs_while_5000_idle_connections_and_one_node_flood_the_master(tmp_path: Path) -> None:
    _flood_load(tmp_path, 5000, "flood_load_5000")

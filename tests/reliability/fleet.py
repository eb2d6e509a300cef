"""Helpers for the reliability tests: `bunraku master` in its own process (killable with -9 and
restartable on the same ports), identities issued straight from its CA, and light agents (the real
``run_once`` in threads, facts given) with timing figures."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bunraku(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bunraku.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


class MasterProcess:
    """`bunraku master --config FILE` on fixed loopback ports; ``kill()`` is kill -9, ``start()`` again
    brings it back on the same ports with the same state."""

    def __init__(self, base: Path, envs: Path | None, *, name: str = "master", ssldir: Path | None = None,
                 **settings: Any) -> None:
        self.base = base
        self.base.mkdir(parents=True, exist_ok=True)
        self.port, self.ca_port = free_port(), free_port()
        self.ssldir = ssldir or base / "ssl"
        self.vardir = base / "var"
        self.log_path = base / f"{name}.log"
        self.port_file = base / "ports"
        config = {"listen": f"127.0.0.1:{self.port}", "ca_listen": f"127.0.0.1:{self.ca_port}",
                  "certname": "master.test", "ssldir": str(self.ssldir), "vardir": str(self.vardir),
                  "environmentpath": str(envs) if envs else None, "workers": 1, "log_format": "json",
                  "environment_timeout": 0}
        config.update(settings)
        self.config_path = base / f"{name}.yaml"
        self.config_path.write_text(json.dumps(config))  # JSON is YAML
        self.proc: subprocess.Popen[bytes] | None = None
        self.user: str | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ca_address(self) -> str:
        return f"127.0.0.1:{self.ca_port}"

    def start(self, *extra: str, timeout: float = 60) -> float:
        """Start and wait until it listens; returns the seconds that took."""
        started = time.monotonic()
        self.port_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "bunraku.py"), "master", "--config",
                                      str(self.config_path), "--port-file", str(self.port_file), *extra],
                                     cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(self.log_path, "ab"),
                                     start_new_session=True)
        while not (self.port_file.exists() and self.port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() - started > timeout:
                raise RuntimeError("master did not start: " + self.log_path.read_text()[-3000:])
            time.sleep(0.05)
        return time.monotonic() - started

    def kill(self) -> None:
        """kill -9 the master and its compile workers (its process group)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None

    def ca(self) -> Any:
        from master.ca import CertificateAuthority

        return CertificateAuthority(self.ssldir)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def issue(ca: Any, base: Path, certname: str, *, operator: bool = False) -> Any:
    """An ssldir for ``certname`` with a key and certificate from ``ca`` (no CSR round trip)."""
    from master.rpc import pki

    key, cert = ca.generate(certname, operator=operator)
    paths = pki.SSLPaths(base / certname, certname)
    pki.write_private(paths.key, key)
    pki.write_public(paths.cert, cert)
    pki.write_public(paths.ca, ca.ca_pem())
    return paths


def light_agent(servers: list[str], base: Path, paths: Any, *, timeout: float = 10.0, **kw: Any) -> Any:
    """Settings for the real agent run of ``paths.certname`` (identity in ``paths``), facts given."""
    from agent.run import AgentSettings

    home = base / "agents" / paths.certname
    settings = AgentSettings(certname=paths.certname, servers=list(servers), ssldir=paths.ssldir,
                             vardir=home / "var", root=home / "root", waitforcert=0, timeout=timeout,
                             facts={"role": "web", "networking": {"fqdn": paths.certname}},
                             state_dir=home / "state")
    for key, value in kw.items():
        setattr(settings, key, value)
    (settings.root / "etc").mkdir(parents=True, exist_ok=True)
    return settings


@dataclass
class RunRecord:
    node: str
    seconds: float
    exit_code: int
    transaction_uuid: str | None
    report_sent: bool
    cached: str
    error: str | None = None


@dataclass
class FleetResult:
    records: list[RunRecord] = field(default_factory=list)
    wall: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: RunRecord) -> None:
        with self._lock:
            self.records.append(record)

    def latencies(self) -> dict[str, float]:
        values = sorted(r.seconds for r in self.records)
        if not values:
            return {}
        pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]  # noqa: E731
        return {"runs": len(values), "mean_ms": round(statistics.fmean(values) * 1000, 1),
                "p50_ms": round(pick(0.5) * 1000, 1), "p95_ms": round(pick(0.95) * 1000, 1),
                "p99_ms": round(pick(0.99) * 1000, 1), "max_ms": round(values[-1] * 1000, 1),
                "wall_s": round(self.wall, 2), "runs_per_s": round(len(values) / self.wall, 1) if self.wall else 0}

    def errors(self) -> list[RunRecord]:
        return [r for r in self.records if r.error is not None]


def run_fleet(agents: Iterable[Any], runs: int, *, threads: int = 16,
              between: Callable[[int], None] | None = None) -> FleetResult:
    """Each agent runs ``runs`` times (its runs in sequence, agents in parallel on ``threads``).
    ``between(i)`` is called after round ``i`` (all agents) when given."""
    from agent.run import run_once

    result = FleetResult()
    agents = list(agents)
    started = time.monotonic()

    def one(settings: Any) -> None:
        t0 = time.monotonic()
        try:
            r = run_once(settings)
        except Exception as exc:  # noqa: BLE001 - counted as an error, the test asserts on it
            result.add(RunRecord(settings.certname, time.monotonic() - t0, -1, None, False, "", repr(exc)))
            return
        err = None if r.exit_code in (0, 2) else "; ".join(t for lvl, t in r.lines if lvl == "err") or "exit 1"
        result.add(RunRecord(settings.certname, time.monotonic() - t0, r.exit_code,
                             r.report.transaction_uuid if r.report else None, r.report_sent,
                             r.cached_catalog_status, err))

    with ThreadPoolExecutor(threads, thread_name_prefix="agent") as pool:
        for i in range(runs):
            list(pool.map(one, agents))
            if between is not None:
                between(i)
    result.wall = time.monotonic() - started
    return result


def record_figures(name: str, figures: dict[str, Any]) -> None:
    """Log the figures, and append them to $BUNRAKU_RELIABILITY_RESULTS (JSON lines) when set."""
    log.warning("figures %s: %s", name, figures)
    target = os.environ.get("BUNRAKU_RELIABILITY_RESULTS")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"test": name, **figures}) + "\n")


def pg_store_or_skip() -> Any:
    import pytest

    from master.store import Store

    try:
        return Store.open(url=PG_URL)
    except Exception as exc:  # noqa: BLE001 - no PostgreSQL here
        pytest.skip(f"PostgreSQL not reachable: {exc}")

"""Helpers for the reliability tests: `bunraku master` in its own process (killable with -9, stoppable
with SIGSTOP and restartable on the same ports), identities issued straight from its CA, light agents
(the real ``run_once`` in threads, facts given) with timing figures, and a trace of the agents' calls
(each attempt on each master: when it started and ended, and how)."""

from __future__ import annotations

import itertools
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
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
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
        config = {"listen": f"127.0.0.1:{self.port}", "ca_listen": f"127.0.0.1:{self.ca_port}", "puppet_listen": "off",
                  "certname": "master.test", "ssldir": str(self.ssldir), "vardir": str(self.vardir),
                  "environmentpath": str(envs) if envs else None, "workers": 1, "log_format": "json",
                  "environment_timeout": 0}
        config.update(settings)
        self.config_path = base / f"{name}.yaml"
        self.config_path.write_text(json.dumps(config))  # JSON is YAML
        self.proc: subprocess.Popen[bytes] | None = None
        self.user: str | None = None
        self.paused = False

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
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP the master and its compile workers: the port still accepts, nothing answers."""
        assert self.proc is not None and self.proc.poll() is None, "the master is not running"
        os.killpg(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused and self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def stop(self) -> None:
        self.resume()  # a stopped process would never act on SIGTERM
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
    from wire import pki

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
    started: float = 0.0  # time.monotonic() at the start and the end of the run
    ended: float = 0.0
    problems: list[str] = field(default_factory=list)  # the run's lines at level "err"

    @property
    def clean(self) -> bool:
        """A run as it should be with a master up: its catalog from the master, its report delivered,
        nothing failed."""
        return (self.exit_code in (0, 2) and self.report_sent and self.cached == "not_used"
                and not self.problems and self.error is None)


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
              between: Callable[[int], None] | None = None, result: FleetResult | None = None,
              round_seconds: float = 0.0) -> FleetResult:
    """Each agent runs ``runs`` times (its runs in sequence, agents in parallel on ``threads``).
    ``between(i)`` is called after round ``i`` (all agents) when given. Records are added to ``result``
    when given. A round starts ``round_seconds`` at the soonest after the previous one started (so that
    runs which fail at once, with no master up, do not spin)."""
    from agent.run import run_once

    result = result if result is not None else FleetResult()
    agents = list(agents)
    started = time.monotonic()

    def one(settings: Any) -> None:
        t0 = time.monotonic()
        try:
            r = run_once(settings)
        except Exception as exc:  # noqa: BLE001 - counted as an error, the test asserts on it
            t1 = time.monotonic()
            result.add(RunRecord(settings.certname, t1 - t0, -1, None, False, "", repr(exc), t0, t1))
            return
        t1 = time.monotonic()
        problems = [t for lvl, t in r.lines if lvl == "err"]
        err = None if r.exit_code in (0, 2) else "; ".join(problems) or f"exit {r.exit_code}"
        result.add(RunRecord(settings.certname, t1 - t0, r.exit_code,
                             r.report.transaction_uuid if r.report else None, r.report_sent,
                             r.cached_catalog_status, err, t0, t1, problems))

    with ThreadPoolExecutor(threads, thread_name_prefix="agent") as pool:
        for i in range(runs):
            round_started = time.monotonic()
            list(pool.map(one, agents))
            if between is not None:
                between(i)
            time.sleep(max(0.0, round_started + round_seconds - time.monotonic()))
    result.wall += time.monotonic() - started
    return result


# -- a trace of the agents' calls --------------------------------------------------------------------
@dataclass
class CallAttempt:
    """One attempt of one unary call on one master, as the agent's client made it."""

    server: str
    method: str
    started: float
    client: int = 0  # which client made it: one a run
    ended: float | None = None
    code: str | None = None  # "OK", or the gRPC status name (UNAVAILABLE, DEADLINE_EXCEEDED, ...)
    details: str = ""

    def spans(self, moment: float) -> bool:
        """Whether the attempt was in flight at ``moment`` (time.monotonic())."""
        return self.started < moment and (self.ended is None or self.ended > moment)


class CallTrace:
    def __init__(self) -> None:
        self.attempts: list[CallAttempt] = []
        self._lock = threading.Lock()

    def add(self, attempt: CallAttempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def snapshot(self) -> list[CallAttempt]:
        with self._lock:
            return list(self.attempts)

    def in_flight(self, server: str | None = None, *, started_within: float | None = None) -> list[CallAttempt]:
        """Attempts not ended yet (on ``server``). ``started_within`` keeps those started at most that many
        seconds ago: a reply that has arrived is only recorded once its thread runs again, so an older
        attempt may be over already; one that started a moment ago is still on its way."""
        now = time.monotonic()
        return [a for a in self.snapshot() if a.ended is None and server in (None, a.server)
                and (started_within is None or now - a.started <= started_within)]

    def cut_at(self, moment: float, server: str | None = None) -> list[CallAttempt]:
        """Attempts in flight at ``moment`` that then failed: the calls a fault at that moment cut."""
        return [a for a in self.snapshot() if a.spans(moment) and a.code not in (None, "OK")
                and server in (None, a.server)]

    def retry_of(self, attempt: CallAttempt) -> CallAttempt | None:
        """The client's next attempt of the same call after ``attempt`` failed (on the next master)."""
        later = [a for a in self.snapshot() if a.client == attempt.client and a.method == attempt.method
                 and attempt.ended is not None and a.started >= attempt.ended]
        return min(later, key=lambda a: a.started, default=None)


class _TracedStub:
    def __init__(self, stub: Any, server: str, trace: CallTrace, client: int) -> None:
        self._stub, self._server, self._trace, self._client = stub, server, trace, client

    def __getattr__(self, method: str) -> Any:
        real = getattr(self._stub, method)
        if method in _STREAMING:
            return real  # not traced: a stream's end is where its reader stops reading

        def call(request: Any, **kw: Any) -> Any:
            import grpc

            attempt = CallAttempt(self._server, method, time.monotonic(), self._client)
            self._trace.add(attempt)
            try:
                reply = real(request, **kw)
            except grpc.RpcError as exc:
                attempt.code, attempt.details = exc.code().name, exc.details() or ""
                attempt.ended = time.monotonic()
                raise
            except BaseException as exc:
                attempt.code, attempt.details = type(exc).__name__, str(exc)
                attempt.ended = time.monotonic()
                raise
            attempt.code, attempt.ended = "OK", time.monotonic()
            return reply

        return call


_STREAMING = {"FileContent", "Live"}  # server-streaming methods


@contextmanager
def traced_calls() -> Iterator[CallTrace]:
    """While in the block, agent runs (``agent.run``) use a client that records every attempt of every
    unary call on every master in the trace. The calls themselves are the real ones."""
    import agent.run
    from wire.client import MasterClient

    trace = CallTrace()
    numbers = itertools.count(1)

    class TracedClient(MasterClient):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            self.trace_number = next(numbers)

        def _stub(self, server: str) -> Any:
            return _TracedStub(super()._stub(server), server, trace, self.trace_number)

    saved = agent.run.MasterClient
    agent.run.MasterClient = TracedClient  # type: ignore[misc]
    try:
        yield trace
    finally:
        agent.run.MasterClient = saved  # type: ignore[misc]


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

"""An agent waiting for its certificate, against a real master whose CA signs only when the test does:
it says so every few seconds, never waits past --waitforcert, asks once with --waitforcert 0, and
exits with one line saying what to do."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import make_site, start_master
from wire import pki
from wire.client import CERT_POLL_SECONDS, NOTICE, ClientError, ensure_certificate

ROOT = Path(__file__).resolve().parents[2]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (Debug|Info|Notice|Warning|Error): ")


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tmp = tmp_path_factory.mktemp("waitforcert")
    make_site(tmp / "envs")
    server = start_master(tmp, tmp / "envs", autosign="false", puppet_listen="off")
    yield server
    server.stop()


class VirtualClock:
    """Time that passes only when the agent sleeps; ``at`` runs an action once that time is reached."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.actions: list[tuple[float, Any]] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        for due, action in list(self.actions):
            if self.now >= due:
                self.actions.remove((due, action))
                action()


def _waiting(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno == NOTICE and r.getMessage().startswith(f"waiting for the certificate of {name} ")]


def test_it_says_it_waits_every_few_seconds_and_gives_up_at_waitforcert(
        master: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    paths = pki.SSLPaths(tmp_path / "ssl", "slow.example.com")
    time = VirtualClock()
    with pytest.raises(ClientError) as raised:
        ensure_certificate(paths, master.ca_address, waitforcert=30, sleep=time.sleep, clock=time.clock)
    assert sum(time.sleeps) == 30  # exactly --waitforcert, then one last request
    assert max(time.sleeps) <= CERT_POLL_SECONDS
    waiting = _waiting(caplog, "slow.example.com")
    assert len(waiting) == len(time.sleeps)  # a line before every pause
    fingerprint = pki.fingerprint_csr(pki.load_csr(paths.csr.read_bytes()))
    assert waiting[0] == (f"waiting for the certificate of slow.example.com to be signed "
                          f"(fingerprint (SHA256) {fingerprint}); 30 s left")
    assert [w.rsplit("; ", 1)[1] for w in waiting] == [f"{n} s left" for n in (30, 29, 27, 23, 18, 13, 8, 3)]
    assert str(raised.value) == (
        f"the certificate for slow.example.com is not signed yet after waiting 30 s (--waitforcert); request "
        f"fingerprint (SHA256) {fingerprint}; exiting (no certificate): sign it on the master (`bunraku cert "
        f"sign slow.example.com`) and run the agent again")
    assert not paths.cert.exists()


def test_signed_while_it_waits_it_takes_the_certificate(master: Any, tmp_path: Path) -> None:
    paths = pki.SSLPaths(tmp_path / "ssl", "soon.example.com")
    time = VirtualClock()
    time.actions.append((12.0, lambda: master.ctx.ca.sign("soon.example.com")))
    ensure_certificate(paths, master.ca_address, waitforcert=120, sleep=time.sleep, clock=time.clock)
    assert paths.has_identity() and 12 <= time.now <= 12 + CERT_POLL_SECONDS


def test_waitforcert_0_asks_once(master: Any, tmp_path: Path) -> None:
    paths = pki.SSLPaths(tmp_path / "ssl", "once.example.com")
    time = VirtualClock()
    with pytest.raises(ClientError, match=r"is not signed yet \(--waitforcert 0\); request fingerprint"):
        ensure_certificate(paths, master.ca_address, waitforcert=0, sleep=time.sleep, clock=time.clock)
    assert time.sleeps == []


def _agent(master: Any, tmp: Path, name: str, *args: str) -> subprocess.Popen[str]:
    (tmp / "root" / "etc").mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bunraku.py"), "agent", "--onetime", "--server", master.address,
         "--ca-server", master.ca_address, "--certname", name, "--root", str(tmp / "root"),
         "--ssldir", str(tmp / "ssl"), "--vardir", str(tmp / "var"), "--facts", "/dev/null", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_agent_exits_with_one_line_when_it_may_not_wait(master: Any, tmp_path: Path) -> None:
    proc = _agent(master, tmp_path, "nowait.example.com", "--waitforcert", "0")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert out.splitlines() == [line for line in out.splitlines() if line.startswith("Error: ")] and \
        len(out.splitlines()) == 1 and "not signed yet (--waitforcert 0)" in out and "bunraku cert sign" in out
    logged = [line for line in err.splitlines() if line.strip()]
    assert logged and all(LOG_LINE.match(line) for line in logged), logged  # time and Puppet's level name
    assert any("Notice: certificate request for nowait.example.com, fingerprint (SHA256) " in line
               for line in logged)
    assert "Traceback" not in err


def test_the_agent_waits_until_the_operator_signs(master: Any, tmp_path: Path) -> None:
    from tests.cli.conftest import bunraku

    proc = _agent(master, tmp_path, "patient.example.com", "--waitforcert", "300")
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # the agent says it waits, at the default log level
            seen.append(line)
            if "Notice: waiting for the certificate of patient.example.com to be signed" in line:
                break
        else:
            pytest.fail("the agent never said it was waiting: " + "".join(seen))
        signed = bunraku("cert", "sign", "patient.example.com", "--ssldir", str(master.config.ssldir))
        assert signed.returncode == 0, signed.stderr
        out, _err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert (tmp_path / "ssl" / "certs" / "patient.example.com.pem").exists()

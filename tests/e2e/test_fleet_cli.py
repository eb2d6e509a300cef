"""The command line end to end: `bunraku master` in its own process, agents, the CA and fleet commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import commit_change, git, make_git_site

ROOT = Path(__file__).resolve().parents[2]


def bunraku(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bunraku.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("cli")
    work = make_git_site(tmp)
    port_file = tmp / "ports"
    config = tmp / "master.yaml"
    config.write_text(f"listen: 127.0.0.1:0\nca_listen: 127.0.0.1:0\ncertname: master.test\n"
                      f"ssldir: {tmp / 'ssl'}\nvardir: {tmp / 'var'}\nenvironmentpath: null\n"
                      f"git: {{repo: {work}, poll_seconds: 0}}\nworkers: 1\nlog_format: kv\n")
    proc = subprocess.Popen([sys.executable, str(ROOT / "bunraku.py"), "master", "--config", str(config),
                             "--port-file", str(port_file)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=open(tmp / "master.log", "w"))
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail("master did not start: " + (tmp / "master.log").read_text())
        time.sleep(0.1)
    port, ca_port = port_file.read_text().split()
    facts = tmp / "facts.yaml"
    facts.write_text("role: web\nnetworking: {fqdn: web01.example.com}\n")
    assert bunraku("cert", "--ssldir", str(tmp / "ssl"), "generate", "admin", "--operator",
                   "--out-ssldir", str(tmp / "op")).returncode == 0
    yield {"tmp": tmp, "work": work, "server": f"127.0.0.1:{port}", "ca": f"127.0.0.1:{ca_port}",
           "facts": facts, "op": ["--server", f"127.0.0.1:{port}", "--ssldir", str(tmp / "op")]}
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def _agent(site: dict, *extra: str) -> subprocess.CompletedProcess[str]:
    tmp = site["tmp"]
    (tmp / "root" / "etc").mkdir(parents=True, exist_ok=True)
    return bunraku("agent", "--server", site["server"], "--ca-server", site["ca"], "--certname",
                   "web01.example.com", "--root", str(tmp / "root"), "--vardir", str(tmp / "agent"),
                   "--ssldir", str(tmp / "agent-ssl"), "--facts", str(site["facts"]), *extra)


def test_agent_waits_for_signing_then_converges_and_operators_see_it(site: dict) -> None:
    tmp = site["tmp"]
    pending = _agent(site, "--onetime", "--waitforcert", "0")
    assert pending.returncode == 1 and "not signed yet" in pending.stdout + pending.stderr
    listed = bunraku("cert", "--ssldir", str(tmp / "ssl"), "list")
    assert "web01.example.com" in listed.stdout and "requested" in listed.stdout
    assert bunraku("cert", "--ssldir", str(tmp / "ssl"), "sign", "web01.example.com").returncode == 0
    first = _agent(site, "-t")
    assert first.returncode == 2, first.stdout + first.stderr
    assert "Notice: Applied catalog for web01.example.com" in first.stdout
    assert (tmp / "root/etc/motd").read_text().startswith("hello from web01.example.com (remote)")
    second = _agent(site, "-t")
    assert second.returncode == 0, second.stdout + second.stderr

    nodes = bunraku("nodes", *site["op"])
    assert nodes.returncode == 0, nodes.stderr
    line = next(x for x in nodes.stdout.splitlines() if x.startswith("web01.example.com"))
    head = git(site["work"], "rev-parse", "HEAD")
    assert "unchanged" in line and head[:12] in line
    shown = bunraku("report", "show", "web01.example.com", "--last", "2", *site["op"])
    assert shown.returncode == 0 and shown.stdout.count("web01.example.com  ") == 2
    as_json = bunraku("report", "show", "web01.example.com", "--last", "2", "--json", *site["op"])
    documents = json.loads(as_json.stdout)  # one array, not one document per report
    assert [d["host"] for d in documents] == ["web01.example.com"] * 2
    facts = bunraku("facts", "--node", "web01.example.com", *site["op"], "role")
    assert facts.returncode == 0 and facts.stdout.strip() == "web"

    new = commit_change(site["work"], "manifests/site.pp", "node default { class { 'demo': motd => 'v2' } }\n")
    diff = bunraku("catalog", "diff", "web01.example.com", "--from", head, "--to", new, *site["op"])
    assert diff.returncode == 0, diff.stderr
    assert "~ File[/etc/motd]" in diff.stdout and "content:" in diff.stdout


def test_user_errors_are_one_line(site: dict) -> None:
    # a node certificate of its own (signed here), whatever the other tests did or will do
    tmp = site["tmp"]
    (tmp / "root2" / "etc").mkdir(parents=True, exist_ok=True)
    agent2 = ["agent", "--server", site["server"], "--ca-server", site["ca"], "--certname", "web02.example.com",
              "--root", str(tmp / "root2"), "--vardir", str(tmp / "agent2"), "--ssldir", str(tmp / "agent2-ssl"),
              "--facts", str(site["facts"]), "--onetime", "--waitforcert", "0", "--noop"]
    bunraku(*agent2)  # asks for its certificate
    assert bunraku("cert", "--ssldir", str(tmp / "ssl"), "sign", "web02.example.com").returncode == 0
    fetched = bunraku(*agent2)  # fetches it
    assert (tmp / "agent2-ssl" / "certs" / "web02.example.com.pem").exists(), fetched.stdout + fetched.stderr
    node_cert = ["--server", site["server"], "--ssldir", str(tmp / "agent2-ssl"), "--certname", "web02.example.com"]
    refused = bunraku("nodes", *node_cert)
    assert refused.returncode == 1 and "not an operator certificate" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    unknown = bunraku("report", "show", "nobody.example.com", *site["op"])
    assert unknown.returncode == 1 and unknown.stderr.startswith("error: no reports")
    bad = bunraku("cert", "--ssldir", str(site["tmp"] / "ssl"), "sign", "nobody")
    assert bad.returncode == 1 and bad.stderr.strip() == "error: no certificate request for nobody"
    disabled = _agent(site, "disable", "testing")
    assert disabled.returncode == 0
    blocked = _agent(site, "--onetime")
    assert blocked.returncode == 1 and "testing" in blocked.stdout
    assert _agent(site, "enable").returncode == 0


def test_master_config_errors_are_one_line(tmp_path: Path) -> None:
    config = tmp_path / "m.yaml"
    config.write_text("listen: 127.0.0.1:0\nbogus: 1\n")
    out = bunraku("master", "--config", str(config))
    assert out.returncode == 1 and "unknown setting(s): bogus" in out.stderr
    assert os.linesep.join(out.stderr.strip().splitlines()[:1]) == out.stderr.strip()

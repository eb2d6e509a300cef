"""Unmodified Puppet agents against a Bunraku master: Debian's `puppet agent` (Puppet 7) talks to
`bunraku master --puppet-listen` as it would to puppetserver - certificate request and autosign, the
node object, pluginsync (a module's Ruby fact, external fact, custom Ruby type and provider), the
catalog, `puppet:///modules/...` sources, the report into Bunraku's store - then runs again unchanged,
in noop, in the environment its classification gives, for a node it is not, and revoked."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(shutil.which("puppet") is None,
                                reason="Puppet's agent is not installed (Debian: apt-get install puppet-agent)")
ROOT = Path(__file__).resolve().parents[2]
AGENT = "agent1.example.com"

PDEMO = """\
class pdemo(String $root) {
  file { "${root}/motd":
    ensure  => file,
    content => "hello ${trusted['certname']} flavour=${facts['pdemo_flavour']} external=${facts['pdemo_external']}\\n",
  }
  file { "${root}/app.conf":
    ensure => file,
    source => 'puppet:///modules/pdemo/app.conf',
  }
  pdemo_marker { 'm1':
    ensure  => present,
    path    => "${root}/marker",
    message => 'written by a Ruby provider',
  }
}
"""
FLAVOUR_FACT = """\
Facter.add(:pdemo_flavour) do
  setcode { 'vanilla' }
end
"""
MARKER_TYPE = """\
Puppet::Type.newtype(:pdemo_marker) do
  @doc = 'A file holding one line, written by a Ruby provider.'
  ensurable
  newparam(:name, namevar: true)
  newparam(:path)
  newproperty(:message)
end
"""
MARKER_PROVIDER = """\
Puppet::Type.type(:pdemo_marker).provide(:ruby) do
  def exists?
    File.exist?(resource[:path])
  end

  def create
    File.write(resource[:path], "#{resource[:message]}\\n")
  end

  def destroy
    File.delete(resource[:path])
  end

  def message
    File.read(resource[:path]).chomp
  end

  def message=(value)
    File.write(resource[:path], "#{value}\\n")
  end
end
"""


def bunraku(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bunraku.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))


def _make_site(tmp: Path) -> Path:
    """Two environments: production (module pdemo with files/, facts.d/ and lib/: a Ruby fact, a Ruby
    type and its provider) and staging, where classification sends nodes named stage*."""
    envs, root = tmp / "envs", tmp / "root"
    prod = envs / "production"
    _write(prod / "manifests" / "site.pp", f"node default {{\n  class {{ 'pdemo': root => '{root}' }}\n}}\n")
    module = prod / "modules" / "pdemo"
    _write(module / "manifests" / "init.pp", PDEMO)
    _write(module / "files" / "app.conf", "setting = 1\n" * 50)
    _write(module / "facts.d" / "pdemo.txt", "pdemo_external=from-facts.d\n")
    _write(module / "lib" / "facter" / "pdemo_flavour.rb", FLAVOUR_FACT)
    _write(module / "lib" / "puppet" / "type" / "pdemo_marker.rb", MARKER_TYPE)
    _write(module / "lib" / "puppet" / "provider" / "pdemo_marker" / "ruby.rb", MARKER_PROVIDER)
    _write(envs / "staging" / "manifests" / "site.pp",
           f"node default {{\n  file {{ \"{root}/staged-${{trusted['certname']}}\": ensure => file, "
           f"content => \"staged\\n\" }}\n}}\n")
    root.mkdir()
    return envs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("puppet-agent")
    envs = _make_site(tmp)
    (tmp / "groups.yaml").write_text("groups:\n  staged:\n    nodes: ['stage*']\n    environment: staging\n")
    port_file, log = tmp / "ports", tmp / "master.log"
    config = tmp / "master.yaml"
    config.write_text(f"listen: 127.0.0.1:0\nca_listen: 127.0.0.1:0\ncertname: master.test\n"
                      f"ssldir: {tmp / 'ssl'}\nvardir: {tmp / 'var'}\nenvironmentpath: {envs}\n"
                      f"groups: {tmp / 'groups.yaml'}\nworkers: 1\nlog_format: kv\nautosign: true\n")
    puppet_port = _free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "bunraku.py"), "master", "--config", str(config),
                             "--puppet-listen", f"127.0.0.1:{puppet_port}", "--port-file", str(port_file),
                             "--create-store"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the master did not start: " + log.read_text())
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    assert bunraku("cert", "--ssldir", str(tmp / "ssl"), "generate", "admin", "--operator",
                   "--out-ssldir", str(tmp / "op")).returncode == 0
    yield {"tmp": tmp, "root": tmp / "root", "puppet_port": puppet_port, "log": log,
           "op": ["--server", f"127.0.0.1:{port}", "--ssldir", str(tmp / "op")]}
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def puppet_agent(site: dict[str, Any], certname: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """`puppet agent --test` with every directory of its own under the test's temporary directory."""
    base = site["tmp"] / "agents" / certname
    dirs = [arg for name in ("confdir", "vardir", "ssldir", "codedir", "logdir", "rundir", "publicdir")
            for arg in (f"--{name}", str(base / name))]
    command = ["puppet", "agent", "--test", *dirs, "--server", "127.0.0.1", "--masterport", str(site["puppet_port"]),
               "--certname", certname, "--waitforcert", "0", "--keylength", "2048", "--color", "false", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def _said(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


def _reports(site: dict[str, Any], node: str, last: int = 10) -> list[dict[str, Any]]:
    shown = bunraku("report", "show", node, "--last", str(last), "--json", *site["op"])
    if shown.returncode != 0:
        assert "no reports" in shown.stderr, shown.stderr
        return []
    out: list[dict[str, Any]] = json.loads(shown.stdout)  # one JSON array
    return out


def first_run(site: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """The agent's first run, made once per module by whichever test needs it first: every test starts
    from what it needs, in any order."""
    if "first_run" not in site:
        site["first_run"] = puppet_agent(site, AGENT)
        site["first_reports"] = _reports(site, AGENT)
    run: subprocess.CompletedProcess[str] = site["first_run"]
    return run


def test_first_run_gets_a_certificate_syncs_plugins_and_converges(site: dict[str, Any]) -> None:
    run = first_run(site)
    assert run.returncode == 2, _said(run)  # --test: 2 is "changes applied"
    assert f"Downloaded certificate for {AGENT}" in run.stdout, _said(run)
    root = site["root"]
    # the Ruby fact (lib/facter, pluginsync) and the external fact (facts.d, pluginfacts) reached the catalog
    assert (root / "motd").read_text() == f"hello {AGENT} flavour=vanilla external=from-facts.d\n"
    assert (root / "app.conf").read_text() == "setting = 1\n" * 50
    assert (root / "marker").read_text() == "written by a Ruby provider\n"  # the module's Ruby provider
    [report] = site["first_reports"]
    assert (report["host"], report["status"], report["noop"]) == (AGENT, "changed", False)
    assert report["report_format"] == 12 and report["puppet_version"].startswith("7.")
    changed = {ref for ref, status in report["resource_statuses"].items() if status["changed"]}
    assert changed == {f"File[{root}/motd]", f"File[{root}/app.conf]", "Pdemo_marker[m1]"}


def test_second_run_changes_nothing(site: dict[str, Any]) -> None:
    first_run(site)
    (site["root"] / "marker").write_text("written by a Ruby provider\n")  # as converged, whatever ran before
    before = len(_reports(site, AGENT))
    run = puppet_agent(site, AGENT)
    assert run.returncode == 0, _said(run)
    latest = _reports(site, AGENT)[0]
    assert (latest["status"], latest["noop_pending"]) == ("unchanged", False)
    assert len(_reports(site, AGENT)) == before + 1


def test_noop_shows_what_would_change_and_changes_nothing(site: dict[str, Any]) -> None:
    first_run(site)
    marker = site["root"] / "marker"
    marker.write_text("edited by hand\n")
    run = puppet_agent(site, AGENT, "--noop")
    assert run.returncode in (0, 2), _said(run)
    assert "current_value 'edited by hand', should be 'written by a Ruby provider' (noop)" in run.stdout, _said(run)
    assert marker.read_text() == "edited by hand\n"
    latest = _reports(site, AGENT)[0]
    assert (latest["noop"], latest["noop_pending"]) == (True, True)
    run = puppet_agent(site, AGENT)
    assert run.returncode == 2 and marker.read_text() == "written by a Ruby provider\n", _said(run)


@pytest.mark.parametrize(("name", "extra", "said"), [
    ("stage01.example.com", (), "doesn't match server specified node environment 'staging', switching agent"),
    ("stage02.example.com", ("--environment", "production"),
     "doesn't match server specified environment 'staging', restarting agent run with environment 'staging'"),
])
def test_classification_moves_the_agent_to_its_environment(site: dict[str, Any], name: str, extra: tuple[str, ...],
                                                           said: str) -> None:
    """From the node object (an agent left to its default environment), or from the catalog (one told its
    environment on the command line): either way it ends in the environment its group gives."""
    run = puppet_agent(site, name, *extra)
    assert run.returncode == 2, _said(run)
    assert said in run.stdout, _said(run)
    assert (site["root"] / f"staged-{name}").read_text() == "staged\n"
    assert _reports(site, name)[0]["environment"] == "staging"


def test_an_agent_asking_for_another_nodes_catalog_is_refused(site: dict[str, Any]) -> None:
    first_run(site)  # it has its certificate
    other = "agent2.example.com"
    run = puppet_agent(site, AGENT, "--node_name_value", other, "--no-usecacheonfailure")
    assert run.returncode == 1, _said(run)
    said = run.stdout + run.stderr
    assert (f"Could not retrieve catalog from remote server: Error 403 on SERVER: Not Authorized: "
            f"{AGENT} may not act for node {other}") in said, _said(run)
    assert _reports(site, other) == []


def test_a_revoked_certificate_is_refused(site: dict[str, Any]) -> None:
    # a node of its own, in the staging group (its run touches none of the other tests' files): the other
    # tests' agent keeps its certificate, in whatever order the tests run
    name = "stage-revoked.example.com"
    assert puppet_agent(site, name).returncode == 2
    revoked = bunraku("cert", "--ssldir", str(site["tmp"] / "ssl"), "revoke", name)
    assert revoked.returncode == 0, revoked.stderr
    count = len(_reports(site, name))
    run = puppet_agent(site, name, "--no-usecacheonfailure")
    assert run.returncode == 1, _said(run)
    assert f"Error 403 on SERVER: Not Authorized: the certificate of {name} has been revoked" in \
        run.stdout + run.stderr, _said(run)
    assert len(_reports(site, name)) == count
    assert "refused a revoked certificate" in site["log"].read_text()

"""Shared test helpers: a small site, a real master on loopback port 0, agent settings, an operator client."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

SITE_PP = """\
node default {
  include demo
}
"""

DEMO_INIT = """\
class demo(String $motd = 'hello') {
  file { '/etc/motd':
    ensure  => file,
    content => "${motd} from ${trusted['certname']} (${trusted['authenticated']}) role=${facts['role']}\\n",
  }
  file { '/etc/demo.conf':
    ensure => file,
    source => 'puppet:///modules/demo/demo.conf',
  }
  if $trusted['extensions']['pp_role'] {
    file { '/etc/pp_role': ensure => file, content => $trusted['extensions']['pp_role'] }
  }
}
"""

EXTRA_PP = """\
class extra(String $note = 'none') {
  file { '/etc/extra': ensure => file, content => "${note} ${tier}\\n" }
}
"""

ROLE_FACT = """\
from facts import fact


@fact("synced_role")
def synced_role(facts):
    return "from-plugin"
"""


def make_site(base: Path, name: str = "production") -> Path:
    """An environment directory: manifests/site.pp, modules demo (files/, facts/) and extra."""
    env = base / name
    (env / "manifests").mkdir(parents=True)
    (env / "manifests" / "site.pp").write_text(SITE_PP)
    demo = env / "modules" / "demo"
    (demo / "manifests").mkdir(parents=True)
    (demo / "manifests" / "init.pp").write_text(DEMO_INIT)
    (demo / "files").mkdir()
    (demo / "files" / "demo.conf").write_text("setting = 1\n" * 1000)
    (demo / "facts").mkdir()
    (demo / "facts" / "synced_role.py").write_text(ROLE_FACT)
    extra = env / "modules" / "extra" / "manifests"
    extra.mkdir(parents=True)
    (extra / "init.pp").write_text(EXTRA_PP)
    return env


def start_master(tmp: Path, environmentpath: Path | None, **overrides: Any) -> Any:
    from master.config import load_config
    from master.server import MasterServer

    settings = {"listen": "127.0.0.1:0", "ca_listen": "127.0.0.1:0", "certname": "master.test",
                "ssldir": tmp / "master" / "ssl", "vardir": tmp / "master", "environmentpath": environmentpath,
                "workers": 1, "log_format": "kv"}
    settings.update(overrides)
    store = settings.pop("store", None)
    server = MasterServer(load_config(None, settings), store=store)
    server.start()
    return server


def agent_settings(master: Any, tmp: Path, certname: str, **kw: Any) -> Any:
    from agent.run import AgentSettings

    base = tmp / "agents" / certname
    facts = kw.pop("facts", {"role": "web", "networking": {"fqdn": certname}})
    settings = AgentSettings(certname=certname, servers=[master.address], ca_server=master.ca_address,
                             ssldir=base / "ssl", vardir=base / "var", root=base / "root", facts=facts,
                             waitforcert=0)
    for key, value in kw.items():
        setattr(settings, key, value)
    (settings.root / "etc").mkdir(parents=True, exist_ok=True)
    return settings


def issue_identity(master: Any, tmp: Path, certname: str, *, operator: bool = False) -> Any:
    """Key + certificate made by the CA directly, as an ssldir (for clients that skip the CSR dance)."""
    from wire import pki

    key, cert = master.ctx.ca.generate(certname, operator=operator)
    paths = pki.SSLPaths(tmp / "ids" / certname, certname)
    pki.write_private(paths.key, key)
    pki.write_public(paths.cert, cert)
    pki.write_public(paths.ca, master.ctx.ca.ca_pem())
    return paths


def client_for(master: Any, paths: Any) -> Any:
    from wire.client import MasterClient

    return MasterClient([master.address], paths, timeout=30)


def git(repo: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@e")
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def make_git_site(base: Path) -> Path:
    """A git work tree whose branch 'production' holds the demo site (one commit)."""
    work = base / "site-git"
    work.mkdir()
    git(work, "init", "-q", "-b", "production")
    make_site(base / "tmp-site")
    subprocess.run(["cp", "-r", f"{base / 'tmp-site' / 'production'}/.", str(work)], check=True)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "first")
    return work


def commit_change(work: Path, path: str, text: str, message: str = "change") -> str:
    (work / path).write_text(textwrap.dedent(text))
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)
    return git(work, "rev-parse", "HEAD")


# -- live agents (release control) ------------------------------------------------------------------------
def issue_identity_from_ca(ssldir: Path, tmp: Path, certname: str, *, role: str | None = None,
                           operator: bool = False) -> Any:
    """Like :func:`issue_identity` for a master in another process: the CA on disk signs directly."""
    from master.ca import CertificateAuthority
    from wire import pki

    ca = CertificateAuthority(ssldir)
    key, cert = ca.generate(certname, operator=operator, role=role)
    paths = pki.SSLPaths(tmp / "ids" / certname, certname)
    pki.write_private(paths.key, key)
    pki.write_public(paths.cert, cert)
    pki.write_public(paths.ca, ca.ca_pem())
    return paths


class LiveFleet:
    """Agents in this process, each the real daemon loop with the live channel (``run_daemon_live``) in
    a thread, with given facts and its own sandbox root; runs happen when the master says so."""

    def __init__(self) -> None:
        import threading

        self.stop = threading.Event()
        self.threads: list[Any] = []
        self.settings: dict[str, Any] = {}
        self.results: dict[str, list[Any]] = {}

    def add(self, settings: Any) -> None:
        import threading

        from agent.live import run_daemon_live

        settings.live = True
        settings.runinterval = 3600.0
        self.settings[settings.certname] = settings
        results = self.results.setdefault(settings.certname, [])
        thread = threading.Thread(target=run_daemon_live, args=(settings, self.stop, results.append),
                                  name=f"agent-{settings.certname}", daemon=True)
        thread.start()
        self.threads.append(thread)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


def live_agent(server: str, ca_server: str, tmp: Path, certname: str, ssldir: Path, **kw: Any) -> Any:
    from agent.run import AgentSettings

    base = tmp / "agents" / certname
    facts = kw.pop("facts", {"role": "web", "networking": {"fqdn": certname}})
    settings = AgentSettings(certname=certname, servers=[server], ca_server=ca_server, ssldir=ssldir,
                             vardir=base / "var", root=base / "root", facts=facts, waitforcert=0, timeout=20)
    for key, value in kw.items():
        setattr(settings, key, value)
    (settings.root / "etc").mkdir(parents=True, exist_ok=True)
    return settings


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def max_in_flight(timeline: list[dict[str, Any]]) -> int:
    """The most nodes running at once for a rollout, from its stored timeline."""
    level = peak = 0
    for event in timeline:
        if event["kind"] in ("triggered", "rollback_triggered"):
            level += 1
        elif event["kind"] in ("succeeded", "failed", "deferred", "rolled_back", "rollback_failed") \
                and event["node"]:
            level -= 1
        peak = max(peak, level)
    return peak

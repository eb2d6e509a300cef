"""Code deployment from a git server: the master mirrors a remote (file://, git:// from a real
`git daemon` on loopback, http with credentials from a real `git http-backend`, ssh through
GIT_SSH_COMMAND), serves its branches as environments, keeps serving what it fetched when the remote
fails, installs Puppetfile modules per commit (the code id changes when a module moves), and keeps
the last good commit when a module cannot be installed."""

from __future__ import annotations

import base64
import http.server
import json
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from master.config import ConfigError, load_config
from master.deploy import Deployer
from master.environments import EnvError
from tests.e2e.harness import git, make_git_site
from tests.master.test_puppetfile import Forge, forge_tarball, make_module_repo, module_commit


@pytest.fixture
def forge() -> Iterator[Forge]:
    server = Forge()
    yield server
    server.close()


def make_remote(tmp: Path) -> tuple[Path, Path]:
    """The team's repository: a bare ``remotes/site.git`` (branch production) and a work tree pushing to it."""
    work = make_git_site(tmp)
    bare = tmp / "remotes" / "site.git"
    bare.parent.mkdir(exist_ok=True)
    git(tmp, "clone", "-q", "--bare", str(work), str(bare))
    git(work, "remote", "add", "origin", str(bare))
    return bare, work


def push(work: Path, path: str, text: str, branch: str = "production") -> str:
    target = work / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", f"change {path}")
    git(work, "push", "-q", "origin", f"HEAD:{branch}")
    return git(work, "rev-parse", "HEAD")


def deployer(tmp: Path, remote: str, **settings: Any) -> Deployer:
    cfg = load_config(None, {"vardir": tmp / "master", "environmentpath": None, "git_remote": remote,
                             "git_poll_seconds": 0, **settings})
    made = Deployer.from_config(cfg)
    assert made is not None
    return made


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real `git daemon` on loopback serving ``tmp_path/remotes``: (its git:// base URL, the directory)."""
    base = tmp_path / "remotes"
    base.mkdir(exist_ok=True)
    port = free_port()
    proc = subprocess.Popen(["git", "daemon", "--export-all", f"--base-path={base}", "--listen=127.0.0.1",
                             f"--port={port}", "--reuseaddr", str(base)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"git://127.0.0.1:{port}", base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- fetching ----------------------------------------------------------------------------------------------
def test_file_remote_branches_become_environments(tmp_path: Path) -> None:
    bare, work = make_remote(tmp_path)
    first = git(work, "rev-parse", "HEAD")
    d = deployer(tmp_path, f"file://{bare}")
    assert d.fetch() == ["production"]
    envs = d.environments
    assert envs.git_repo == str(tmp_path / "master" / "git-mirror.git")
    env = envs.get("production")
    assert env.code_id == first and (env.path / "manifests" / "site.pp").is_file()

    second = push(work, "manifests/extra.pp", "class x {}\n")
    assert envs.get("production").code_id == first  # not fetched yet: the mirror is what is served
    assert d.fetch() == ["production"]
    assert envs.get("production").code_id == second
    push(work, "README", "staging\n", branch="staging")
    assert d.fetch() == ["staging"]
    assert envs.branches() == ["production", "staging"]
    git(work, "push", "-q", "origin", ":staging")
    assert d.fetch() == ["staging"]
    with pytest.raises(EnvError, match="no environment named 'staging'"):
        envs.get("staging")


def test_git_daemon_remote_and_the_deploy_trigger(tmp_path: Path, git_daemon: tuple[str, Path]) -> None:
    url, _ = git_daemon
    bare, work = make_remote(tmp_path)
    d = deployer(tmp_path, f"{url}/{bare.name}", git_poll_seconds=3600)  # only a trigger fetches
    d.start()
    try:
        envs = d.environments
        assert envs.get("production").code_id == git(work, "rev-parse", "HEAD")
        new = push(work, "manifests/extra.pp", "class y {}\n")
        d.trigger("production")
        deadline = time.monotonic() + 20
        while d.last_result is None:
            assert time.monotonic() < deadline, "the triggered deploy did not run"
            time.sleep(0.05)
        result = d.last_result
        assert envs.get("production").code_id == new
        assert result is not None and result.ok and result.requested == "production"
        assert [(r.environment, r.commit, r.serving) for r in result.environments] == [("production", new, new)]
        assert d.pending() == {}

        _, ntp_work = make_module_repo(tmp_path / "remotes", "ntp")  # a module over git:// too
        with_modules = push(work, "Puppetfile", f"mod 'ntp', git: '{url}/ntp.git', branch: 'main'\n")
        report = d.deploy("production").environments[0]
        assert report.ok and report.commit == with_modules
        assert [(m.name, m.resolved, m.status) for m in report.modules] == [
            ("ntp", git(ntp_work, "rev-parse", "HEAD"), "fetched")]
        assert (envs.get("production").path / "modules" / "ntp" / "manifests" / "init.pp").is_file()
    finally:
        d.stop()


def test_failed_fetch_serves_what_was_fetched_and_logs_once_per_streak(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    bare, work = make_remote(tmp_path)
    first = git(work, "rev-parse", "HEAD")
    d = deployer(tmp_path, f"file://{bare}")
    d.fetch()
    gone = bare.with_name("moved.git")
    bare.rename(gone)
    caplog.set_level(logging.INFO, logger="master.deploy")
    assert d.fetch() == [] and d.fetch() == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"fetch from file://{bare} failed: ")
    assert "serving what was fetched before" in errors[0] and "\n" not in errors[0]
    assert d.environments.get("production").code_id == first
    result = d.deploy()
    assert not result.ok and result.fetch_error and result.environments[0].serving == first
    restarted = deployer(tmp_path, f"file://{bare}")  # the remote down at a restart: the mirror is served
    restarted.start()
    try:
        assert restarted.environments.get("production").code_id == first
        deadline = time.monotonic() + 20
        while restarted.fetch_error is None:  # the background fetch fails, and is logged
            assert time.monotonic() < deadline, "no background fetch after the restart"
            time.sleep(0.05)
    finally:
        restarted.stop()

    gone.rename(bare)
    caplog.clear()
    assert d.fetch() == [] and d.fetch_error is None
    assert any("works again" in r.getMessage() for r in caplog.records)
    bare.rename(gone)
    d.fetch()
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR]) == 1  # a new streak: logged again


# -- Puppetfile modules ------------------------------------------------------------------------------------
def _modules_site(tmp: Path, forge: Forge) -> tuple[Path, Path, Path, Path]:
    bare, work = make_remote(tmp)
    ntp_bare, ntp_work = make_module_repo(tmp, "ntp")
    forge.publish("acme-motd-1.2.3", forge_tarball("acme-motd-1.2.3", {"manifests/init.pp": "class motd {}\n"}))
    push(work, "Puppetfile", f"""\
forge 'https://forge.example.com'
mod 'acme-motd', '1.2.3'
mod 'ntp', git: 'file://{ntp_bare}', branch: 'main'
mod 'ntp_pinned',
  :git => 'file://{ntp_bare}',
  :tag => 'v1.0.0'
mod 'site', :local => true
""")
    return bare, work, ntp_bare, ntp_work


def test_deploy_installs_puppetfile_modules_per_commit(tmp_path: Path, forge: Forge) -> None:
    bare, work, ntp_bare, ntp_work = _modules_site(tmp_path, forge)
    commit = git(work, "rev-parse", "HEAD")
    v1 = git(ntp_work, "rev-parse", "HEAD")
    d = deployer(tmp_path, f"file://{bare}", forge_url=forge.url)
    result = d.deploy("production")
    assert result.ok, result.to_dict()
    (report,) = result.to_dict()["environments"]
    assert report["commit"] == commit and report["code_id"].startswith(commit + "+")
    assert report["serving"] == report["code_id"]
    assert [(m["name"], m["kind"], m["ref"], m["resolved"], m["status"]) for m in report["modules"]] == [
        ("acme-motd", "forge", "version 1.2.3", "1.2.3", "fetched"),
        ("ntp", "git", "branch main", v1, "fetched"),
        ("ntp_pinned", "git", "tag v1.0.0", v1, "cached"),
        ("site", "local", "", None, "skipped"),
    ]
    assert json.loads((tmp_path / "master" / "last-deploy.json").read_text()) == json.loads(json.dumps(result.to_dict()))
    env = d.environments.get("production")
    assert env.code_id == report["code_id"] == env.version
    assert (env.path / "modules" / "motd" / "manifests" / "init.pp").read_text() == "class motd {}\n"
    assert (env.path / "modules" / "ntp" / "manifests" / "init.pp").is_file()
    assert (env.path / "modules" / "demo" / "manifests" / "init.pp").is_file()  # the repository's own modules
    assert not (env.path / "modules" / "ntp" / "manifests" / "params.pp").exists()

    # the module's branch moves, the environment's commit does not: a deploy gives a new code id
    v2 = module_commit(ntp_work, "class ntp::params {}\n")
    assert d.environments.get("production").code_id == report["code_id"]  # resolved again only on a deploy
    again = d.deploy("production").environments[0]
    assert again.commit == commit and again.code_id != report["code_id"] and again.ok
    assert [(m.name, m.resolved, m.status) for m in again.modules[:3]] == [
        ("acme-motd", "1.2.3", "cached"), ("ntp", v2, "fetched"), ("ntp_pinned", v1, "cached")]
    moved = d.environments.get("production")
    assert moved.code_id == again.code_id and (moved.path / "modules" / "ntp" / "manifests" / "params.pp").is_file()
    assert forge.requests == ["/v3/files/acme-motd-1.2.3.tar.gz"]  # (name, version) fetched once

    # a release (rollouts) names the commit with its modules; the earlier one is still served by its id
    assert d.environments.resolve("production", commit) == again.code_id
    assert d.environments.at_commit("production", report["code_id"]).path == env.path

    # a restarted master serves the same modules without asking the network
    forge.close()
    ntp_bare.rename(ntp_bare.with_name("gone.git"))
    restarted = deployer(tmp_path, f"file://{bare}", forge_url=forge.url)
    assert restarted.environments.get("production").code_id == again.code_id


def test_a_release_made_on_one_master_is_served_by_another(tmp_path: Path, forge: Forge) -> None:
    """Each master fetches and resolves for itself: pinned modules give every master the same code id;
    a module following a branch that moved in between is one clear error, not other code."""
    bare, work, _, ntp_work = _modules_site(tmp_path, forge)
    a = deployer(tmp_path / "a", f"file://{bare}", forge_url=forge.url)
    release = a.deploy().environments[0].code_id
    assert release is not None
    b = deployer(tmp_path / "b", f"file://{bare}", forge_url=forge.url)
    b.fetch()
    assert b.environments.at_commit("production", release).code_id == release  # resolved alike on b
    assert b.environments.resolve("production", release) == release            # a code id names a release

    module_commit(ntp_work, "class ntp::params {}\n")  # 'ntp' follows branch main
    later = a.deploy().environments[0].code_id
    assert later is not None and later != release
    c = deployer(tmp_path / "c", f"file://{bare}", forge_url=forge.url)
    c.fetch()
    with pytest.raises(EnvError) as info:
        c.environments.at_commit("production", release)
    assert str(info.value) == (f"environment production: release {release} has Puppetfile modules that now resolve "
                               f"differently (to {later}); pin them (tag:, commit:, a version) or roll out {later}")


def test_broken_module_keeps_the_last_good_commit(tmp_path: Path, forge: Forge,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    bare, work, _, _ = _modules_site(tmp_path, forge)
    d = deployer(tmp_path, f"file://{bare}", forge_url=forge.url)
    good = d.deploy().environments[0].code_id
    assert good is not None
    text = (work / "Puppetfile").read_text()
    broken_url = f"file://{tmp_path}/no-such-repo.git"
    bad = push(work, "Puppetfile", text + f"mod 'broken', git: '{broken_url}', tag: 'v1'\n")
    caplog.set_level(logging.INFO)
    result = d.deploy("production")
    assert not result.ok
    (report,) = result.environments
    assert report.commit == bad and report.code_id is None and report.serving == good
    assert report.error is not None and report.error.startswith(
        f"environment production at commit {bad[:12]}: Puppetfile module broken (line 8): git ls-remote failed: "
        f"'{tmp_path}/no-such-repo.git' does not appear to be a git repository")
    assert "\n" not in report.error
    assert [(m.name, m.status) for m in report.modules] == [("broken", "failed")]
    envs = d.environments
    for _ in range(3):
        assert envs.get("production").code_id == good
    problem = envs.problem("production")
    assert problem is not None and problem.commit == bad and problem.serving == good.split("+")[0]
    assert "Puppetfile module broken" in problem.message
    refused = [r for r in caplog.records if r.name == "master.environments" and r.levelno >= logging.ERROR]
    assert len(refused) == 1 and "traceback" not in refused[0].getMessage().lower()

    # a Puppetfile that cannot be read: one error naming the file and line; still the last good commit
    unreadable = push(work, "Puppetfile", text + "moduledir 'vendor'\n")
    report = d.deploy("production").environments[0]
    assert report.commit == unreadable and report.serving == good
    assert report.error == (f"environment production at commit {unreadable[:12]}: Puppetfile:8: unknown statement "
                            f"'moduledir': a Puppetfile here holds only 'mod' (and 'forge') lines")

    fixed = push(work, "Puppetfile", text)
    report = d.deploy("production").environments[0]
    assert report.ok and report.commit == fixed and report.serving == report.code_id
    assert envs.problem("production") is None


def test_traversal_tarball_refused_at_deploy(tmp_path: Path, forge: Forge) -> None:
    import tarfile

    bare, work = make_remote(tmp_path)
    good = git(work, "rev-parse", "HEAD")
    evil = tarfile.TarInfo("acme-evil-1.0.0/../../../outside")
    evil.size = 1
    forge.publish("acme-evil-1.0.0", forge_tarball("acme-evil-1.0.0", {"manifests/init.pp": ""}, extra=[evil]))
    d = deployer(tmp_path, f"file://{bare}", forge_url=forge.url)
    d.deploy()
    bad = push(work, "Puppetfile", "mod 'acme-evil', '1.0.0'\n")
    report = d.deploy().environments[0]
    assert report.error == (f"environment production at commit {bad[:12]}: Puppetfile module acme-evil (line 1): "
                            f"acme-evil-1.0.0/../../../outside would be written outside the module")
    assert report.serving == good and d.environments.get("production").code_id == good
    assert not list(tmp_path.rglob("outside"))


# -- credentials -------------------------------------------------------------------------------------------
class GitHTTP:
    """A real smart-HTTP git server (`git http-backend`) on loopback that wants Basic credentials."""

    def __init__(self, root: Path, user: str, token: str) -> None:
        expected = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        self.authorized = 0
        self.seen_authorization: list[str] = []

        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _serve(self) -> None:
                if self.headers.get("Authorization"):
                    outer.seen_authorization.append(base64.b64decode(self.headers["Authorization"][6:]).decode())
                if self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                outer.authorized += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path, _, query = self.path.partition("?")
                env = {"PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(root), "GIT_HTTP_EXPORT_ALL": "1",
                       "REQUEST_METHOD": self.command, "PATH_INFO": path, "QUERY_STRING": query,
                       "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                       "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                       "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""), "REMOTE_USER": user}
                out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True,
                                     check=False).stdout
                head, _, payload = out.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode().split("\r\n"):
                    key, _, value = line.partition(": ")
                    if key.lower() == "status":
                        status = int(value.split()[0])
                    elif key:
                        headers.append((key, value))
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve  # noqa: N815 - http.server's names

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _recording(tmp: Path, name: str, monkeypatch: pytest.MonkeyPatch, then: str) -> Path:
    """``name`` on PATH records its argv (one line per call), then runs ``then``."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    log_file = tmp / f"{name}-argv.log"
    script = bin_dir / name
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log_file}\n{then}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return log_file


def test_https_credentials_from_a_file_never_in_argv_or_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    token = "s3cr3t-T0KEN-value"
    bare, work = make_remote(tmp_path)
    server = GitHTTP(bare.parent, "deploy", token)
    try:
        creds = tmp_path / "git-credentials"
        creds.write_text(f"deploy:{token}\n")
        creds.chmod(0o644)
        with pytest.raises(ConfigError) as info:
            deployer(tmp_path, f"{server.url}/site.git", git_credentials=creds)
        assert str(info.value) == f"error: git_credentials: {creds} can be read by other users: run chmod 600 {creds}"
        with pytest.raises(ConfigError, match="must not carry a password or token"):
            deployer(tmp_path, f"http://deploy:{token}@127.0.0.1/site.git")
        creds.chmod(0o600)

        argv_log = _recording(tmp_path, "git", monkeypatch, f'exec {shutil.which("git")} "$@"')
        caplog.set_level(logging.DEBUG)
        without = deployer(tmp_path / "other", f"{server.url}/site.git")
        without.fetch()
        assert without.fetch_error is not None and server.authorized == 0  # the server wants credentials

        d = deployer(tmp_path, f"{server.url}/site.git", git_credentials=creds)
        assert d.fetch() == ["production"], d.fetch_error
        assert server.authorized > 0
        assert d.environments.get("production").code_id == git(work, "rev-parse", "HEAD")
        calls = argv_log.read_text()
        assert "fetch --prune" in calls and f"{server.url}/site.git" in calls
        assert token not in calls
        assert all(token not in r.getMessage() for r in caplog.records)
        askpass = tmp_path / "master" / "git-askpass.sh"
        assert token not in askpass.read_text() and (askpass.stat().st_mode & 0o077) == 0

        # Puppetfile modules: on the remote's host with the credentials, never elsewhere
        make_module_repo(bare.parent, "ntp")
        other = GitHTTP(bare.parent, "deploy", "another-token")
        try:
            push(work, "Puppetfile", f"mod 'ntp', git: '{server.url}/ntp.git', tag: 'v1.0.0'\n"
                                     f"mod 'stranger', git: '{other.url}/ntp.git', tag: 'v1.0.0'\n")
            report = d.deploy("production").environments[0]
            assert report.error is not None and report.error.endswith(
                "Puppetfile module stranger (line 2): git ls-remote failed: the server asks for credentials and the "
                "master has none for this host (git_credentials are given only to the host of git_remote)")
            assert other.seen_authorization == [] and other.authorized == 0
            push(work, "Puppetfile", f"mod 'ntp', git: '{server.url}/ntp.git', tag: 'v1.0.0'\n")
            report = d.deploy("production").environments[0]
            assert report.ok and [(m.name, m.status) for m in report.modules] == [("ntp", "cached")]  # fetched above
        finally:
            other.close()
        assert token not in argv_log.read_text()
        assert all(token not in r.getMessage() for r in caplog.records)

        creds.write_text(f"deploy:wrong-{token}\n")
        caplog.clear()
        d.fetch()
        assert d.fetch_error is not None and token not in d.fetch_error
        assert all(token not in r.getMessage() for r in caplog.records)
    finally:
        server.close()


def test_ssh_key_through_git_ssh_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bare, work = make_remote(tmp_path)
    key = tmp_path / "deploy_key"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n")
    key.chmod(0o644)
    with pytest.raises(ConfigError, match="run chmod 600"):
        deployer(tmp_path, f"ssh://git@localhost{bare}", git_ssh_key=key)
    key.chmod(0o600)
    # a stand-in for ssh: records how git runs it, then runs the remote command here
    ssh_log = _recording(tmp_path, "ssh", monkeypatch, 'for last; do :; done; exec sh -c "$last"')
    d = deployer(tmp_path, f"ssh://git@localhost{bare}", git_ssh_key=key)
    assert d.fetch() == ["production"], d.fetch_error
    assert d.environments.get("production").code_id == git(work, "rev-parse", "HEAD")
    call = ssh_log.read_text().splitlines()[0]
    assert f"-i {key} -o IdentitiesOnly=yes" in call
    assert "-o StrictHostKeyChecking=accept-new" in call and "-o BatchMode=yes" in call
    assert f"-o UserKnownHostsFile={tmp_path / 'master' / 'known_hosts'}" in call
    assert "git@localhost" in call


def test_settings_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="set git_repo .* or git_remote .*, not both"):
        load_config(None, {"git_repo": str(tmp_path), "git_remote": "file:///x", "vardir": tmp_path})
    with pytest.raises(ConfigError, match="forge_url must be an http"):
        load_config(None, {"forge_url": "ftp://x", "vardir": tmp_path})
    cfg_file = tmp_path / "master.yaml"
    cfg_file.write_text("git: {remote: 'file:///srv/site.git', poll_seconds: 30}\nforge_url: http://forge\n")
    cfg = load_config(cfg_file)
    assert (cfg.git_remote, cfg.git_poll_seconds, cfg.forge_url) == ("file:///srv/site.git", 30, "http://forge")


# -- the master ------------------------------------------------------------------------------------------
def test_master_serves_environments_fetched_from_a_remote(tmp_path: Path) -> None:
    from tests.e2e.harness import client_for, issue_identity, start_master
    from wire.proto import bunraku_pb2 as pb

    bare, work = make_remote(tmp_path)
    first = git(work, "rev-parse", "HEAD")
    server = start_master(tmp_path, None, git_remote=f"file://{bare}", git_poll_seconds=0.2)
    try:
        assert server.deployer is not None and server.ctx.environments is server.deployer.environments
        facts = json.dumps({"role": "web", "networking": {"fqdn": "web01.example.com"}}).encode()
        with client_for(server, issue_identity(server, tmp_path, "web01.example.com")) as client:
            assert client.call("GetCatalog", pb.CatalogRequest(facts_json=facts)).code_id == first
            second = push(work, "modules/extra/manifests/more.pp", "class extra::more {}\n")
            deadline = time.monotonic() + 20  # the background fetch brings it, no deploy needed
            while client.call("GetCatalog", pb.CatalogRequest(facts_json=facts)).code_id != second:
                assert time.monotonic() < deadline, "the master did not fetch the push"
                time.sleep(0.1)

            # a Puppetfile module, compiled into the catalog under the commit+modules code id
            ntp_bare, _ = make_module_repo(tmp_path, "ntp")
            push(work, "Puppetfile", f"mod 'ntp', git: 'file://{ntp_bare}', tag: 'v1.0.0'\n")
            third = push(work, "manifests/site.pp", "node default {\n  include demo\n  include ntp\n}\n")
            result = server.ctx.environments.deploy("production").to_dict()
            assert result["ok"], result
            code_id = result["environments"][0]["serving"]
            assert code_id.startswith(third + "+")
            reply = client.call("GetCatalog", pb.CatalogRequest(facts_json=facts))
            assert reply.code_id == code_id
            catalog = json.loads(reply.catalog_json)
            assert {"type": "Notify", "title": "ntp"}.items() <= next(
                r for r in catalog["resources"] if r["type"] == "Notify").items()
    finally:
        server.stop()


def test_webhook_answers(tmp_path: Path) -> None:
    bare, work = make_remote(tmp_path)
    d = deployer(tmp_path, f"file://{bare}")
    status, reply = d.webhook(b'{"environment": "production"}')
    assert status == 200 and reply["ok"] and reply["environments"][0]["commit"] == git(work, "rev-parse", "HEAD")
    status, reply = d.webhook(b"")
    assert status == 200 and reply["requested"] is None and [e["environment"] for e in reply["environments"]] == [
        "production"]
    assert d.webhook(b'{"environment": "nope"}')[0] == 404
    assert d.webhook(b'{"environment": "../etc"}') == (400, {"error": "environment '../etc' is not a valid "
                                                                    "environment name"})
    assert d.webhook(b"not json")[0] == 400
    assert d.webhook(b'{"environment": "production", "wait": false}')[0] == 202
    assert d.pending() == {"production": pytest.approx(time.time(), abs=30)}
    bad = push(work, "Puppetfile", "mod 'x', :unknown\n")
    status, reply = d.webhook(b'{"environment": "production"}')
    assert status == 409 and reply["environments"][0]["commit"] == bad
    assert reply["environments"][0]["error"].endswith("Puppetfile:1: module x: expected KEY: 'VALUE' or :KEY => 'VALUE'")
    bare.rename(bare.with_name("gone.git"))
    assert d.webhook(b"{}")[0] == 502

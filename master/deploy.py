"""Code deployment: environments fetched from a git server, Puppetfile modules, deploys on demand.

With ``git_remote`` set, the master keeps a mirror of that repository under its vardir
(``<vardir>/git-mirror.git``), fetches into it every ``git_poll_seconds`` from a background thread and
whenever a deploy is asked for, and serves its branches as environments exactly as it serves a local
``git_repo``. A fetch that fails leaves the mirror as it was: what was fetched before is served, and the
failure is logged once until a fetch works again.

Credentials never travel in argv, the environment's values or the logs: for https a ``git_credentials``
file (``user:token``, mode 0600) is read by a small askpass program git runs (GIT_ASKPASS), which
answers only for the host of ``git_remote`` (Puppetfile modules on that host too); for ssh a
``git_ssh_key`` file goes through GIT_SSH_COMMAND, with the master's own known_hosts under its vardir
(a host key is accepted the first time, then checked).

Each master fetches for itself. A deploy (:meth:`Deployer.deploy`, or :meth:`Deployer.trigger` from a
webhook) reaches the master it is asked of, which announces it on the ``catalogs`` notification
(:mod:`master.notify`): every master sharing its store checks the environment again (fetching first,
with ``git_remote``) and drops the catalogs it cached of it, so one webhook is enough.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import stat
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from master.environments import ENV_NAME_RE, EnvError, Environments
from master.puppetfile import ModuleInstaller, git_reason

log = logging.getLogger(__name__)

FETCH_TIMEOUT = 300
#: the shortest interval between two background fetches, whatever git_poll_seconds says
MIN_FETCH_INTERVAL = 0.5

_ASKPASS = """#!/bin/sh
# Written by the Bunraku master: git asks this for the user name and password of an https remote.
# It reads them from the file named by BUNRAKU_GIT_CREDENTIALS (user:token), so they never appear in
# a command line or in the master's logs.
# It answers only for the host of git_remote: a module URL elsewhere gets nothing.
q="'"; url=${1#*$q}; url=${url%$q*}; rest=${url#*://}; hostport=${rest#*@}
[ "$hostport" = "$BUNRAKU_GIT_HOST" ] || exit 1
IFS= read -r line < "$BUNRAKU_GIT_CREDENTIALS" || [ -n "$line" ] || exit 1
case "$1" in
  Username*) printf '%s\\n' "${line%%:*}" ;;
  *) printf '%s\\n' "${line#*:}" ;;
esac
"""


class DeployError(Exception):
    """A deploy setting is wrong (one line for the user)."""


def check_settings(config: Any) -> None:
    """Refuse settings that cannot work, in one line each (called when the configuration is loaded)."""
    remote = config.git_remote
    if remote and config.git_repo:
        raise DeployError("error: set git_repo (a repository on this host) or git_remote (a URL the master "
                          "fetches from), not both")
    if remote:
        remote = str(remote)
        if remote.startswith("-") or any(c.isspace() for c in remote):
            raise DeployError(f"error: git_remote {remote!r} is not a git URL")
        parts = urlsplit(remote)
        if parts.scheme in ("http", "https") and parts.password is not None:
            raise DeployError("error: git_remote must not carry a password or token: put user:token in the "
                              "file named by git_credentials (mode 0600)")
    for name in ("git_credentials", "git_ssh_key"):
        path = getattr(config, name)
        if path is not None:
            _check_secret_file(name, Path(path))
    forge = config.forge_url
    if forge and not str(forge).startswith(("http://", "https://")):
        raise DeployError(f"error: forge_url must be an http(s) URL, not {forge!r}")


def _check_secret_file(setting: str, path: Path) -> None:
    try:
        st = path.stat()
    except OSError as exc:
        raise DeployError(f"error: {setting}: cannot read {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise DeployError(f"error: {setting}: {path} is not a file")
    if st.st_mode & 0o077:
        raise DeployError(f"error: {setting}: {path} can be read by other users: run chmod 600 {path}")


class GitAuth:
    """The environment git runs with to reach the remote: credentials by file, never in argv."""

    def __init__(self, vardir: Path, *, credentials: Path | None = None, ssh_key: Path | None = None,
                 remote: str | None = None) -> None:
        self.vardir = vardir
        self.credentials = credentials
        self.ssh_key = ssh_key
        parts = urlsplit(remote or "")
        #: the only host the credentials are given to (host:port as git shows it in its prompt)
        self.host = parts.netloc.rpartition("@")[2]

    def env(self) -> dict[str, str]:
        env = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false",
               # no credential helper of the user the master runs as: only our askpass answers
               "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "credential.helper", "GIT_CONFIG_VALUE_0": ""}
        if self.credentials is not None:
            _check_secret_file("git_credentials", self.credentials)
            env["GIT_ASKPASS"] = str(self._askpass())
            env["BUNRAKU_GIT_CREDENTIALS"] = str(self.credentials.resolve())
            env["BUNRAKU_GIT_HOST"] = self.host
        ssh = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-o", "StrictHostKeyChecking=accept-new",
               "-o", f"UserKnownHostsFile={self.vardir / 'known_hosts'}"]
        if self.ssh_key is not None:
            _check_secret_file("git_ssh_key", self.ssh_key)
            ssh += ["-i", str(self.ssh_key.resolve()), "-o", "IdentitiesOnly=yes"]
        env["GIT_SSH_COMMAND"] = shlex.join(ssh)
        env["GIT_SSH_VARIANT"] = "ssh"
        return env

    def secrets(self) -> tuple[str, ...]:
        """What must never be logged: the token of the credentials file."""
        if self.credentials is None:
            return ()
        try:
            line = self.credentials.read_text(encoding="utf-8").splitlines()[0]
        except (OSError, IndexError):
            return ()
        token = line.partition(":")[2].strip()
        return (token,) if token else ()

    def _askpass(self) -> Path:
        path = self.vardir / "git-askpass.sh"
        try:
            if path.read_text(encoding="utf-8") == _ASKPASS and os.access(path, os.X_OK):
                return path
        except OSError:
            pass
        self.vardir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(_ASKPASS)
        os.replace(tmp, path)
        return path


# -- what a deploy reports ------------------------------------------------------------------------------
@dataclass(slots=True)
class ModuleReport:
    name: str
    kind: str                     # git | forge | local
    source: str                   # git URL, or the Forge release name
    ref: str                      # what the Puppetfile asks for: "tag v1.2", "branch main", "version 1.2.3"
    resolved: str | None          # the commit / version installed
    status: str                   # fetched | cached | skipped | failed
    error: str | None = None


@dataclass(slots=True)
class EnvironmentReport:
    environment: str
    ok: bool
    commit: str | None            # the branch head
    code_id: str | None           # the head's code id (commit, or commit+modules digest)
    serving: str | None           # the code id served now (the last good one when the head fails)
    error: str | None = None
    modules: list[ModuleReport] = field(default_factory=list)


@dataclass(slots=True)
class DeployResult:
    ok: bool
    requested: str | None                 # the environment asked for; None: all
    started: float
    finished: float
    fetch_error: str | None
    environments: list[EnvironmentReport] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return re.sub(r"(://)[^/@\s]+@", r"\1***@", text)


class Deployer:
    """Keeps the environments' git repository current and deploys on demand (see the module's doc)."""

    def __init__(self, environments: Environments, *, remote: str | None = None, mirror: Path | None = None,
                 auth: GitAuth | None = None, poll_seconds: float = 2.0, status_file: Path | None = None) -> None:
        self.environments = environments
        self.remote = remote
        self.mirror = mirror
        self.auth = auth
        self.poll_seconds = poll_seconds
        self.status_file = status_file
        self._fetch_lock = threading.Lock()
        self._deploy_lock = threading.Lock()
        self._failing: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pending: dict[str | None, float] = {}   # environment (None: all) -> when it was requested
        self._pending_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.last_result: DeployResult | None = None
        self.last_fetch: float | None = None
        #: master.notify.Notifier: deploys are announced to the masters sharing the store (None: not)
        self.notifier: Any = None
        environments.deployer = self

    @classmethod
    def from_config(cls, cfg: Any) -> Deployer | None:
        """The master's deployer (None when environments come only from directories)."""
        if not cfg.git_remote and not cfg.git_repo:
            return None
        vardir = Path(cfg.vardir)
        auth = GitAuth(vardir, credentials=cfg.git_credentials, ssh_key=cfg.git_ssh_key, remote=cfg.git_remote)
        installer = ModuleInstaller(vardir / "puppetfile-modules", forge_url=cfg.forge_url,
                                    git_env=auth.env(), scrub=auth.secrets())
        mirror = vardir / "git-mirror.git" if cfg.git_remote else None
        envs = Environments(environmentpath=cfg.environmentpath,
                            git_repo=str(mirror) if mirror is not None else cfg.git_repo,
                            cache_dir=vardir / "code", timeout=cfg.environment_timeout,
                            git_poll_seconds=cfg.git_poll_seconds, modules=installer)
        return cls(envs, remote=cfg.git_remote, mirror=mirror, auth=auth, poll_seconds=cfg.git_poll_seconds,
                   status_file=vardir / "last-deploy.json")

    # -- the background thread --------------------------------------------------------------------------
    def start(self) -> None:
        """Fetch (a failure is logged; the mirror's content is served), then poll in the background. A mirror
        that has branches already (a restart) is served at once and fetched in the background."""
        if self.remote is not None:
            try:
                mirrored = bool(self._refs())
            except DeployError:
                mirrored = False
            if mirrored:
                self._wake.set()
            else:
                self.fetch()
        self._thread = threading.Thread(target=self._loop, name="git-deploy", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def trigger(self, environment: str | None = None) -> None:
        """Ask for a deploy of ``environment`` (None: all) soon; returns at once. Thread-safe."""
        with self._pending_lock:
            self._pending.setdefault(environment, time.time())
        log.info("deploy requested for %s", f"environment {environment}" if environment else "all environments")
        self._wake.set()

    def pending(self) -> dict[str | None, float]:
        """Deploys asked for and not yet run: environment (None: all) -> when (time.time())."""
        with self._pending_lock:
            return dict(self._pending)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(max(self.poll_seconds, MIN_FETCH_INTERVAL) if self.remote is not None else None)
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._pending_lock:
                pending, self._pending = self._pending, {}
            try:
                if pending:
                    targets: list[str | None] = [None] if None in pending else [e for e in sorted(filter(None, pending))]
                    for target in targets:
                        self.deploy(target)
                elif self.remote is not None:
                    changed = self.fetch()
                    for name in changed:  # materialise new heads now, not in an agent's request
                        try:
                            self.environments.get(name)
                        except EnvError:
                            pass  # logged once by Environments; the last good commit is served
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                log.exception("deploy: unexpected failure; trying again in %gs", self.poll_seconds)

    # -- the webhook -----------------------------------------------------------------------------------------
    def webhook(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """``POST /deploy``: (HTTP status, JSON reply) for a request body ``{"environment": "production"}``
        (empty or ``{}``: every environment; ``"wait": false``: queue it and answer 202 at once).
        200 deployed; 404 no such branch; 409 the head cannot be served (the last good commit is);
        502 the fetch failed (what was fetched before is served); 400 a body that cannot be read."""
        try:
            request = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, ValueError):
            return 400, {"error": 'the body must be JSON: {"environment": "NAME"} or nothing for all'}
        if not isinstance(request, dict) or set(request) - {"environment", "wait"}:
            return 400, {"error": 'the body must be JSON: {"environment": "NAME", "wait": true|false}'}
        environment = request.get("environment")
        if environment is not None and (not isinstance(environment, str) or not ENV_NAME_RE.fullmatch(environment)):
            return 400, {"error": f"environment {environment!r} is not a valid environment name"}
        wait = request.get("wait", True)
        if not isinstance(wait, bool):
            return 400, {"error": "wait must be true or false"}
        if not wait:
            self.trigger(environment)
            return 202, {"queued": environment, "requested": time.time()}
        result = self.deploy(environment)
        if result.environments and all(r.commit is None for r in result.environments) and environment:
            return 404, result.to_dict()
        if result.fetch_error is not None:
            return 502, result.to_dict()
        return (200 if result.ok else 409), result.to_dict()

    # -- fetching -------------------------------------------------------------------------------------------
    def fetch(self) -> list[str]:
        """Fetch the remote's branches into the mirror: the environments whose head changed. A failure
        keeps the mirror as it was (logged once per streak of failures) and raises nothing."""
        if self.remote is None or self.mirror is None:
            return []
        with self._fetch_lock:
            try:
                before = self._refs()
                self._git("fetch", "--prune", "--quiet", "--no-write-fetch-head", self.remote,
                          "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
                after = self._refs()
            except DeployError as exc:
                reason = str(exc)
                if self._failing is None:
                    log.error("fetch from %s failed: %s; serving what was fetched before", self._remote_shown(),
                              reason)
                self._failing = reason
                return []
            if self._failing is not None:
                log.info("fetch from %s works again", self._remote_shown())
            self._failing = None
            self.last_fetch = time.time()
        self.environments.forget_heads()
        return sorted(b for b in set(before) | set(after) if before.get(b) != after.get(b))

    @property
    def fetch_error(self) -> str | None:
        """Why the last fetch failed (None when it worked)."""
        return self._failing

    def _remote_shown(self) -> str:
        return _scrub(self.remote or "", self.auth.secrets() if self.auth else ())

    def _refs(self) -> dict[str, str]:
        out = self._git("for-each-ref", "--format=%(objectname) %(refname:short)", "refs/heads/")
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, name = line.partition(" ")
            refs[name] = sha
        return refs

    def _git(self, *args: str) -> str:
        assert self.mirror is not None
        if not (self.mirror / "HEAD").is_file():
            try:
                self.mirror.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run(["git", "init", "--quiet", "--bare", str(self.mirror)], capture_output=True,
                               timeout=60, check=True)
            except (OSError, subprocess.SubprocessError) as exc:
                raise DeployError(f"cannot create the mirror {self.mirror}: {exc}") from None
        env = {**os.environ, **(self.auth.env() if self.auth else {"GIT_TERMINAL_PROMPT": "0"})}
        try:
            proc = subprocess.run(["git", "--git-dir", str(self.mirror), *args], capture_output=True,
                                  timeout=FETCH_TIMEOUT, check=False, env=env)
        except subprocess.TimeoutExpired:
            raise DeployError(f"git {args[0]} took longer than {FETCH_TIMEOUT}s") from None
        if proc.returncode != 0:
            reason = git_reason(proc.stderr, proc.returncode)
            raise DeployError(_scrub(reason, self.auth.secrets() if self.auth else ()))
        return proc.stdout.decode("utf-8", "replace")

    # -- deploying ------------------------------------------------------------------------------------------
    def deploy(self, environment: str | None = None) -> DeployResult:
        """Fetch now, then resolve the new head (and its Puppetfile modules) of ``environment``, or of every
        branch: what each environment is served at now, module by module."""
        started = time.time()
        with self._deploy_lock:
            with self._pending_lock:
                self._pending.pop(environment, None)
            installer = self.environments.modules
            if installer is not None and self.auth is not None:
                installer.scrub = self.auth.secrets()  # the token as it is now, should the file change
            self.fetch()
            fetch_error = self._failing if self.remote is not None else None
            envs = self.environments
            names = [environment] if environment is not None else envs.branches()
            reports = [self._deploy_one(name) for name in names]
        result = DeployResult(ok=fetch_error is None and all(r.ok for r in reports), requested=environment,
                              started=started, finished=time.time(), fetch_error=fetch_error,
                              environments=reports)
        self.last_result = result
        self._record(result)
        if self.notifier is not None:
            deployed = [r.environment for r in reports if r.ok]
            for name in deployed if environment is not None else (["*"] if deployed else []):
                self.notifier.notify("catalogs", {"env": name, "why": "deploy"})
        for report in reports:
            if report.ok:
                log.info("deployed environment %s at %s", report.environment, report.code_id)
            else:
                log.error("deploy of environment %s: %s", report.environment, report.error)
        return result

    def _record(self, result: DeployResult) -> None:
        """The last deploy's result, as JSON in the master's vardir (``last-deploy.json``), for operators."""
        if self.status_file is None:
            return
        try:
            self.status_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.status_file.with_name(f".{self.status_file.name}.{threading.get_ident()}")
            tmp.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
            os.replace(tmp, self.status_file)
        except OSError as exc:
            log.warning("cannot record the deploy in %s: %s", self.status_file, exc.strerror or exc)

    def _deploy_one(self, name: str) -> EnvironmentReport:
        refresh = self.environments.refresh(name)
        report = EnvironmentReport(name, ok=refresh.error is None, commit=refresh.head, code_id=refresh.code_id,
                                   serving=refresh.serving, error=refresh.error)
        if refresh.lock is not None:
            for module in refresh.lock.modules:
                spec = module.spec
                report.modules.append(ModuleReport(spec.name, spec.kind, self._shown(spec.source),
                                                   f"{spec.ref_kind} {spec.ref}", module.resolved,
                                                   "fetched" if module.fetched else "cached"))
            for spec in refresh.lock.skipped:
                report.modules.append(ModuleReport(spec.name, "local", "", "", None, "skipped"))
        elif refresh.failed_module is not None:
            report.modules.append(ModuleReport(refresh.failed_module, "", "", "", None, "failed", refresh.error))
        return report

    def _shown(self, url: str) -> str:
        return _scrub(url, self.auth.secrets() if self.auth else ())

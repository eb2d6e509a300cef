"""Environments: directories under an environmentpath, or branches of a git repository.

A git environment is the branch's head commit, materialised once per commit into a cache directory
(``git archive``), so a push is served on the next request without a restart, and the commit is the
catalog's ``code_id``. A directory environment's version is a digest of its files' names, sizes and
mtimes, re-checked at most every ``environment_timeout`` seconds (it keys the catalog cache).

A commit with a ``Puppetfile`` in its root gets the modules it names (:mod:`master.puppetfile`): the
commit's tree plus those modules is materialised as ``<commit>+<modules digest>``, which is then the
environment's version and code id, so a module resolving to another commit gives a new code id. The
resolution of a commit is kept (on disk too) until a deploy resolves it again; a module that cannot be
installed leaves the environment on its last good commit, as a refused commit does.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from master.puppetfile import ModuleInstaller, ModuleLock

log = logging.getLogger(__name__)

ENV_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # fullmatch: a trailing newline is no name


class EnvError(Exception):
    """No such environment, or it cannot be read."""


class RefusedCommit(EnvError):
    """A commit whose content the master will not serve (a link leading out of the environment ...)."""


class ModuleFailure(RefusedCommit):
    """A Puppetfile module of the commit cannot be installed (may pass: tried again on the next deploy,
    or after MODULE_RETRY_SECONDS)."""

    def __init__(self, message: str, module: str | None = None) -> None:
        super().__init__(message)
        self.module = module


#: seconds a commit whose Puppetfile modules failed is not tried again by requests (a deploy tries at once)
MODULE_RETRY_SECONDS = 60.0


class Refresh(NamedTuple):
    """What :meth:`Environments.refresh` did for one environment (for a deploy's report)."""

    head: str | None               # the branch head
    code_id: str | None            # the head's code id when it can be served
    lock: ModuleLock | None        # the head's Puppetfile modules, as resolved now
    error: str | None              # why the head cannot be served
    failed_module: str | None      # the Puppetfile module that failed, if that is why
    serving: str | None            # what the environment is served at now


#: How far back on a branch a restarted master looks for the newest commit it can serve, when the head
#: is refused and it has not served that environment since it started.
FALLBACK_DEPTH = 20


@dataclass(frozen=True, slots=True)
class EnvProblem:
    """Why an environment's branch head is not served, and what is served instead (for operators)."""

    environment: str
    commit: str            # the refused head
    message: str           # one line: "environment production at commit abc123: symlink ... points outside"
    serving: str | None    # the last good commit agents get meanwhile, if there is one
    since: float           # time.time() when the master first refused it


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    path: Path
    version: str            # keys caches: the commit for git, a content digest for a directory
    code_id: str | None     # what the catalog carries: the commit for git environments

    @property
    def modules(self) -> Path:
        return self.path / "modules"

    def modulepath(self) -> list[Path]:
        paths = [self.path / "modules"]
        if (self.path / "site-modules").is_dir():
            paths.append(self.path / "site-modules")
        return paths


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            try:
                st = os.stat(p)
            except OSError:
                continue
            h.update(f"{os.path.relpath(p, root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


class Environments:
    """Resolve an environment name (or a name at a git revision) to an :class:`Environment`."""

    def __init__(self, *, environmentpath: Path | None = None, git_repo: str | None = None,
                 cache_dir: Path | None = None, timeout: float = 2.0, git_poll_seconds: float = 2.0,
                 modules: ModuleInstaller | None = None) -> None:
        self.environmentpath = environmentpath
        self.git_repo = git_repo
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "bunraku-envs"
        self.timeout = timeout
        self.git_poll_seconds = git_poll_seconds
        self._lock = threading.Lock()
        self._dir_versions: dict[str, tuple[float, str]] = {}
        self._heads: dict[str, tuple[float, str]] = {}
        self._materialising: dict[str, threading.Lock] = {}
        #: commit -> why its content is refused; a refused commit is never extracted again
        self._refused: dict[str, str] = {}
        #: environment -> the newest commit served from its branch
        self._last_good: dict[str, str] = {}
        self._problems: dict[str, EnvProblem] = {}
        #: Puppetfile modules: the installer, commit -> its code id (commit+digest), commit -> failure
        self.modules = modules
        self._module_ids: dict[str, str] = {}
        self._module_failures: dict[str, tuple[float, str, str | None]] = {}
        #: set by master.deploy.Deployer: fetches and deploys on demand
        self.deployer: Any = None

    def get(self, name: str) -> Environment:
        if not ENV_NAME_RE.fullmatch(name):
            raise EnvError(f"environment name {name!r} is not valid")
        if self.git_repo:
            commit = self._branch_head(name)
            if commit is not None:
                return self._branch_environment(name, commit)
        if self.environmentpath is not None:
            path = self.environmentpath / name
            if path.is_dir():
                return Environment(name, path, self._dir_version(name, path), None)
        raise EnvError(f"no environment named {name!r}")

    def at_revision(self, name: str, rev: str) -> Environment:
        """The environment ``name`` at a git revision (commit, tag, branch, ``HEAD~1`` ...)."""
        if not self.git_repo:
            raise EnvError("revisions need a git-backed environment (set git.repo)")
        if rev.startswith("-"):
            raise EnvError(f"revision {rev!r} is not valid")
        out = self._git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if not out:
            # a revision relative to the environment's branch, e.g. "production~1"
            raise EnvError(f"unknown revision {rev!r} in {self.git_repo}")
        return self._at_commit(name, out)

    def is_git(self, name: str) -> bool:
        """Whether ``name`` is a branch of the git repository (so it has releases)."""
        return bool(self.git_repo) and ENV_NAME_RE.fullmatch(name) is not None and self._branch_head(name) is not None

    def resolve(self, name: str, rev: str) -> str:
        """The full commit id of ``rev`` in environment ``name``'s repository: a branch name or a commit
        (abbreviated or full; tags too). Unknown revisions are refused with a one-line EnvError."""
        if not self.is_git(name):
            raise EnvError(f"environment {name!r} is not a branch of a git repository; releases need one")
        rev = rev.strip()
        if not rev or rev.startswith("-") or any(c.isspace() for c in rev):
            raise EnvError(f"revision {rev!r} is not valid")
        rev, plus, digest = rev.partition("+")  # a code id given out before: the commit with its modules
        if plus:
            if not re.fullmatch(r"[0-9a-f]{12}", digest) or not re.fullmatch(r"[0-9a-f]{40}", rev):
                raise EnvError(f"revision {rev}+{digest} is not valid")
            return self._at_commit(name, f"{rev}+{digest}").code_id or rev
        branch = self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{rev}^{{commit}}", check=False)
        commit = branch or self._git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if not commit:
            raise EnvError(f"unknown revision {rev!r}: not a branch or commit of {self.git_repo}")
        if self.modules is not None:  # a release is the commit with its Puppetfile modules
            return self._at_commit(name, commit).code_id or commit
        return commit

    def at_commit(self, name: str, commit: str) -> Environment:
        """Environment ``name`` at a full commit id (as :meth:`resolve` returns). A commit whose content
        is refused raises :class:`RefusedCommit` (from a cache: it is never extracted twice)."""
        return self._at_commit(name, commit)

    def deploy(self, environment: str | None = None) -> Any:
        """Fetch now and resolve the Puppetfile of ``environment``'s (or every branch's) new head: the
        :class:`master.deploy.DeployResult` (``.to_dict()`` is its JSON)."""
        if self.deployer is None:
            raise EnvError("deploys need a git repository (set git_repo or git_remote)")
        return self.deployer.deploy(environment)

    def branches(self) -> list[str]:
        """The git repository's branches that are valid environment names."""
        if not self.git_repo:
            return []
        out = self._git("for-each-ref", "--format=%(refname:short)", "refs/heads/", check=False)
        return sorted(b for b in out.splitlines() if ENV_NAME_RE.fullmatch(b))

    def forget_heads(self) -> None:
        """Read the branch heads again on the next request (after a fetch)."""
        self._heads.clear()

    def forget(self, name: str | None = None) -> None:
        """Check ``name`` (None: every environment) again on the next request: its branch head, or its
        directory's content (another master deployed new code)."""
        if name is None:
            self._heads.clear()
            self._dir_versions.clear()
        else:
            self._heads.pop(name, None)
            self._dir_versions.pop(name, None)

    def refresh(self, name: str) -> Refresh:
        """Resolve ``name``'s branch head again, its Puppetfile modules too (branches move), and say what
        is served now. Never raises for what a push can cause."""
        self._heads.pop(name, None)
        head = self._branch_head(name) if ENV_NAME_RE.fullmatch(name) else None
        if head is None:
            return Refresh(None, None, None, f"environment {name}: no branch named {name!r}", None, None)
        code_id = error = failed = None
        lock = None
        try:
            source = self._at_commit_tree(name, head)
            if self.modules is not None and (source / "Puppetfile").is_file():
                code_id, lock = self._resolve_modules(name, head, source, force=True)
            else:
                code_id = head
        except ModuleFailure as exc:
            error, failed = str(exc), exc.module
        except EnvError as exc:
            error = str(exc)
        try:
            serving: str | None = self.get(name).code_id
        except EnvError as exc:
            serving = None
            error = error or str(exc)
        return Refresh(head, code_id, lock, error, failed, serving)

    def problems(self) -> list[EnvProblem]:
        """Environments whose branch head is refused, for the dashboard and ``bunraku nodes``."""
        with self._lock:
            return sorted(self._problems.values(), key=lambda p: p.environment)

    def problem(self, name: str) -> EnvProblem | None:
        with self._lock:
            return self._problems.get(name)

    # -- directories -----------------------------------------------------------------------------------
    def _dir_version(self, name: str, path: Path) -> str:
        now = time.monotonic()
        cached = self._dir_versions.get(name)
        if cached is not None and now - cached[0] < self.timeout:
            return cached[1]
        version = _tree_digest(path)
        self._dir_versions[name] = (now, version)
        return version

    # -- git ---------------------------------------------------------------------------------------------
    def _git(self, *args: str, check: bool = True) -> str:
        assert self.git_repo is not None
        proc = subprocess.run(["git", "--git-dir", self._git_dir(), *args], capture_output=True,
                              timeout=60, check=False)
        if proc.returncode != 0:
            if check:
                raise EnvError(f"git {args[0]} failed: "
                                        f"{proc.stderr.decode('utf-8', 'replace').strip().splitlines()[-1:]}")
            return ""
        return proc.stdout.decode("utf-8", "replace").strip()

    def _git_dir(self) -> str:
        assert self.git_repo is not None
        repo = Path(self.git_repo)
        return str(repo / ".git") if (repo / ".git").is_dir() else str(repo)

    def _branch_head(self, branch: str) -> str | None:
        now = time.monotonic()
        cached = self._heads.get(branch)
        if cached is not None and now - cached[0] < self.git_poll_seconds:
            return cached[1] or None
        head = self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
        self._heads[branch] = (now, head)
        return head or None

    def _branch_environment(self, name: str, head: str) -> Environment:
        """The branch head of ``name``; when its content is refused, the last good commit instead, so one
        bad push does not take the environment away from every node."""
        try:
            env = self._at_commit(name, head)
        except RefusedCommit as exc:
            with self._lock:
                known = self._problems.get(name)
            if known is not None and known.commit == head:
                serving = known.serving  # decided when the head was first refused: no git per request
            else:
                serving = self._fallback(name, head)
                with self._lock:
                    self._problems[name] = EnvProblem(name, head, str(exc), serving, time.time())
                log.error("%s; serving %s", exc, f"commit {serving[:12]} meanwhile" if serving
                          else "nothing: no earlier commit of the branch can be served")
            if serving is None:
                raise
            return self._at_commit(name, serving)
        with self._lock:
            self._last_good[name] = head
            fixed = self._problems.pop(name, None)
        if fixed is not None:
            log.info("environment %s is served at its branch head %s again", name, head[:12])
        return env

    def _fallback(self, name: str, refused: str) -> str | None:
        """The commit to serve while the head ``refused`` cannot be: the last one served, else (after a
        restart) the newest first-parent ancestor whose content is accepted."""
        with self._lock:
            last = self._last_good.get(name)
        if last is not None and last not in self._refused:
            return last
        history = self._git("rev-list", "--first-parent", f"--max-count={FALLBACK_DEPTH + 1}", refused,
                            check=False).split()
        for commit in history[1:]:
            try:
                self._at_commit(name, commit)
            except RefusedCommit:
                continue
            with self._lock:
                self._last_good.setdefault(name, commit)
            return commit
        return None

    def _at_commit(self, name: str, commit: str) -> Environment:
        """``commit`` is a commit id, or a code id ``<commit>+<modules digest>`` given out before."""
        base, _, digest = commit.partition("+")
        target = self._at_commit_tree(name, base)
        if digest:
            if "/" in digest or not (self.cache_dir / commit).is_dir():
                self._release_modules(name, commit, base, target)
            return Environment(name, self.cache_dir / commit, commit, commit)
        if self.modules is None or not (target / "Puppetfile").is_file():
            return Environment(name, target, base, base)
        code_id = self._module_ids.get(base) or self._recorded_modules(base)
        if code_id is None:
            code_id, _ = self._resolve_modules(name, base, target, force=False)
        return Environment(name, self.cache_dir / code_id, code_id, code_id)

    def _release_modules(self, name: str, code_id: str, base: str, source: Path) -> None:
        """Make the release ``code_id`` (a commit with the modules it had on some master) here: resolving
        the commit's Puppetfile now gives the same modules unless one follows a branch that moved since."""
        if "/" not in code_id and self.modules is not None and (source / "Puppetfile").is_file():
            failed = self._module_failures.get(code_id)  # a miss is remembered: no network per request
            if failed is not None and time.monotonic() - failed[0] < MODULE_RETRY_SECONDS:
                raise EnvError(failed[1])
            now, _ = self._resolve_modules(name, base, source, force=False)
            if now != code_id and not (self.cache_dir / code_id).is_dir():
                now, _ = self._resolve_modules(name, base, source, force=True)
            if now == code_id or (self.cache_dir / code_id).is_dir():
                return
            message = (f"environment {name}: release {code_id} has Puppetfile modules that now resolve "
                       f"differently (to {now}); pin them (tag:, commit:, a version) or roll out {now}")
            self._module_failures[code_id] = (time.monotonic(), message, None)
            raise EnvError(message)
        raise EnvError(f"environment {name}: {code_id!r} is not a release of this environment")

    def _recorded_modules(self, base: str) -> str | None:
        """The code id a commit's modules last resolved to, as recorded on disk (a restarted master)."""
        try:
            code_id = (self.cache_dir / f"{base}.modules").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        if not code_id.startswith(base + "+") or "/" in code_id or not (self.cache_dir / code_id).is_dir():
            return None
        with self._lock:
            self._module_ids.setdefault(base, code_id)
        return code_id

    def _resolve_modules(self, name: str, base: str, source: Path, *, force: bool) -> tuple[str, ModuleLock]:
        """Resolve and install the Puppetfile modules of commit ``base``: its code id and the lock. A module
        that fails raises :class:`ModuleFailure` (remembered MODULE_RETRY_SECONDS unless ``force``)."""
        from master.puppetfile import ModuleError, PuppetfileError, install, parse

        assert self.modules is not None
        failed = self._module_failures.get(base)
        if failed is not None and not force and time.monotonic() - failed[0] < MODULE_RETRY_SECONDS:
            raise ModuleFailure(failed[1], failed[2])
        with self._lock:
            lock = self._materialising.setdefault(f"modules:{base}", threading.Lock())
        with lock:
            if not force and base in self._module_ids:
                return self._module_ids[base], _no_lock()
            try:
                specs = parse((source / "Puppetfile").read_text(encoding="utf-8", errors="replace"), "Puppetfile")
            except PuppetfileError as exc:  # the content decides: never tried again
                self._refused[base] = str(exc)
                raise RefusedCommit(f"environment {name} at commit {base[:12]}: {exc}") from None
            try:
                resolved = self.modules.resolve(specs)
                code_id = f"{base}+{resolved.digest}"
                if not (self.cache_dir / code_id).is_dir():
                    install(resolved, source, self.cache_dir / code_id)
            except ModuleError as exc:
                message = f"environment {name} at commit {base[:12]}: {exc}"
                self._module_failures[base] = (time.monotonic(), message, exc.module)
                raise ModuleFailure(message, exc.module) from None
            self._module_failures.pop(base, None)
            try:
                marker = self.cache_dir / f".{base}.modules.tmp"
                marker.write_text(code_id + "\n", encoding="utf-8")
                os.replace(marker, self.cache_dir / f"{base}.modules")
            except OSError as exc:
                log.warning("cannot record the modules of commit %s: %s", base[:12], exc.strerror or exc)
            with self._lock:
                previous = self._module_ids.get(base)
                self._module_ids[base] = code_id
            if previous is not None and previous != code_id:
                log.info("environment %s at commit %s: Puppetfile modules changed, code id %s", name, base[:12],
                         code_id)
            return code_id, resolved

    def _at_commit_tree(self, name: str, commit: str) -> Path:
        """The commit's own tree, materialised (without Puppetfile modules)."""
        if not commit or "/" in commit or commit.startswith("."):
            raise EnvError(f"environment {name}: {commit!r} is not a commit")
        reason = self._refused.get(commit)
        if reason is not None:
            raise RefusedCommit(f"environment {name} at commit {commit[:12]}: {reason}")
        target = self.cache_dir / commit
        if not target.is_dir():
            with self._lock:
                lock = self._materialising.setdefault(commit, threading.Lock())
            with lock:
                if commit in self._refused:
                    return self._at_commit_tree(name, commit)
                if not target.is_dir():
                    try:
                        self._materialise(commit, target)
                    except tarfile.FilterError as exc:
                        # The content decides, so the answer never changes: remember it, never extract again.
                        self._refused[commit] = _refusal(exc)
                        return self._at_commit_tree(name, commit)
        return target

    def _materialise(self, commit: str, target: Path) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["git", "--git-dir", self._git_dir(), "archive", "--format=tar", commit],
                              capture_output=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise EnvError(f"git archive {commit} failed: {proc.stderr.decode(errors='replace').strip()}")
        tmp = Path(tempfile.mkdtemp(prefix=f".{commit[:12]}.", dir=self.cache_dir))
        try:
            with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
                tar.extractall(tmp, filter="data")
            os.replace(tmp, target)
        except tarfile.FilterError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        except OSError as exc:  # disk full, permissions: may pass, so not remembered
            shutil.rmtree(tmp, ignore_errors=True)
            raise EnvError(f"cannot extract commit {commit[:12]} into {self.cache_dir}: "
                           f"{exc.strerror or exc}") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("materialised commit %s into %s", commit, target)


def _no_lock() -> ModuleLock:
    from master.puppetfile import ModuleLock

    return ModuleLock()


def _refusal(exc: tarfile.FilterError) -> str:
    """Why a commit's archive member was refused, in the environment's own terms."""
    member = exc.tarinfo
    name = member.name
    if isinstance(exc, (tarfile.AbsoluteLinkError, tarfile.LinkOutsideDestinationError)):
        kind = "symlink" if member.issym() else "hard link"
        return f"{kind} {name} points outside the environment"
    if isinstance(exc, (tarfile.AbsolutePathError, tarfile.OutsideDestinationError)):
        return f"{name} would be written outside the environment"
    if isinstance(exc, tarfile.SpecialFileError):
        return f"{name} is a special file"
    return f"{name}: {exc}"

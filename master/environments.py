"""Environments: directories under an environmentpath, or branches of a git repository.

A git environment is the branch's head commit, materialised once per commit into a cache directory
(``git archive``), so a push is served on the next request without a restart, and the commit is the
catalog's ``code_id``. A directory environment's version is a digest of its files' names, sizes and
mtimes, re-checked at most every ``environment_timeout`` seconds (it keys the catalog cache).
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

log = logging.getLogger(__name__)

ENV_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")  # fullmatch: a trailing newline is no name


class EnvError(Exception):
    """No such environment, or it cannot be read."""


class RefusedCommit(EnvError):
    """A commit whose content the master will not serve (a link leading out of the environment ...)."""


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
                 cache_dir: Path | None = None, timeout: float = 2.0, git_poll_seconds: float = 2.0) -> None:
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
        branch = self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{rev}^{{commit}}", check=False)
        commit = branch or self._git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
        if not commit:
            raise EnvError(f"unknown revision {rev!r}: not a branch or commit of {self.git_repo}")
        return commit

    def at_commit(self, name: str, commit: str) -> Environment:
        """Environment ``name`` at a full commit id (as :meth:`resolve` returns). A commit whose content
        is refused raises :class:`RefusedCommit` (from a cache: it is never extracted twice)."""
        return self._at_commit(name, commit)

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
        reason = self._refused.get(commit)
        if reason is not None:
            raise RefusedCommit(f"environment {name} at commit {commit[:12]}: {reason}")
        target = self.cache_dir / commit
        if not target.is_dir():
            with self._lock:
                lock = self._materialising.setdefault(commit, threading.Lock())
            with lock:
                if commit in self._refused:
                    return self._at_commit(name, commit)
                if not target.is_dir():
                    try:
                        self._materialise(commit, target)
                    except tarfile.FilterError as exc:
                        # The content decides, so the answer never changes: remember it, never extract again.
                        self._refused[commit] = _refusal(exc)
                        return self._at_commit(name, commit)
        return Environment(name, target, commit, commit)

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

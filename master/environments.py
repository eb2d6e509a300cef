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

ENV_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class EnvError(Exception):
    """No such environment, or it cannot be read."""


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

    def get(self, name: str) -> Environment:
        if not ENV_NAME_RE.match(name):
            raise EnvError(f"environment name {name!r} is not valid")
        if self.git_repo:
            commit = self._branch_head(name)
            if commit is not None:
                return self._at_commit(name, commit)
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
        return bool(self.git_repo) and ENV_NAME_RE.match(name) is not None and self._branch_head(name) is not None

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
        """Environment ``name`` at a full commit id (as :meth:`resolve` returns)."""
        return self._at_commit(name, commit)

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

    def _at_commit(self, name: str, commit: str) -> Environment:
        target = self.cache_dir / commit
        if not target.is_dir():
            with self._lock:
                lock = self._materialising.setdefault(commit, threading.Lock())
            with lock:
                if not target.is_dir():
                    self._materialise(commit, target)
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
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("materialised commit %s into %s", commit, target)

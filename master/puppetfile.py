"""Puppetfile modules: parse an environment's ``Puppetfile`` and install the modules it names.

The format is r10k's, the part of it teams use::

    forge 'https://forge.example.com'          # accepted; the master's forge_url decides
    mod 'puppetlabs-stdlib', '9.4.1'           # a Forge-style release tarball
    mod 'apache', git: 'https://git.example.com/apache.git', tag: 'v2.1.0'
    mod 'ntp', :git => 'ssh://git@git.example.com/ntp.git', :branch => 'main'
    mod 'site', :local => true                  # kept in the control repository: skipped

A git module is resolved to a commit (``ref``, ``tag``, ``branch`` or ``commit``), a Forge module to
its pinned version; each resolved module is kept once in a cache keyed by (URL, commit) or (name,
version), so a module that did not change is never fetched again. What a resolution produced (the
*lock*) has a digest; the environment's code id carries it, so a module moving to another commit gives
the environment a new code id and catalogs are compiled again.
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
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

#: bytes a Forge tarball may have (compressed), bytes its files may add up to, and members it may have
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_MEMBERS = 20_000
NETWORK_TIMEOUT = 120

_MODULE_DIR_RE = re.compile(r"[a-z][a-z0-9_]*")
_AUTHOR_RE = re.compile(r"[A-Za-z0-9]+")
_VERSION_RE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.-]+)?")
_HEX_RE = re.compile(r"[0-9a-f]{7,40}")
_GIT_REF_KEYS = ("ref", "tag", "branch", "commit")


class PuppetfileError(Exception):
    """The Puppetfile cannot be read (one line naming the file and line)."""


class ModuleError(Exception):
    """One module cannot be installed (one line naming the module and the reason)."""

    def __init__(self, message: str, module: str | None = None) -> None:
        super().__init__(message)
        self.module = module


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    """One ``mod`` line."""

    name: str              # as written: 'author-name', 'author/name' or 'name'
    line: int
    kind: str              # "git" | "forge" | "local"
    source: str = ""       # git URL; for forge the release 'author-name'
    ref_kind: str = ""     # git: ref | tag | branch | commit; forge: "version"
    ref: str = ""          # what to resolve (a version for forge)

    @property
    def directory(self) -> str:
        """The module's directory under ``modules/``: the name after its author."""
        return re.split(r"[-/]", self.name)[-1]


@dataclass(frozen=True, slots=True)
class ResolvedModule:
    spec: ModuleSpec
    resolved: str          # the commit of a git module, the version of a Forge module
    tree: Path             # the module's files in the cache
    fetched: bool          # fetched now (False: came from the cache)

    def key(self) -> str:
        return f"{self.spec.directory}\0{self.spec.kind}\0{self.spec.source}\0{self.resolved}"


@dataclass(slots=True)
class ModuleLock:
    """The modules a Puppetfile resolved to; ``digest`` is part of the environment's code id."""

    modules: list[ResolvedModule] = field(default_factory=list)
    skipped: list[ModuleSpec] = field(default_factory=list)  # :local => true

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for m in sorted(self.modules, key=lambda m: m.spec.directory):
            h.update(m.key().encode() + b"\n")
        return h.hexdigest()[:12]


# -- parsing --------------------------------------------------------------------------------------------
_TOKEN_RE = re.compile(r"""
    \s*(?:
      (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<key>[A-Za-z_][A-Za-z0-9_]*):(?!:)
    | (?P<sym>:[A-Za-z_][A-Za-z0-9_]*)
    | (?P<arrow>=>)
    | (?P<comma>,)
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""", re.VERBOSE)


def _tokens(text: str, where: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            raise PuppetfileError(f"{where}: cannot read {text[pos:].strip()[:40]!r}: expected "
                                  f"mod 'NAME', 'VERSION' or mod 'NAME', git: 'URL', tag|branch|ref|commit: 'X'")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "sym":
            value = value[1:]
        out.append((kind, value))
        pos = m.end()
    return out


def _strip_comment(line: str) -> str:
    quote = ""
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "#":
            return line[:i]
    return line


def parse(text: str, filename: str = "Puppetfile") -> list[ModuleSpec]:
    """The modules ``text`` names. Anything else is one :class:`PuppetfileError` naming file and line."""
    statements: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).strip()
        if pending is not None:
            pending = (pending[0], pending[1] + " " + line)
        elif line:
            pending = (number, line)
        if pending is not None and not pending[1].endswith(","):
            statements.append(pending)
            pending = None
    if pending is not None:
        statements.append(pending)
    specs: list[ModuleSpec] = []
    seen: dict[str, int] = {}
    for number, statement in statements:
        where = f"{filename}:{number}"
        tokens = _tokens(statement, where)
        head = tokens[0]
        if head == ("word", "forge"):
            if len(tokens) != 2 or tokens[1][0] != "str":
                raise PuppetfileError(f"{where}: forge takes one quoted URL")
            continue  # the master's forge_url setting decides where releases come from
        if head != ("word", "mod"):
            raise PuppetfileError(f"{where}: unknown statement {head[1]!r}: a Puppetfile here holds only "
                                  f"'mod' (and 'forge') lines")
        spec = _mod(tokens[1:], number, where)
        if spec.directory in seen:
            raise PuppetfileError(f"{where}: module {spec.directory} is already named on line {seen[spec.directory]}")
        seen[spec.directory] = number
        specs.append(spec)
    return specs


def _mod(tokens: list[tuple[str, str]], number: int, where: str) -> ModuleSpec:
    if not tokens or tokens[0][0] != "str":
        raise PuppetfileError(f"{where}: mod needs a quoted module name")
    name = tokens[0][1]
    args = tokens[1:]
    directory = re.split(r"[-/]", name)[-1]
    if not _MODULE_DIR_RE.fullmatch(directory):
        raise PuppetfileError(f"{where}: {name!r} is not a module name (lower-case letters, digits, _)")
    version: str | None = None
    options: dict[str, str] = {}
    i = 0
    while i < len(args):
        if args[i][0] != "comma":
            raise PuppetfileError(f"{where}: expected ',' before {args[i][1]!r}")
        i += 1
        if i < len(args) and args[i][0] == "str" and not options and version is None:
            version = args[i][1]
            i += 1
            continue
        if i < len(args) and args[i][0] == "sym" and args[i][1] == "latest" and not options:
            raise PuppetfileError(f"{where}: module {name}: pin a version ('1.2.3'); :latest is not supported")
        if i + 1 < len(args) and args[i][0] == "key":
            key, value = args[i][1], args[i + 1]
            i += 2
        elif i + 2 < len(args) and args[i][0] == "sym" and args[i + 1][0] == "arrow":
            key, value = args[i][1], args[i + 2]
            i += 3
        else:
            raise PuppetfileError(f"{where}: module {name}: expected KEY: 'VALUE' or :KEY => 'VALUE'")
        if key in options:
            raise PuppetfileError(f"{where}: module {name}: {key} given twice")
        if key == "local" and value in (("word", "true"), ("word", "false")):
            options[key] = value[1]
        elif value[0] == "str":
            options[key] = value[1]
        else:
            raise PuppetfileError(f"{where}: module {name}: {key} needs a quoted value")
    if version is not None and options:
        raise PuppetfileError(f"{where}: module {name}: give a version or git options, not both")
    if options.get("local") == "true" and set(options) == {"local"}:
        return ModuleSpec(name, number, "local")
    if "git" in options:
        unknown = sorted(set(options) - {"git", *_GIT_REF_KEYS})
        if unknown:
            raise PuppetfileError(f"{where}: module {name}: unknown option(s) {', '.join(unknown)} "
                                  f"(git modules take ref, tag, branch or commit)")
        refs = [k for k in _GIT_REF_KEYS if k in options]
        if len(refs) > 1:
            raise PuppetfileError(f"{where}: module {name}: give one of ref, tag, branch, commit")
        url = options["git"]
        if not url or url.startswith("-"):
            raise PuppetfileError(f"{where}: module {name}: {url!r} is not a git URL")
        ref_kind = refs[0] if refs else "branch"
        ref = options[ref_kind] if refs else "HEAD"
        if not ref or ref.startswith("-") or any(c.isspace() for c in ref) or ".." in ref:
            raise PuppetfileError(f"{where}: module {name}: {ref_kind} {ref!r} is not valid")
        if ref_kind == "commit" and not _HEX_RE.fullmatch(ref):
            raise PuppetfileError(f"{where}: module {name}: commit {ref!r} is not a commit id")
        return ModuleSpec(name, number, "git", url, ref_kind, ref)
    if options:
        raise PuppetfileError(f"{where}: module {name}: unknown option(s) {', '.join(sorted(options))} "
                              f"(a module takes a version, git: 'URL', or :local => true)")
    if version is None:
        raise PuppetfileError(f"{where}: module {name}: pin a version, e.g. mod '{name}', '1.2.3'")
    author, sep, _ = name.replace("/", "-").rpartition("-")
    if not sep or not _AUTHOR_RE.fullmatch(author):
        raise PuppetfileError(f"{where}: module {name}: a Forge module is named 'author-name'")
    if not _VERSION_RE.fullmatch(version):
        raise PuppetfileError(f"{where}: module {name}: version {version!r} is not X.Y.Z")
    return ModuleSpec(name, number, "forge", f"{author}-{directory}", "version", version)


# -- installing -----------------------------------------------------------------------------------------
class ModuleInstaller:
    """Resolves Puppetfile modules into a cache under the master's vardir.

    ``git_env`` is the environment git runs with (credentials through GIT_ASKPASS / GIT_SSH_COMMAND,
    never in argv); ``forge_url`` the base URL of Forge-style release tarballs."""

    def __init__(self, cache_dir: Path, *, forge_url: str | None = None,
                 git_env: Mapping[str, str] | None = None, scrub: tuple[str, ...] = ()) -> None:
        self.cache_dir = cache_dir
        self.forge_url = forge_url.rstrip("/") if forge_url else None
        self.git_env = dict(git_env or {})
        self.scrub = scrub
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def resolve(self, specs: list[ModuleSpec]) -> ModuleLock:
        """Every module of ``specs`` resolved and in the cache; the first failing one raises
        :class:`ModuleError` naming the module and the reason."""
        lock = ModuleLock()
        for spec in specs:
            if spec.kind == "local":
                lock.skipped.append(spec)
                continue
            try:
                lock.modules.append(self._git(spec) if spec.kind == "git" else self._forge(spec))
            except ModuleError as exc:
                raise ModuleError(f"Puppetfile module {spec.name} (line {spec.line}): {self._clean(str(exc))}",
                                  spec.name) from None
            except subprocess.TimeoutExpired as exc:
                raise ModuleError(f"Puppetfile module {spec.name} (line {spec.line}): git took longer than "
                                  f"{exc.timeout:g}s", spec.name) from None
            except OSError as exc:
                raise ModuleError(f"Puppetfile module {spec.name} (line {spec.line}): {exc.strerror or exc}",
                                  spec.name) from None
        return lock

    def _clean(self, text: str) -> str:
        for secret in self.scrub:
            if secret:
                text = text.replace(secret, "***")
        return re.sub(r"(://)[^/@\s]+@", r"\1***@", text)

    def _keyed_lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    # git modules ---------------------------------------------------------------------------------------
    def _run_git(self, *args: str, git_dir: Path | None = None, timeout: float = NETWORK_TIMEOUT) -> str:
        argv = ["git", *(["--git-dir", str(git_dir)] if git_dir else []), *args]
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", **self.git_env}
        try:
            proc = subprocess.run(argv, capture_output=True, timeout=timeout, check=False, env=env)
        except subprocess.TimeoutExpired:
            raise ModuleError(f"git {args[0]} took longer than {timeout:g}s") from None
        if proc.returncode != 0:
            raise ModuleError(f"git {args[0]} failed: {git_reason(proc.stderr, proc.returncode)}")
        return proc.stdout.decode("utf-8", "replace").strip()

    def _git(self, spec: ModuleSpec) -> ResolvedModule:
        url_key = hashlib.sha256(spec.source.encode()).hexdigest()[:20]
        commit = self._git_commit(spec)
        tree = self.cache_dir / "git" / f"{url_key}-{commit}"
        if tree.is_dir():
            return ResolvedModule(spec, commit, tree, fetched=False)
        with self._keyed_lock(url_key):
            if tree.is_dir():
                return ResolvedModule(spec, commit, tree, fetched=False)
            repo = self.cache_dir / "git" / f"{url_key}.git"
            if not repo.is_dir():
                repo.parent.mkdir(parents=True, exist_ok=True)
                self._run_git("init", "--quiet", "--bare", str(repo))
            if not self._has(repo, commit):
                self._run_git("fetch", "--quiet", "--no-tags", spec.source,
                              "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", git_dir=repo)
                if not self._has(repo, commit):
                    raise ModuleError(f"commit {commit[:12]} is not in {spec.source}")
            full = self._run_git("rev-parse", "--verify", f"{commit}^{{commit}}", git_dir=repo, timeout=30)
            tree = self.cache_dir / "git" / f"{url_key}-{full}"
            if tree.is_dir():
                return ResolvedModule(spec, full, tree, fetched=False)
            archive = subprocess.run(["git", "--git-dir", str(repo), "archive", "--format=tar", full],
                                     capture_output=True, timeout=300, check=False)
            if archive.returncode != 0:
                raise ModuleError(f"git archive {full[:12]} failed")
            _unpack(archive.stdout, tree, strip=0)
            log.info("module %s: fetched %s at %s", spec.name, self._clean(spec.source), full[:12])
            return ResolvedModule(spec, full, tree, fetched=True)

    def _has(self, repo: Path, commit: str) -> bool:
        proc = subprocess.run(["git", "--git-dir", str(repo), "cat-file", "-e", f"{commit}^{{commit}}"],
                              capture_output=True, timeout=30, check=False)
        return proc.returncode == 0

    def _git_commit(self, spec: ModuleSpec) -> str:
        """The commit ``spec`` names now, asking the remote (``git ls-remote``) for branches and tags."""
        if spec.ref_kind == "commit":
            return spec.ref
        if spec.ref_kind == "branch" and spec.ref == "HEAD":
            patterns = ["HEAD"]
        elif spec.ref_kind == "branch":
            patterns = [f"refs/heads/{spec.ref}"]
        elif spec.ref_kind == "tag":
            patterns = [f"refs/tags/{spec.ref}"]
        else:
            patterns = [f"refs/heads/{spec.ref}", f"refs/tags/{spec.ref}"]
        peeled = [f"{p}^{{}}" for p in patterns if p.startswith("refs/tags/")]
        out = self._run_git("ls-remote", spec.source, *patterns, *peeled)
        refs: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            refs[ref] = sha
        for pattern in patterns:
            # an annotated tag: the commit it points at
            found = refs.get(f"{pattern}^{{}}") or refs.get(pattern)
            if found:
                return found
        if spec.ref_kind == "ref" and _HEX_RE.fullmatch(spec.ref):
            return spec.ref
        raise ModuleError(f"no {spec.ref_kind} {spec.ref!r} in {spec.source}")

    # Forge modules -------------------------------------------------------------------------------------
    def _forge(self, spec: ModuleSpec) -> ResolvedModule:
        release = f"{spec.source}-{spec.ref}"
        tree = self.cache_dir / "forge" / release
        if tree.is_dir():
            return ResolvedModule(spec, spec.ref, tree, fetched=False)
        if not self.forge_url:
            raise ModuleError("a Forge module needs the forge_url setting (the base URL of release tarballs)")
        url = f"{self.forge_url}/v3/files/{release}.tar.gz"
        with self._keyed_lock(release):
            if tree.is_dir():
                return ResolvedModule(spec, spec.ref, tree, fetched=False)
            data = _download(url)
            _unpack(data, tree, strip=1)
            log.info("module %s: fetched release %s from %s", spec.name, spec.ref, self._clean(url))
            return ResolvedModule(spec, spec.ref, tree, fetched=True)


def git_reason(stderr: bytes, returncode: int) -> str:
    """The line of git's error output that says why (its first ``fatal:``/``error:`` line)."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    if any("askpass" in line or "could not read Username" in line for line in lines):
        return ("the server asks for credentials and the master has none for this host (git_credentials "
                "are given only to the host of git_remote)")
    for line in lines:
        for prefix in ("fatal: ", "error: "):
            if line.startswith(prefix):
                return line.removeprefix(prefix)
    return lines[-1] if lines else f"exit status {returncode}"


def _download(url: str) -> bytes:
    if not url.startswith(("https://", "http://")):
        raise ModuleError(f"forge_url must be an http(s) URL, not {url.split('/v3/')[0]!r}")
    try:
        with urllib.request.urlopen(url, timeout=NETWORK_TIMEOUT) as response:  # noqa: S310 - http(s) only
            data = response.read(MAX_DOWNLOAD_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ModuleError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ModuleError(f"{url}: {reason}") from None
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise ModuleError(f"{url}: larger than {_size(MAX_DOWNLOAD_BYTES)}")
    return data


def _unpack(data: bytes, target: Path, *, strip: int) -> None:
    """Extract the tar ``data`` into ``target`` (atomically), dropping ``strip`` leading path components.
    Refused: paths outside, links leading outside, special files, too many members, too many bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        try:
            tar = tarfile.open(fileobj=io.BytesIO(data))
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ModuleError(f"not a tar archive: {exc}") from None
        with tar:
            members = []
            total = 0
            for count, member in enumerate(tar, 1):
                if count > MAX_MEMBERS:
                    raise ModuleError(f"more than {MAX_MEMBERS} files in the archive")
                total += max(member.size, 0)
                if total > MAX_UNPACKED_BYTES:
                    raise ModuleError(f"more than {_size(MAX_UNPACKED_BYTES)} unpacked")
                name = member.name
                if name.startswith("/") or ".." in Path(name).parts:
                    raise ModuleError(f"{name} would be written outside the module")
                if (member.islnk() or member.issym()) and (
                        member.linkname.startswith("/") or not _inside(Path(name).parent / member.linkname)):
                    raise ModuleError(f"link {name} points outside the module")
                parts = Path(name).parts[strip:]
                if not parts:
                    continue
                member.name = str(Path(*parts))
                if member.islnk():
                    link_parts = Path(member.linkname).parts[strip:]
                    if not link_parts:
                        raise ModuleError(f"link {name} points outside the module")
                    member.linkname = str(Path(*link_parts))
                members.append(member)
            try:
                tar.extractall(tmp, members=members, filter="data")
            except tarfile.FilterError as exc:
                raise ModuleError(f"{exc.tarinfo.name}: {exc}") from None
            except (tarfile.TarError, EOFError) as exc:
                raise ModuleError(f"broken archive: {exc}") from None
        os.replace(tmp, target)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if target.is_dir():  # another thread unpacked the same release meanwhile
            return
        raise ModuleError(f"cannot unpack into {target.parent}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n} bytes"


def _inside(path: Path) -> bool:
    depth = 0
    for part in path.parts:
        depth += -1 if part == ".." else (0 if part in ("", ".") else 1)
        if depth < 0:
            return False
    return True


def install(lock: ModuleLock, source: Path, target: Path) -> None:
    """``target``: the environment at ``source`` with the lock's modules in its ``modules/`` (files are
    hard-linked from the caches where the file system allows). Atomic: ``target`` appears complete."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        shutil.copytree(source, tmp / "env", symlinks=True, copy_function=_link_or_copy)
        modules = tmp / "env" / "modules"
        modules.mkdir(exist_ok=True)
        for module in lock.modules:
            dest = modules / module.spec.directory
            if dest.exists() or dest.is_symlink():
                raise ModuleError(f"Puppetfile module {module.spec.name} (line {module.spec.line}): "
                                  f"modules/{module.spec.directory} is also in the repository; remove one of them",
                                  module.spec.name)
            shutil.copytree(module.tree, dest, symlinks=True, copy_function=_link_or_copy)
        os.replace(tmp / "env", target)
    except OSError as exc:
        if not target.is_dir():
            raise ModuleError(f"cannot install modules into {target.parent}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)

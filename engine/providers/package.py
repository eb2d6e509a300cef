"""Package providers: dpkg (local .deb files), apt (apt-get) and pip (into a given Python).

dpkg and apt read the installed state from ``ROOT/var/lib/dpkg/status`` directly: no subprocess
when nothing changes.

Under a target root, dpkg (``--root``) and apt-get (``-o Dir=ROOT``) are this host's tools working on
the image: dpkg runs the packages' maintainer scripts chrooted into the root itself, and apt reads only
this host's configuration, so hooks an image puts in its own ``etc/apt/apt.conf.d`` never run here.
pip, which would run the image's Python and the build steps of what it installs, runs chrooted into the
root (see :mod:`engine.spawn`). Every name reaches these tools after ``--``, and names that start with
'-' are refused by the type, so no name is ever read as an option.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
from dataclasses import dataclass
from typing import Any

from engine import preflight
from engine.debversion import compare_versions
from engine.errors import ProviderError
from engine.preflight import ANYTHING
from engine.registry import Change, Provider, provider
from engine.shell import run

log = logging.getLogger(__name__)

#: A version row of ``apt-cache policy``'s version table (the source rows under it are indented deeper).
_VERSION_ROW = re.compile(r"^ (?:\*\*\*| {3}) (\S+) -?\d+\s*$")


@dataclass(slots=True)
class DpkgState:
    status: str  # "installed" | "config-files" | other dpkg states
    version: str


def parse_dpkg_status(text: str) -> dict[str, DpkgState]:
    out: dict[str, DpkgState] = {}
    for para in text.split("\n\n"):
        name = status = version = ""
        arch = ""
        for line in para.splitlines():
            if line.startswith("Package:"):
                name = line[8:].strip()
            elif line.startswith("Status:"):
                status = line[7:].strip().split()[-1]
            elif line.startswith("Version:"):
                version = line[8:].strip()
            elif line.startswith("Architecture:"):
                arch = line[13:].strip()
        if name:
            state = DpkgState(status, version)
            out.setdefault(name, state)
            if arch:
                out[f"{name}:{arch}"] = state
    return out


def dpkg_status(ctx: Any) -> dict[str, DpkgState]:
    cached = ctx.cache.get("dpkg-status")
    if cached is None:
        try:
            with open(ctx.path("/var/lib/dpkg/status"), encoding="utf-8", errors="replace") as fh:
                cached = parse_dpkg_status(fh.read())
        except FileNotFoundError:
            cached = {}
        ctx.cache["dpkg-status"] = cached
    return cached


def _dpkg_root_args(ctx: Any) -> list[str]:
    return [] if ctx.root == "/" else [f"--root={ctx.root}"]


def _ensure_change(installed: DpkgState | None, ensure: str, available: str | None) -> Change | None:
    """Pure: the ensure change (if any) from the installed state to ``ensure``."""
    have = "absent"
    if installed is not None and installed.status == "installed":
        have = installed.version
    elif installed is not None and installed.status == "config-files":
        have = "absent" if ensure != "purged" else "config-files"
    if ensure in ("absent", "purged"):
        if have == "absent" or (ensure == "purged" and installed is None):
            return None
        return Change("ensure", have, ensure, "removed")
    if ensure == "present":
        return None if have not in ("absent", "config-files") else Change("ensure", "absent", "present", "created")
    want = available if ensure == "latest" else ensure
    if want is None:
        raise ProviderError("no version of the package is available")
    if have in ("absent", "config-files"):
        return Change("ensure", "absent", want, "created")
    if (ensure == "latest" and compare_versions(have, want) >= 0) or (ensure != "latest" and have == want):
        return None
    return Change("ensure", have, want, f"ensure changed '{have}' to '{want}'")


@provider("package", "dpkg")
class Dpkg(Provider):
    """Installs from ``source``: a .deb file, or a directory of .deb files (a local repository)."""

    __slots__ = ()

    def _debs(self) -> list[tuple[str, str]]:
        """(version, path) of the candidate .deb files for this package, highest version last."""
        source = self.params.get("source")
        if not source:
            raise ProviderError("the dpkg provider needs a source (a .deb file or a directory of them)")
        key = f"debs:{source}"
        cache = self.ctx.cache
        if key not in cache:
            files = ([os.path.join(source, f) for f in sorted(os.listdir(source)) if f.endswith(".deb")]
                     if os.path.isdir(source) else [source])
            found = []
            for f in files:
                out = run(["dpkg-deb", "-f", "--", f, "Package", "Version"]).stdout
                fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
                found.append((fields.get("Package", ""), fields.get("Version", ""), f))
            cache[key] = found
        from engine.debversion import version_key

        debs = [(v, f) for name, v, f in cache[key] if name == self.params["name"]]
        debs.sort(key=lambda d: version_key(d[0]))
        return debs

    def _available(self) -> str | None:
        if self.params["ensure"] != "latest":
            return None
        debs = self._debs()
        return debs[-1][0] if debs else None

    def check(self) -> list[Change]:
        installed = dpkg_status(self.ctx).get(self.params["name"])
        change = _ensure_change(installed, self.params["ensure"], self._available())
        return [change] if change else []

    def preflight(self, changes: list[Change]) -> str | None:
        p = self.params
        desired = changes[0].desired
        if desired in ("absent", "purged"):
            return None
        source, name = p.get("source"), p["name"]
        if not source:
            return ("the dpkg provider needs a source (a .deb file or a directory of them); set source, or "
                    "use provider apt")
        if not os.path.exists(source):
            return f"package source {source} does not exist; build or copy the .deb there, or fix source"
        versions = [v for v, _ in self._debs()]
        if not versions:
            return f"no .deb of {name} in {source}; add it there, or fix source or the package name"
        if desired != "present" and desired not in versions:
            return (f"no .deb of {name} version {desired} in {source} (there: {', '.join(versions)}); add it, "
                    "or ask for a version that is there")
        return None

    def would_create(self, changes: list[Change]) -> list[tuple[str, str]]:
        """The paths of the .deb that would be installed; anything at all when it has maintainer scripts
        (they may add accounts and files)."""
        desired = changes[0].desired if changes else None
        if desired in (None, "absent", "purged"):
            return []
        debs = self._debs()
        match = [f for v, f in debs if v == desired] or [f for _, f in debs[-1:]]
        if not match:
            return [ANYTHING]
        control = run(["dpkg-deb", "-I", "--", match[0]]).stdout
        if any(word in ("preinst", "postinst") for word in control.split()):
            return [ANYTHING]
        out: list[tuple[str, str]] = []
        for line in run(["dpkg-deb", "-c", "--", match[0]]).stdout.splitlines():
            fields = line.split(None, 5)
            if len(fields) < 6:
                continue
            member = fields[5].split(" -> ", 1)[0].split(" link to ", 1)[0]
            path = os.path.normpath("/" + member.removeprefix("./"))
            out.append(("directory" if fields[0].startswith("d") else "file", path))
        return out

    def sync(self, change: Change) -> None:
        p = self.params
        try:
            if change.desired in ("absent", "purged"):
                flag = "--purge" if change.desired == "purged" else "--remove"
                run(["dpkg", *_dpkg_root_args(self.ctx), *p["uninstall_options"], flag, "--", p["name"]])
                return
            debs = self._debs()
            if change.desired == "present":
                if not debs:
                    raise ProviderError(f"no .deb for {p['name']} in {p['source']}")
                path = debs[-1][1]
            else:
                match = [f for v, f in debs if v == change.desired]
                if not match:
                    raise ProviderError(f"no .deb of {p['name']} version {change.desired} in {p['source']}")
                path = match[0]
            run(["dpkg", *_dpkg_root_args(self.ctx), "--force-confold", *p["install_options"], "-i", "--", path])
        finally:
            self.ctx.cache.pop("dpkg-status", None)

    @classmethod
    def instances(cls, ctx: Any) -> list[tuple[str, dict[str, Any]]]:
        return [(name, {"ensure": st.version}) for name, st in sorted(dpkg_status(ctx).items())
                if st.status == "installed" and ":" not in name]


@provider("package", "apt")
class Apt(Provider):
    """apt-get; for a target root other than /, apt is pointed at ROOT's state and dpkg --root."""

    __slots__ = ()

    def _config(self) -> list[str]:
        root = self.ctx.root
        if root == "/":
            return []
        return ["-o", f"Dir={root}", "-o", f"Dir::State::status={self.ctx.path('/var/lib/dpkg/status')}",
                "-o", f"DPkg::Options::=--root={root}", "-o", "Debug::NoLocking=1",
                "-o", "APT::Sandbox::User=root"]

    def _apt_args(self) -> list[str]:
        if self.ctx.root != "/":
            os.makedirs(self.ctx.path("/var/log/apt"), exist_ok=True)
        return ["-q", "-y", "-o", "DPkg::Options::=--force-confold", *self._config()]

    def _candidate(self) -> str | None:
        out = run(["apt-cache", *self._config(), "policy", "--", self.params["name"]]).stdout
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("Candidate:"):
                value = line.split(":", 1)[1].strip()
                return None if value == "(none)" else value
        return None

    def _policy(self) -> tuple[str | None, list[str]]:
        """The candidate version and every version apt knows of the package (``apt-cache policy``)."""
        out = run(["apt-cache", *self._config(), "policy", "--", self.params["name"]]).stdout
        candidate: str | None = None
        versions: list[str] = []
        in_table = False
        for line in out.splitlines():
            text = line.strip()
            if text.startswith("Candidate:"):
                value = text.split(":", 1)[1].strip()
                candidate = None if value == "(none)" else value
            elif text.startswith("Version table:"):
                in_table = True
            elif in_table:
                row = _VERSION_ROW.match(line)  # "     2.0-1 500", " *** 1.0-1 100" (installed)
                if row:
                    versions.append(row.group(1))
        return candidate, versions

    def preflight(self, changes: list[Change]) -> str | None:
        desired = changes[0].desired
        if desired in ("absent", "purged") or preflight.plan_of(self.ctx).opaque is not None:
            return None
        name = self.params["name"]
        lists = self.ctx.path("/var/lib/apt/lists")
        try:
            has_lists = any("_Packages" in entry for entry in os.listdir(lists))
        except OSError:
            has_lists = False
        if not has_lists:
            return (f"no apt package lists in var/lib/apt/lists{preflight.where(self.ctx)}, so apt cannot "
                    f"find {name}; run apt-get update for the root (its etc/apt/sources.list names the "
                    "sources), or install from a .deb with provider dpkg and a source")
        candidate, versions = self._policy()
        if candidate is None and not versions:
            return (f"package {name} is not in the apt sources{preflight.where(self.ctx)} (apt-cache policy "
                    "shows no candidate); add a source that has it and run apt-get update, or fix the name")
        if desired not in ("present", "latest") and desired not in versions:
            return (f"version {desired} of {name} is not in the apt sources{preflight.where(self.ctx)} "
                    f"(there: {', '.join(versions) or 'none'}); ask for a version that is there")
        return None

    def would_create(self, changes: list[Change]) -> list[tuple[str, str]]:
        if changes and changes[0].desired not in ("absent", "purged"):
            return [ANYTHING]  # what a package from a repository brings is not known before it is fetched
        return []

    def check(self) -> list[Change]:
        installed = dpkg_status(self.ctx).get(self.params["name"])
        available = self._candidate() if self.params["ensure"] == "latest" else None
        change = _ensure_change(installed, self.params["ensure"], available)
        return [change] if change else []

    def sync(self, change: Change) -> None:
        p = self.params
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            if change.desired in ("absent", "purged"):
                verb = "purge" if change.desired == "purged" else "remove"
                run(["apt-get", *self._apt_args(), *p["uninstall_options"], verb, "--", p["name"]], env=env)
                return
            target = p["name"] if change.desired == "present" else f"{p['name']}={change.desired}"
            run(["apt-get", *self._apt_args(), "--allow-downgrades", *p["install_options"], "install", "--",
                 target], env=env)
        finally:
            self.ctx.cache.pop("dpkg-status", None)

    instances = Dpkg.instances


@provider("package", "pip")
class Pip(Provider):
    """pip into the Python given by ``python`` (an interpreter or a virtualenv directory). Under a target
    root other than / it runs chrooted into the root, so ``python`` and ``source`` are the root's paths."""

    __slots__ = ()

    def _python(self) -> str:
        """The interpreter as the target root sees it (under a root it runs chrooted: an image's Python
        and the build steps pip runs are the image's business, never this host's)."""
        python = self.params.get("python")
        if not python:
            raise ProviderError("the pip provider needs python => '/path/to/venv' or an interpreter")
        if os.path.isdir(self.ctx.path(python)):
            python = f"{python.rstrip('/')}/bin/python"
        if not os.access(self.ctx.path(python), os.X_OK):
            raise ProviderError(f"no Python interpreter at {python}")
        return python

    def _run(self, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(argv, check=check, root=self.ctx.root)

    def _pip(self) -> list[str]:
        import sys

        python = self._python()
        has_pip = self._run([python, "-c", "import pip"], check=False).returncode == 0
        if has_pip:
            return [python, "-m", "pip"]
        if self.ctx.root != "/":
            raise ProviderError(f"{python} in {self.ctx.root} has no pip; install pip into it")
        # The target may be a venv without pip: drive it with this interpreter's pip via --python.
        return [sys.executable, "-m", "pip", "--python", python]

    def _installed(self) -> dict[str, str]:
        key = f"pip:{self.params.get('python')}"
        if key not in self.ctx.cache:
            code = ("import importlib.metadata as m, json;"
                    "print(json.dumps({d.metadata['Name'].lower().replace('_','-'): d.version "
                    "for d in m.distributions()}))")
            self.ctx.cache[key] = json.loads(self._run([self._python(), "-c", code]).stdout)
        return self.ctx.cache[key]

    def _latest(self) -> str | None:
        args = self._pip() + ["index", "versions", "--disable-pip-version-check"]
        if self.params.get("source"):
            args += ["--no-index", "--find-links", self.params["source"]]
        proc = self._run(args + ["--", self.params["name"]], check=False)
        for line in proc.stdout.splitlines():
            if "(" in line and line.endswith(")"):
                return line.split("(", 1)[1].rstrip(")")
        return None

    def check(self) -> list[Change]:
        p = self.params
        have = self._installed().get(p["name"].lower().replace("_", "-"))
        ensure = p["ensure"]
        if ensure in ("absent", "purged"):
            return [Change("ensure", have, "absent", "removed")] if have else []
        if ensure == "present":
            return [] if have else [Change("ensure", "absent", "present", "created")]
        want = self._latest() if ensure == "latest" else ensure
        if want is None:
            raise ProviderError(f"no version of {p['name']} is available")
        if have is None:
            return [Change("ensure", "absent", want, "created")]
        if have == want:
            return []
        return [Change("ensure", have, want, f"ensure changed '{have}' to '{want}'")]

    def would_create(self, changes: list[Change]) -> list[tuple[str, str]]:
        if changes and changes[0].desired != "absent":
            return [ANYTHING]  # programs and files in the Python's tree, not listed before installing
        return []

    def sync(self, change: Change) -> None:
        p = self.params
        try:
            if change.desired == "absent":
                self._run(self._pip() + ["uninstall", "-y", *p["uninstall_options"], "--", p["name"]])
                return
            spec = p["name"] if change.desired == "present" else f"{p['name']}=={change.desired}"
            args = self._pip() + ["install", "--disable-pip-version-check", *p["install_options"]]
            if p.get("source"):
                args += ["--no-index", "--find-links", p["source"]]
            self._run(args + ["--", spec])
        finally:
            self.ctx.cache.pop(f"pip:{p.get('python')}", None)

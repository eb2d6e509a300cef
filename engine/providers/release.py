"""The ``release`` provider: download, unpack, hook, switch the ``current`` link, keep the last N.

Layout under ``path``: ``releases/<version>/`` (one per version, complete or absent: unpacked beside
it in ``.incoming/`` and renamed into place), the link ``current -> releases/<version>`` (replaced by
renaming a new link over it, so a reader sees the old version or the new one, never neither), and
``.incoming/<version>.part``, a download in progress (the next attempt carries on from its end).

A version already on disk is switched to without downloading anything: that is how a rollback works.
A failed download, unpack or ``before_switch`` leaves ``current`` as it was; a failed ``after_switch``
or ``healthcheck`` switches it back to the version it pointed to before.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tarfile
import zipfile

from engine.errors import ProviderError
from engine.registry import Change, Provider, provider
from engine.sources import ArtifactRef, fetch_artifact
from engine.spawn import run_program, shell_argv
from engine.types.release import format_of

log = logging.getLogger(__name__)

HOOK_TIMEOUT = 600.0
_HOOK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1024 * 1024):
            h.update(block)
    return h.hexdigest()


def _unpack_zip(archive: str, into: str) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            parts = [p for p in info.filename.replace("\\", "/").split("/") if p not in ("", ".")]
            if info.filename.startswith("/") or ".." in parts:
                raise ProviderError(f"the zip holds {info.filename!r}, which leaves the release's directory")
            extracted = zf.extract(info, into)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(extracted, mode)


def unpack(archive: str, filename: str, fmt: str, into: str) -> None:
    """Unpack ``archive`` (named ``filename``) into the new directory ``into`` as ``fmt`` says."""
    os.makedirs(into, mode=0o755)
    try:
        if fmt == "tar":
            with tarfile.open(archive) as tar:
                tar.extractall(into, filter="data")  # no absolute paths, no way out, no devices
        elif fmt == "zip":
            _unpack_zip(archive, into)
        else:
            dest = os.path.join(into, filename)
            shutil.copyfile(archive, dest)
            os.chmod(dest, 0o644)
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ProviderError(f"cannot unpack {filename} as {fmt}: {exc}") from None


@provider("release", "symlink")
class SymlinkRelease(Provider):
    __slots__ = ()

    # -- where things are ------------------------------------------------------------------------------
    def _base(self) -> str:
        return self.ctx.path(self.params["path"])

    def _release_dir(self, version: str) -> str:
        return os.path.join(self._base(), "releases", version)

    def current(self) -> str | None:
        """The version ``current`` points to (None: no link; the link's text when it points elsewhere)."""
        try:
            target = os.readlink(os.path.join(self._base(), "current"))
        except OSError:
            return None
        name = os.path.basename(target.rstrip("/"))
        if os.path.normpath(target) in (os.path.join("releases", name),
                                        os.path.join(self.params["path"], "releases", name)):
            return name
        return target

    # -- check / sync --------------------------------------------------------------------------------------
    def check(self) -> list[Change]:
        version = self.params["version"]
        current = self.current()
        if current == version:
            return []
        on_disk = os.path.isdir(self._release_dir(version))
        how = " (on disk: no download)" if on_disk else ""
        message = (f"version changed '{current}' to '{version}'{how}" if current is not None
                   else f"version {version} deployed{how}")
        return [Change("version", current or "absent", version, message)]

    def sync(self, change: Change) -> None:
        version = self.params["version"]
        release = self._release_dir(version)
        previous = self.current()
        if not os.path.isdir(release):
            self._install(version, release)
        self._hook("before_switch", version, previous)
        self._switch(version)
        try:
            self._hook("after_switch", version, previous)
            self._hook("healthcheck", version, previous)
        except ProviderError as exc:
            if previous is not None and os.path.isdir(self._release_dir(previous)):
                self._switch(previous)
                raise ProviderError(f"{exc}; current switched back to {previous}") from None
            raise
        self._prune(version)

    # -- steps ---------------------------------------------------------------------------------------------
    def _install(self, version: str, release: str) -> None:
        p = self.params
        base = self._base()
        incoming = os.path.join(base, ".incoming")
        for folder in (base, os.path.join(base, "releases"), incoming):
            os.makedirs(folder, mode=0o755, exist_ok=True)
        part = os.path.join(incoming, f"{version}.part")
        ref = ArtifactRef(p["app"], version, p.get("sha256") or "", p.get("size", -1), p.get("filename") or "")
        filename = fetch_artifact(self.ctx.file_sources, ref, part)
        digest = file_sha256(part)
        if ref.sha256 and digest != ref.sha256:
            os.unlink(part)
            raise ProviderError(f"artifact {ref.app} {version} arrived damaged: its sha256 is {digest[:12]}, the "
                                f"catalog says {ref.sha256[:12]}; it is downloaded again at the next run")
        staging = os.path.join(incoming, f"{version}.unpack")
        shutil.rmtree(staging, ignore_errors=True)
        fmt = format_of(filename, p["format"])
        try:
            unpack(part, filename, fmt, staging)
            self._chown(staging)
            os.rename(staging, release)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        os.unlink(part)
        log.info("release %s %s unpacked (%s, sha256 %s)", ref.app, version, fmt, digest[:12])

    def _chown(self, top: str) -> None:
        owner, group = self.params.get("owner"), self.params.get("group")
        if owner is None and group is None:
            return
        accounts = self.ctx.accounts
        uid = accounts.uid_of(owner) if owner is not None else -1
        gid = accounts.gid_of(group) if group is not None else -1
        if uid is None:
            raise ProviderError(f"owner {owner} does not exist")
        if gid is None:
            raise ProviderError(f"group {group} does not exist")
        for folder, dirs, files in os.walk(top):
            os.chown(folder, uid, gid)
            for name in dirs + files:
                os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)

    def _switch(self, version: str) -> None:
        base = self._base()
        link, temp = os.path.join(base, "current"), os.path.join(base, ".current.new")
        if os.path.isdir(link) and not os.path.islink(link):
            raise ProviderError(f"{self.params['path']}/current is a directory, not a link; move it away")
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        os.symlink(os.path.join("releases", version), temp)
        os.replace(temp, link)  # atomic: the old version or the new one, never neither
        os.utime(self._release_dir(version))  # the newest switched-to version is kept longest
        log.info("release %s: current -> releases/%s", self.params["app"], version)

    def _hook(self, key: str, version: str, previous: str | None) -> None:
        command = self.params.get(key)
        if not command:
            return
        where = os.path.join(self.params["path"], "releases", version)
        env = {"PATH": _HOOK_PATH, "RELEASE_APP": self.params["app"], "RELEASE_VERSION": version,
               "RELEASE_DIR": where, "RELEASE_PATH": self.params["path"], "RELEASE_PREVIOUS": previous or ""}
        try:
            done = run_program(self.ctx.root, shell_argv(self.ctx.root, command), cwd=where, env=env,
                               capture_output=True, text=True, timeout=HOOK_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise ProviderError(f"{key} did not finish within {HOOK_TIMEOUT:g}s") from None
        output = (done.stdout or "") + (done.stderr or "")
        if output.strip():
            self.ctx.note("info", f"{key}: {output.strip()[-2000:]}", output=True)
        if done.returncode != 0:
            last = output.strip().splitlines()[-1] if output.strip() else "no output"
            raise ProviderError(f"{key} failed (exit {done.returncode}): {last}")

    def _prune(self, version: str) -> None:
        keep = int(self.params["keep"])
        folder = os.path.join(self._base(), "releases")
        others = []
        for name in os.listdir(folder):
            full = os.path.join(folder, name)
            if name != version and os.path.isdir(full) and not os.path.islink(full):
                others.append((os.stat(full).st_mtime, name))
        for _mtime, name in sorted(others, reverse=True)[keep - 1:]:
            shutil.rmtree(os.path.join(folder, name), ignore_errors=True)
            log.info("release %s: removed old version %s", self.params["app"], name)

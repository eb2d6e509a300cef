"""The file provider (POSIX): stat-based checks, digest comparison only when sizes match, atomic
writes, backups into the local filebucket."""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
import shutil
import stat as st_
from typing import Any

from engine import preflight
from engine.errors import ProviderError
from engine.fsutil import atomic_symlink, atomic_write, is_stale_temp, temp_writer_pid
from engine.modes import desired_mode, format_mode
from engine.registry import Change, Provider, provider

log = logging.getLogger(__name__)


def _kind(st: os.stat_result | None) -> str:
    if st is None:
        return "absent"
    m = st.st_mode
    if st_.S_ISLNK(m):
        return "link"
    if st_.S_ISDIR(m):
        return "directory"
    return "file"


def checksum_of(data: bytes, algo: str) -> str:
    """``{sha256}…``; content is shown and compared with Puppet 7's default digest (sha256) when the
    ``checksum`` in force is a time or none."""
    if algo in ("mtime", "ctime", "none"):
        algo = "sha256"
    return "{" + algo + "}" + hashlib.new(algo, data).hexdigest()


#: files larger than this are not diffed (a diff of them would not be read, and costs the run time)
DIFF_MAX_INPUT = 1024 * 1024
#: a diff kept in a report is cut at this size
DIFF_MAX_TEXT = 64 * 1024


def unified_diff(old: bytes, new: bytes, path: str) -> str | None:
    """The unified diff of a file's content change, for the report (every run) and the console
    (``--show-diff``); None for binary or very large files."""
    if b"\0" in old or b"\0" in new or len(old) > DIFF_MAX_INPUT or len(new) > DIFF_MAX_INPUT:
        return None
    a = old.decode("utf-8", "replace").splitlines(keepends=True)
    b = new.decode("utf-8", "replace").splitlines(keepends=True)
    text = "".join(difflib.unified_diff(a, b, f"{path}\t(current)", f"{path}\t(desired)"))
    if len(text) > DIFF_MAX_TEXT:
        text = text[:DIFF_MAX_TEXT].rsplit("\n", 1)[0] + f"\n... (diff cut at {DIFF_MAX_TEXT // 1024} KiB)\n"
    return text or None


def _read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


@provider("file", "posix")
class PosixFile(Provider):
    __slots__ = ("path", "_source_uri", "_source_kind")

    def __init__(self, ctx: Any, title: str, params: dict[str, Any]) -> None:
        super().__init__(ctx, title, params)
        # The entry itself (a link is managed as a link), unless links => follow asks for its target;
        # either way resolved inside the target root, so a link in an image never leads to the host.
        self.path = ctx.path(params["path"], follow=params.get("links") == "follow")
        self._source_uri: str | None = None
        self._source_kind: str | None = None

    # -- helpers ------------------------------------------------------------------------------------
    def _resolve_source(self) -> None:
        sources = self.params.get("source")
        if not sources or self._source_uri is not None:
            return
        fs = self.ctx.file_sources
        for uri in sources:
            info = fs.stat(uri)
            if info is not None:
                self._source_uri = uri
                self._source_kind = info.kind
                return
        raise ProviderError(f"could not retrieve information from source(s) {', '.join(sources)}")

    def _desired_content(self) -> bytes | None:
        p = self.params
        if p.get("content") is not None:
            return p["content"]
        if p.get("source"):
            self._resolve_source()
            if self._source_kind == "file":
                assert self._source_uri is not None
                return self.ctx.file_sources.read(self._source_uri)
        return None

    def _desired_kind(self) -> str | None:
        ensure = self.params["ensure"]
        if ensure in ("file", "directory", "link"):
            return ensure
        if self.params.get("source"):
            self._resolve_source()
            return "directory" if self._source_kind == "directory" else "file"
        return None

    def _uid(self, name: str) -> int | None:
        return self.ctx.accounts.uid_of(name)

    def _gid(self, name: str) -> int | None:
        return self.ctx.accounts.gid_of(name)

    # -- check ----------------------------------------------------------------------------------------
    def check(self) -> list[Change]:
        p = self.params
        path = self.path
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            st = None
        except NotADirectoryError:
            st = None
        if st is not None and p["links"] == "follow" and st_.S_ISLNK(st.st_mode):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                pass
        current = _kind(st)
        ensure = p["ensure"]
        if ensure == "absent":
            if st is None:
                return []
            if current == "directory" and not p["force"]:
                self.ctx.note("warning", "Not removing directory; use 'force' to override")
                return []
            return [Change("ensure", current, "absent", "removed")]
        if st is None:
            if ensure is None:
                return []
            kind = self._desired_kind() or "file"
            if kind == "file":
                data = self._desired_content()
                if data is not None:
                    digest = checksum_of(data, p["checksum"])
                    return [Change("ensure", "absent", "file", f"defined content as '{digest}'",
                                   shows=("content",))]
            return [Change("ensure", "absent", kind, "created")]
        wanted = self._desired_kind()
        if ensure == "present" and not p.get("source"):
            wanted = None
        if wanted is not None and wanted != current:
            if current == "directory" and not p["force"] and wanted != "directory":
                raise ProviderError(f"could not set '{wanted}' on ensure: {p['path']} is a directory "
                                    "(use force => true to replace it)")
            return [Change("ensure", current, wanted, f"ensure changed '{current}' to '{wanted}'")]
        changes: list[Change] = []
        if current == "link":
            target = p.get("target")
            if target is not None:
                have = os.readlink(path)
                if have != target:
                    changes.append(Change("target", have, target, f"target changed '{have}' to '{target}'"))
        elif current == "file" and p["replace"]:
            change = self._check_content(st)
            if change is not None:
                changes.append(change)
        self._check_attrs(st, current, changes)
        return changes

    def _check_content(self, st: os.stat_result) -> Change | None:
        p = self.params
        algo = p["checksum"]
        if p.get("content") is None and p.get("source"):
            self._resolve_source()
            if self._source_kind != "file":
                return None
            if algo in ("mtime", "ctime"):
                assert self._source_uri is not None
                info = self.ctx.file_sources.stat(self._source_uri)
                mine = st.st_mtime if algo == "mtime" else st.st_ctime
                if info is None or mine >= info.mtime:
                    return None
                return Change("content", f"{{{algo}}}{mine}", f"{{{algo}}}{info.mtime}",
                              "content changed (source is newer)")
        data = self._desired_content()
        if data is None:
            return None
        if st.st_size == len(data):
            have = _read(self.path)
            if have == data:
                return None
        else:
            have = _read(self.path)
        old_sum, new_sum = checksum_of(have, algo), checksum_of(data, algo)
        diff = unified_diff(have, data, p["path"]) if p["show_diff"] else None
        return Change("content", old_sum, new_sum, f"content changed '{old_sum}' to '{new_sum}'", diff)

    def _check_attrs(self, st: os.stat_result, current: str, changes: list[Change]) -> None:
        p = self.params
        accounts = self.ctx.accounts
        owner = p.get("owner")
        if owner is not None:
            uid = self._uid(owner)
            if uid != st.st_uid:
                have = accounts.user_name(st.st_uid)
                changes.append(Change("owner", have, owner, f"owner changed '{have}' to '{owner}'"))
        group = p.get("group")
        if group is not None:
            gid = self._gid(group)
            if gid != st.st_gid:
                have = accounts.group_name(st.st_gid)
                changes.append(Change("group", have, group, f"group changed '{have}' to '{group}'"))
        spec = p.get("mode")
        if spec is not None and current != "link":
            have_mode = st.st_mode & 0o7777
            want = desired_mode(spec, have_mode, current == "directory")
            if want != have_mode:
                a, b = format_mode(have_mode), format_mode(want)
                changes.append(Change("mode", a, b, f"mode changed '{a}' to '{b}'"))

    # -- preflight (engine.preflight) -------------------------------------------------------------------
    def preflight(self, changes: list[Change]) -> str | None:
        p = self.params
        props = {c.property for c in changes}
        creates = any(c.property == "ensure" and c.desired != "absent" for c in changes)
        problems: list[str | None] = []
        if creates and p["path"] != "/":
            parent = os.path.dirname(p["path"])
            if not preflight.has_path(self.ctx, parent, directory=True):
                problems.append(f"cannot create {p['path']}; parent directory {parent} does not exist"
                                f"{preflight.where(self.ctx)}, and no resource before it creates it; add "
                                f"file {{ '{parent}': ensure => directory }} or create it in the root")
        if p.get("owner") is not None and (creates or "owner" in props):
            problems.append(preflight.unknown_user(self.ctx, p["owner"], "owner"))
        if p.get("group") is not None and (creates or "group" in props):
            problems.append(preflight.unknown_group(self.ctx, p["group"], "group"))
        return preflight.first(*problems)

    def would_create(self, changes: list[Change]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for c in changes:
            if c.property == "ensure" and c.desired != "absent":
                kind = c.desired if c.desired in ("directory", "link") else "file"
                out.append((kind, self.params["path"]))
        return out

    # -- sync -------------------------------------------------------------------------------------------
    def sync(self, change: Change) -> None:
        prop = change.property
        if prop == "ensure":
            self._sync_ensure(change.previous, change.desired)
        elif prop == "content":
            st = os.lstat(self.path)
            data = self._desired_content()
            assert data is not None
            self._backup()
            atomic_write(self.path, data, mode=st.st_mode & 0o7777, uid=st.st_uid, gid=st.st_gid)
        elif prop == "target":
            atomic_symlink(self.params["target"], self.path)
        elif prop == "owner":
            uid = self._uid(change.desired)
            if uid is None:
                raise ProviderError(f"could not find user {change.desired}")
            os.lchown(self.path, uid, -1)
        elif prop == "group":
            gid = self._gid(change.desired)
            if gid is None:
                raise ProviderError(f"could not find group {change.desired}")
            os.lchown(self.path, -1, gid)
        elif prop == "mode":
            os.chmod(self.path, int(change.desired, 8))

    def _ids(self) -> tuple[int | None, int | None]:
        p = self.params
        uid = gid = None
        if p.get("owner") is not None:
            uid = self._uid(p["owner"])
            if uid is None:
                raise ProviderError(f"could not find user {p['owner']}")
        if p.get("group") is not None:
            gid = self._gid(p["group"])
            if gid is None:
                raise ProviderError(f"could not find group {p['group']}")
        return uid, gid

    def _check_parent(self) -> None:
        parent = os.path.dirname(self.path)
        if not os.path.isdir(parent):
            raise ProviderError(f"cannot create {self.params['path']}; parent directory "
                                f"{os.path.dirname(self.params['path'])} does not exist")

    def _remove(self, current: str) -> None:
        if current == "directory":
            if not self.params["force"]:
                raise ProviderError(f"{self.params['path']} is a directory (use force => true to replace it)")
            shutil.rmtree(self.path)
        elif current == "file":
            self._backup()
            os.unlink(self.path)
        elif current == "link":
            os.unlink(self.path)

    def _sync_ensure(self, current: str, wanted: str) -> None:
        p = self.params
        if wanted == "absent":
            self._remove(current)
            return
        self._check_parent()
        uid, gid = self._ids()
        spec = p.get("mode")
        if wanted == "file":
            data = self._desired_content() or b""
            mode = desired_mode(spec, 0o644, False) if spec is not None else 0o644
            if current == "directory":
                self._remove(current)
            elif current == "file":
                self._backup()
            atomic_write(self.path, data, mode=mode, uid=uid, gid=gid)
        elif wanted == "directory":
            if current != "absent":
                self._remove(current)
            mode = desired_mode(spec, 0o755, True) if spec is not None else 0o755
            os.mkdir(self.path)
            os.chmod(self.path, mode)
            if uid is not None or gid is not None:
                os.chown(self.path, -1 if uid is None else uid, -1 if gid is None else gid)
        elif wanted == "link":
            if current == "directory":
                self._remove(current)
            atomic_symlink(p["target"], self.path)
            if uid is not None or gid is not None:
                os.lchown(self.path, -1 if uid is None else uid, -1 if gid is None else gid)

    def _backup(self) -> None:
        backup = self.params.get("backup")
        if not backup:
            return
        try:
            data = _read(self.path)
        except (FileNotFoundError, IsADirectoryError):
            return
        if backup.startswith("."):
            # Written like any managed file (never through an existing link at the backup's name).
            st = os.lstat(self.path)
            backup_path = self.path + backup
            atomic_write(backup_path, data, mode=st.st_mode & 0o7777, uid=st.st_uid, gid=st.st_gid)
            os.utime(backup_path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
        else:
            self.ctx.filebucket.backup(data, self.params["path"])

    # -- recursion ------------------------------------------------------------------------------------------
    def generate(self) -> list[tuple[str, str, dict[str, Any]]]:
        p = self.params
        if not p["recurse"] or p["ensure"] == "absent":
            return []
        limit = p.get("recurselimit")
        if limit is not None and limit <= 0:
            return []
        source_children: list[str] = []
        if p.get("source"):
            self._resolve_source()
            if self._source_kind != "directory":
                return []
            assert self._source_uri is not None
            source_children = self.ctx.file_sources.listdir(self._source_uri)
        listed = self.ctx.path(p["path"])  # the directory a link names, found inside the target root
        try:
            here = sorted(os.listdir(listed)) if os.path.isdir(listed) else []
        except OSError:
            here = []
        # Temp files of writes in progress are not content; stale ones are only worth purging.
        here = [name for name in here if temp_writer_pid(name) is None
                or (p["purge"] and is_stale_temp(listed, name))]
        ignore = p.get("ignore") or []
        out: list[tuple[str, str, dict[str, Any]]] = []
        names = sorted(set(source_children) | set(here)) if p.get("source") else here
        for name in names:
            if any(_glob(name, pat) for pat in ignore):
                continue
            child_path = p["path"].rstrip("/") + "/" + name
            child = dict(p)
            child["path"] = child_path
            child["recurselimit"] = None if limit is None else limit - 1
            if p.get("source"):
                if name not in source_children:
                    if not p["purge"]:
                        continue
                    child.update(ensure="absent", force=True, source=None, recurse=False)
                else:
                    assert self._source_uri is not None
                    child["source"] = [self._source_uri.rstrip("/") + "/" + name]
                    child["ensure"] = "present"
            elif p["purge"]:
                child.update(ensure="absent", force=True, recurse=False)
            else:
                child["ensure"] = None
            out.append(("file", child_path, child))
        return out


def _glob(name: str, pattern: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(name, pattern)

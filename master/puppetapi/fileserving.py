"""Puppet's file-serving mounts over one environment, as a Puppet agent names them in
``/puppet/v3/file_metadata(s)/<mount>/<path>`` and ``/puppet/v3/file_content/<mount>/<path>``:

    modules/<module>/<path>   the module's files/<path>      (``source => 'puppet:///modules/...'``)
    plugins/<path>            every module's lib/<path>      (pluginsync: Ruby facts, types, providers)
    pluginfacts/<path>        every module's facts.d/<path>  (external facts)
    locales/<path>            every module's locales/<path>

The plugin mounts merge the modules' directories: a path is served from the first module (in modulepath
order) that has it, and a recursive listing is the union of their trees, each entry with the directory
it came from - what Puppet's pluginsync expects. Nothing outside those directories is reachable: the
path is checked lexically (no ``..``, no NUL) and then its real path must stay inside the real mount
directory, so symbolic links that point out are refused (listings leave them out).

Metadata is Puppet's ``Puppet::FileServing::Metadata`` document: path, relative_path, links, owner,
group, mode, checksum ``{type, value: "{sha256}..."}``, type (file | directory | link), destination.
"""

from __future__ import annotations

import datetime
import fnmatch
import hashlib
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from master.environments import Environment
from master.fileserver import MODULE_RE

log = logging.getLogger(__name__)

#: the plugin mounts and the directory of each module they serve
PLUGIN_MOUNTS = {"plugins": "lib", "pluginfacts": "facts.d", "locales": "locales"}
MOUNTS = frozenset({"modules", *PLUGIN_MOUNTS})
#: digests a Puppet agent may ask for (``checksum_type``), and the time stamps it may take instead
DIGESTS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha224": hashlib.sha224, "sha256": hashlib.sha256,
           "sha384": hashlib.sha384, "sha512": hashlib.sha512}
TIME_CHECKSUMS = ("mtime", "ctime")
DEFAULT_CHECKSUM = "sha256"
#: a recursive listing stops here, whatever the agent's ``max_files``: one request must not walk a disk
MAX_FILES = 50_000
CHUNK = 64 * 1024


class FileServingError(Exception):
    """A request names something the file server will not serve (outside a mount, a bad name)."""


class UnknownMount(FileServingError):
    """The first segment is no mount this master has."""


@dataclass(frozen=True, slots=True)
class MountPath:
    mount: str            # modules | plugins | pluginfacts | locales
    module: str | None    # for ``modules``
    relative: str         # inside the mount ('' for its root), '/'-separated, no '.' or '..'

    @property
    def uri(self) -> str:
        parts = [self.mount, self.module or "", self.relative]
        return "puppet:///" + "/".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class ListOptions:
    """What a recursive listing (``file_metadatas``) takes from the query."""

    recurse: bool = False
    recurselimit: int | None = None   # levels below the root; None: no limit
    ignore: tuple[str, ...] = ()      # glob patterns on names
    max_files: int = -1               # Puppet's: -1 or 0 is no limit (MAX_FILES still applies)


def parse_path(path: str) -> MountPath:
    """``modules/demo/a/b`` -> MountPath('modules', 'demo', 'a/b'); ``plugins/facter`` -> ('plugins', None, 'facter')."""
    if "\0" in path:
        raise FileServingError(f"{path[:200]!r}: not a valid path")
    segments = [s for s in path.split("/") if s not in ("", ".")]
    if not segments:
        raise UnknownMount("no mount named in the path")
    if any(s == ".." for s in segments):
        raise FileServingError(f"{path[:200]!r}: the path escapes its mount")
    mount, rest = segments[0], segments[1:]
    if mount not in MOUNTS:
        raise UnknownMount(f"no mount named {mount[:64]!r} (this master serves {', '.join(sorted(MOUNTS))})")
    if mount == "modules":
        if not rest:
            raise FileServingError("the modules mount takes modules/<module>/<path>")
        module = rest[0]
        if not MODULE_RE.fullmatch(module):
            raise FileServingError(f"{module[:64]!r} is not a module name")
        return MountPath(mount, module, "/".join(rest[1:]))
    return MountPath(mount, None, "/".join(rest))


def _mount_dirs(env: Environment, where: MountPath) -> list[Path]:
    """The directories that serve ``where``'s mount, in the order they are searched."""
    if where.mount == "modules":
        assert where.module is not None
        return [modules / where.module / "files" for modules in env.modulepath()]
    sub = PLUGIN_MOUNTS[where.mount]
    out: list[Path] = []
    seen: set[str] = set()
    for modules in env.modulepath():
        if not modules.is_dir():
            continue
        for module in sorted(modules.iterdir(), key=lambda p: p.name):
            if module.name in seen or not MODULE_RE.fullmatch(module.name):
                continue
            seen.add(module.name)
            out.append(module / sub)
    return out


def _inside(base_real: str, real: str) -> bool:
    return real == base_real or real.startswith(base_real + os.sep)


def _locate(env: Environment, where: MountPath) -> tuple[str, str, str] | None:
    """(real mount directory, real path, path as named) of the first directory of the mount that has
    ``where``; raises when that path leads out of its directory."""
    for base in _mount_dirs(env, where):
        if not base.is_dir():
            continue
        candidate = base / where.relative if where.relative else base
        if not os.path.lexists(candidate):
            continue
        base_real = os.path.realpath(base)
        real = os.path.realpath(candidate)
        if not _inside(base_real, real) or not os.path.exists(real):
            raise FileServingError(f"{where.uri!r}: resolves outside the module's directory (symbolic link)")
        return base_real, real, str(candidate)
    return None


def _ruby_time(seconds: float) -> str:
    """A time as Ruby's ``Time#to_s`` writes it (what Puppet puts after ``{mtime}``)."""
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S +0000")


def checksum_type(requested: str | None) -> str:
    """The checksum to describe files with: the one asked for when this master computes it, else sha256."""
    if requested in DIGESTS or requested in TIME_CHECKSUMS or requested == "none":
        return str(requested)
    return DEFAULT_CHECKSUM


def _digest(path: str, kind: str) -> str:
    h = DIGESTS[kind]()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _describe(path: str, real: str, relative: str | None, kind: str, links: str, *,
              link: str | None = None) -> dict[str, Any]:
    """Puppet's metadata of ``real``: ``path`` is what the document names (the file itself, or for a
    listing the directory listed), ``link`` the symbolic link it is reached through, reported as one."""
    st = os.stat(real)
    if stat.S_ISDIR(st.st_mode):
        ftype = "directory"
        checksum = {"type": "ctime", "value": "{ctime}" + _ruby_time(st.st_ctime)}
    elif stat.S_ISREG(st.st_mode):
        ftype = "file"
        if kind in DIGESTS:
            value = f"{{{kind}}}{_digest(real, kind)}"
        elif kind in TIME_CHECKSUMS:
            value = f"{{{kind}}}{_ruby_time(st.st_mtime if kind == 'mtime' else st.st_ctime)}"
        else:
            value = "{none}"
        checksum = {"type": kind, "value": value}
    else:
        raise FileServingError("not a regular file or a directory")
    destination = None
    if link is not None:
        ftype, destination = "link", os.readlink(link)
    return {"path": path, "relative_path": relative, "links": links, "owner": st.st_uid, "group": st.st_gid,
            "mode": st.st_mode & 0o7777, "checksum": checksum, "type": ftype, "destination": destination}


def metadata(env: Environment, where: MountPath, *, checksum: str | None = None,
             links: str = "manage") -> dict[str, Any] | None:
    """The metadata of one file or directory (``file_metadata``), or None when no module has it."""
    found = _locate(env, where)
    if found is None:
        return None
    _base, real, named = found
    link = named if links == "manage" and os.path.islink(named) else None
    return _describe(real, real, None, checksum_type(checksum), links, link=link)


def search(env: Environment, where: MountPath, options: ListOptions, *, checksum: str | None = None,
           links: str = "manage") -> list[dict[str, Any]] | None:
    """The metadata of ``where`` and, when recursing, of everything below it (``file_metadatas``): the
    root first as ``relative_path`` '.', then the entries in name order. None when nothing has it.

    The plugin mounts list every module's directory merged; without any, a directory alone (the first
    module directory, or the environment's), which is how Puppet tells an agent there is nothing to sync."""
    kind = checksum_type(checksum)
    roots: list[tuple[str, str]] = []  # (real mount directory, real directory or file listed)
    if where.mount == "modules":
        found = _locate(env, where)
        if found is not None:
            roots.append(found[:2])
    else:
        for base in _mount_dirs(env, where):
            target = base / where.relative if where.relative else base
            if not os.path.exists(target):
                continue
            base_real, real = os.path.realpath(base), os.path.realpath(target)
            if _inside(base_real, real):
                roots.append((base_real, real))
        if not roots and not where.relative:  # as Puppet: the first module directory, else the environment's
            first = next((str(m) for m in env.modulepath() if m.is_dir()), str(env.path))
            return [_describe(first, first, ".", kind, links)]
    if not roots:
        return None
    limit = min(options.max_files if options.max_files > 0 else MAX_FILES, MAX_FILES)
    entries: dict[str, dict[str, Any]] = {}
    for base_real, listed in roots:
        for relative, path, link in _walk(base_real, listed, options, links):
            if relative in entries:
                continue  # the first module to have a path serves it
            try:
                entries[relative] = _describe(listed, path, relative, kind, links, link=link)
            except (OSError, FileServingError):
                continue  # vanished while listed, or a socket or device: not served
            if len(entries) > limit:
                raise FileServingError(f"{where.uri!r} holds more than {limit} files; not listed")
    ordered = sorted(entries.items(), key=lambda item: (item[0] != ".", item[0]))
    return [doc for _relative, doc in ordered]


def _ignored(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _walk(base_real: str, root: str, options: ListOptions, links: str) -> Iterator[tuple[str, str, str | None]]:
    """(relative path, real path, symbolic link or None) of ``root`` ('.') and, when recursing, below it;
    links that lead outside ``base_real`` are left out, and directories reached through links are not
    entered (no loops)."""
    yield ".", root, None
    if not options.recurse or not os.path.isdir(root):
        return
    stack: list[tuple[str, str, int]] = [(root, "", 1)]
    while stack:
        directory, prefix, depth = stack.pop()
        if options.recurselimit is not None and depth > options.recurselimit:
            continue
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            if _ignored(name, options.ignore):
                continue
            path = os.path.join(directory, name)
            relative = f"{prefix}{name}"
            if os.path.islink(path):  # listed (as the link, or as what it leads to), never entered
                real = os.path.realpath(path)
                if not _inside(base_real, real) or not os.path.exists(real):
                    log.info("file serving: left out %s (a symbolic link out of its module)", path)
                    continue
                yield relative, real, path if links == "manage" else None
                continue
            yield relative, path, None
            if os.path.isdir(path):
                stack.append((path, relative + "/", depth + 1))


def content_path(env: Environment, where: MountPath) -> Path | None:
    """The regular file whose bytes ``file_content`` sends, or None when no module has one there."""
    found = _locate(env, where)
    if found is None:
        return None
    _base, real, _named = found
    return Path(real) if os.path.isfile(real) else None

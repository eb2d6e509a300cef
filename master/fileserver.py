"""The file server: ``puppet:///modules/<module>/<path>`` is ``<env>/modules/<module>/files/<path>``.

Nothing outside a module's ``files/`` (or ``facts/`` for plugin sync) is reachable: the path is
checked lexically (no ``..``, no absolute parts) and then the real path must stay inside the real
``files/`` directory, so symlinks that point out are refused too. Content streams in chunks with a
sha256 so agents fetch only what changed.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from master.environments import Environment

CHUNK = 64 * 1024
MODULE_RE = re.compile(r"[a-z][a-z0-9_]*")  # fullmatch: a trailing newline is no name


class FileServerError(Exception):
    """A request names something the file server will not serve."""


@dataclass(frozen=True, slots=True)
class FileMetadata:
    kind: str
    size: int
    mtime: float
    mode: int
    sha256: str
    children: list[str]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def parse_uri(uri: str) -> tuple[str, str, str]:
    """``puppet:///modules/m/a/b`` (or ``puppet://server/...``) -> ('files', 'm', 'a/b').

    ``puppet:///plugins/<module>/facts/<file>`` reaches a module's facts/ for plugin sync."""
    if not uri.startswith("puppet://"):
        raise FileServerError(f"{uri!r}: only puppet:/// URIs are served")
    rest = uri[len("puppet://"):]
    rest = rest.split("/", 1)[1] if "/" in rest else ""
    parts = rest.split("/", 2)
    if len(parts) < 2 or parts[0] not in ("modules", "plugins"):
        raise FileServerError(f"{uri!r}: expected puppet:///modules/<module>/<path>")
    module = parts[1]
    path = parts[2] if len(parts) > 2 else ""
    if not MODULE_RE.fullmatch(module):
        raise FileServerError(f"{uri!r}: {module!r} is not a module name")
    segments = [s for s in path.split("/") if s not in ("", ".")]
    if any(s == ".." for s in segments) or "\0" in path or path.startswith("/"):
        raise FileServerError(f"{uri!r}: path escapes the module's files")
    mount = "files"
    if parts[0] == "plugins":
        if not segments or segments[0] != "facts":
            raise FileServerError(f"{uri!r}: plugins serve only a module's facts/")
        mount, segments = "facts", segments[1:]
    return mount, module, "/".join(segments)


def resolve(env: Environment, uri: str) -> Path | None:
    """The file a URI names in ``env``, or None if there is none; raises for anything outside."""
    mount, module, rel = parse_uri(uri)
    for modules in env.modulepath():
        base = modules / module / mount
        if not base.is_dir():
            continue
        candidate = base / rel if rel else base
        if not os.path.lexists(candidate):
            continue
        real_base = os.path.realpath(base)
        real = os.path.realpath(candidate)
        if real != real_base and not real.startswith(real_base + os.sep):
            raise FileServerError(f"{uri!r}: resolves outside the module's {mount}/ (symlink)")
        return Path(real)
    return None


def metadata(env: Environment, uri: str) -> FileMetadata | None:
    path = resolve(env, uri)
    if path is None:
        return None
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        return FileMetadata("directory", 0, st.st_mtime, st.st_mode & 0o7777, "", sorted(os.listdir(path)))
    if not stat.S_ISREG(st.st_mode):
        raise FileServerError(f"{uri!r}: not a regular file")
    return FileMetadata("file", st.st_size, st.st_mtime, st.st_mode & 0o7777, _sha256(path), [])


def chunks(env: Environment, uri: str) -> Iterator[tuple[bytes, str]]:
    """(data, '') chunks then (b'', sha256) — the digest of what was sent."""
    path = resolve(env, uri)
    if path is None or not path.is_file():
        raise FileNotFoundError(uri)
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
            yield block, ""
    yield b"", h.hexdigest()


def plugin_facts(env: Environment) -> list[tuple[str, str, str]]:
    """(``<module>/<file>``, sha256, uri) for every custom fact file of the environment's modules."""
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for modules in env.modulepath():
        if not modules.is_dir():
            continue
        for mod in sorted(modules.iterdir()):
            facts_dir = mod / "facts"
            if mod.name in seen or not MODULE_RE.fullmatch(mod.name) or not facts_dir.is_dir():
                continue
            seen.add(mod.name)
            real_base = os.path.realpath(facts_dir)
            for f in sorted(facts_dir.iterdir()):
                real = os.path.realpath(f)
                if f.is_file() and real.startswith(real_base + os.sep):
                    out.append((f"{mod.name}/{f.name}", _sha256(f), f"puppet:///plugins/{mod.name}/facts/{f.name}"))
    return out

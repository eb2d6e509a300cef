"""Dropping root: the master binds its ports and prepares its state as root, then runs as a plain user.

Its state (ssldir, vardir with the store, caches) is handed to that user first, so it can go on writing
there; everything else (environments) it only needs to read.
"""

from __future__ import annotations

import logging
import os
import pwd
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)


class PrivilegeError(OSError):
    """The user is unknown, or we are not allowed to become it (one line for the operator)."""


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    if not top.exists():
        return
    os.chown(top, uid, gid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in (*dirnames, *filenames):
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


#: modules imported lazily on request paths; loaded before the switch, while the interpreter's own
#: files are surely readable (a Python installed under a private home would not be, afterwards)
PRELOAD_PACKAGES = ("master", "dsl", "engine")
PRELOAD_MODULES = ("encodings.idna", "unicodedata", "base64", "uuid", "yaml", "jinja2", "jinja2.sandbox",
                   "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql", "psycopg")


def preload() -> int:
    """Import our packages' modules and the lazily imported ones; returns how many loaded."""
    import importlib
    import pkgutil

    names = list(PRELOAD_MODULES)
    for package in PRELOAD_PACKAGES:
        try:
            mod = importlib.import_module(package)
        except ImportError:
            continue
        names += [info.name for info in pkgutil.walk_packages(mod.__path__, f"{package}.")]
    loaded = 0
    for name in names:
        try:
            importlib.import_module(name)
            loaded += 1
        except Exception as exc:  # noqa: BLE001 - an optional module (missing extra): not needed then
            log.debug("preload: %s: %s", name, exc)
    return loaded


def check_user(user: str) -> None:
    """PrivilegeError unless this process can become ``user``."""
    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        raise PrivilegeError(f"no such user: {user}") from None
    if os.geteuid() not in (0, uid):
        raise PrivilegeError(f"only root can switch to the user {user}")


def drop_privileges(user: str, state: Iterable[Path]) -> tuple[int, int]:
    """Give ``state`` to ``user``, then become it (groups, gid, uid, in that order). Returns (uid, gid)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise PrivilegeError(f"no such user: {user}") from None
    uid, gid = entry.pw_uid, entry.pw_gid
    if os.geteuid() == uid:
        return uid, gid
    if os.geteuid() != 0:
        raise PrivilegeError(f"only root can switch to the user {user}")
    preload()
    for top in state:
        _chown_tree(Path(top), uid, gid)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)  # glibc applies it to every thread, gRPC's included
    if os.getuid() != uid or os.geteuid() != uid:
        raise PrivilegeError(f"could not switch to the user {user}")
    os.environ["HOME"] = entry.pw_dir
    os.environ["USER"] = os.environ["LOGNAME"] = user
    log.info("running as %s (uid %d, gid %d)", user, uid, gid)
    return uid, gid

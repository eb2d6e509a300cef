"""Filesystem helpers: atomic writes (temp file in the same directory, fsync, rename)."""

from __future__ import annotations

import os
import tempfile


def atomic_write(path: str, data: bytes, *, mode: int | None = None, uid: int | None = None,
                 gid: int | None = None) -> None:
    """Replace ``path`` with ``data`` so readers see the old file or the new one, never half of it."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".bunraku", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if mode is not None:
                os.fchmod(fh.fileno(), mode)
            if uid is not None or gid is not None:
                os.fchown(fh.fileno(), -1 if uid is None else uid, -1 if gid is None else gid)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_symlink(target: str, path: str) -> None:
    directory = os.path.dirname(path) or "."
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.bunraku")
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(target, tmp)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def under_root(root: str, path: str) -> str:
    """``path`` (absolute, as the catalog names it) inside the target ``root``."""
    if root == "/":
        return path
    return root + path if path.startswith("/") else os.path.join(root, path)

"""Small, never-raising readers of host files and commands, shared by the collectors."""

from __future__ import annotations

import logging
import os
import time

log = logging.getLogger(__name__)

# A command never gets longer than this on its own; the runner bounds the whole collector too.
COMMAND_TIMEOUT = 5.0


def read_text(path: str) -> str | None:
    """The file's text, or None when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def read_line(path: str) -> str | None:
    """The file's text stripped, or None when missing, unreadable or empty (sysfs attributes)."""
    text = read_text(path)
    if text is None:
        return None
    text = text.strip()
    return text or None


def list_dir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def _find_executable(name: str) -> str | None:
    if "/" in name:
        return name if os.access(name, os.X_OK) else None
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep) + ["/usr/sbin", "/sbin"]:
        candidate = os.path.join(directory or ".", name)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


def run_command(argv: list[str], timeout: float = COMMAND_TIMEOUT) -> str | None:
    """The command's stdout when it exits 0 within ``timeout``; None otherwise (logged at debug).

    Spawned with posix_spawn and read through select rather than with subprocess: importing
    subprocess costs more than running ``ip``, and ``bunraku facts`` is meant to be quick.
    """
    import select

    path = _find_executable(argv[0])
    if path is None:
        return None
    read_fd, write_fd = os.pipe()
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_DUP2, write_fd, 1),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_CLOSE, read_fd),
        (os.POSIX_SPAWN_CLOSE, write_fd),
    ]
    try:
        pid = os.posix_spawn(path, argv, dict(os.environ, LC_ALL="C"), file_actions=actions)
    except OSError as exc:
        os.close(read_fd)
        os.close(write_fd)
        log.debug("%s could not start: %s", argv[0], exc)
        return None
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([read_fd], [], [], remaining)[0]:
                timed_out = True
                break
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        if timed_out:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        _, status = os.waitpid(pid, 0)
    if timed_out:
        log.debug("%s timed out after %ss", argv[0], timeout)
        return None
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        log.debug("%s exited %s", argv[0], code)
        return None
    return b"".join(chunks).decode("utf-8", errors="replace")

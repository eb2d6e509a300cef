"""The artifact repository seen from a client (``bunraku artifact``, CI): push a file in chunks, resuming
where the master's store left off, and the list, show, yank and gc calls."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wire.client import MasterBusy, MasterClient
from wire.proto import bunraku_pb2 as pb

log = logging.getLogger(__name__)

#: as the master's chunks (master.artifacts.CHUNK_BYTES)
CHUNK_BYTES = 1024 * 1024
#: how long one chunk may wait, in all, for the master's rate limit to let it through
PATIENCE_SECONDS = 300.0


def file_digest(path: Path) -> tuple[str, int]:
    """(sha256, size) of ``path``, read a chunk at a time."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK_BYTES):
            h.update(block)
            size += len(block)
    return h.hexdigest(), size


def push(client: MasterClient, app: str, version: str, path: Path, meta: Mapping[str, str] | None = None, *,
         progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Send ``path`` as ``app`` ``version``: first ask how much of its content the store holds (an
    earlier, interrupted push; the same file under another version), then send the rest chunk by chunk."""
    digest, size = file_digest(path)
    base: dict[str, Any] = {"app": app, "version": version, "sha256": digest, "size": size,
                            "filename": path.name, "meta": dict(meta or {})}
    held = int(_patiently(client, pb.PushArtifactRequest(**base)).received)
    with open(path, "rb") as fh:
        while held < size:
            fh.seek(held)
            data = fh.read(CHUNK_BYTES)
            if not data:  # the file shrank while being sent
                raise OSError(f"{path} changed while being pushed")
            held = int(_patiently(client, pb.PushArtifactRequest(**base, offset=held, data=data)).received)
            if progress is not None:
                progress(held, size)
    reply = _patiently(client, pb.PushArtifactRequest(**base, offset=held, finish=True))
    return dict(json.loads(reply.artifact_json))


def _patiently(client: MasterClient, request: pb.PushArtifactRequest) -> Any:
    """One call of a push: the master's rate limit allows a certificate so many calls a minute (bursts more),
    and a large artifact is hundreds of chunks; when it says to slow down, wait and send the call again."""
    waited, delay = 0.0, 0.25
    while True:
        try:
            return client.call("PushArtifact", request)
        except MasterBusy:
            if waited >= PATIENCE_SECONDS:
                raise
            log.info("the master asks this push to slow down; waiting %.2fs", delay)
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)


def command(client: MasterClient, name: str, app: str = "", version: str = "", older_than: float = 0) -> Any:
    reply = client.call("ArtifactCommand", pb.ArtifactCommandRequest(command=name, app=app, version=version,
                                                                     older_than=older_than))
    return json.loads(reply.json)


def artifact_lines(items: list[dict[str, Any]]) -> list[str]:
    """``bunraku artifact list``: one aligned line per version."""
    header = ("APP", "VERSION", "SIZE", "SHA256", "PUSHED", "BY", "STATE")
    rows = [(a["app"], a["version"], human_size(a["size"]), a["sha256"][:12], a["pushed_at"][:19].replace("T", " "),
             a["pushed_by"], "yanked" if a["yanked"] else "available") for a in items]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]


def show_lines(info: dict[str, Any]) -> list[str]:
    lines = [f"{info['app']} {info['version']}", f"  file:    {info['filename']}",
             f"  size:    {info['size']} bytes ({human_size(info['size'])})", f"  sha256:  {info['sha256']}",
             f"  pushed:  {info['pushed_at']} by {info['pushed_by']}"]
    if info.get("yanked"):
        lines.append(f"  yanked:  {info['yanked_at']} by {info['yanked_by']}")
    for key, value in sorted((info.get("meta") or {}).items()):
        lines.append(f"  {key}: {value}")
    return lines


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"

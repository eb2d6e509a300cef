"""Login tokens for dashboard viewers who have no operator certificate.

The admin issues a token (``issue(name, role)``); it is shown once and only its sha256 is kept, in a JSON
file readable by the master alone (mode 0600, replaced atomically). ``verify(token)`` answers who holds it.
The file is re-read when it changes, so a token issued or revoked from the command line takes effect
without restarting the master.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ROLES = ("viewer", "admin")
TOKEN_PREFIX = "bkd_"


class TokenError(Exception):
    """A token file that cannot be read or written, or a bad name or role."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking at the dashboard, and how they proved it."""

    name: str
    role: str
    method: str  # "certificate" | "token"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """Hashed tokens in a JSON file: ``{"tokens": [{name, role, sha256, issued}]}``."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._cache: tuple[tuple[int, int, int], dict[str, dict[str, Any]]] | None = None

    # -- the file -------------------------------------------------------------------------------------------

    def _read(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise TokenError(f"cannot read token file {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            raise TokenError(f"{self.path}:{exc.lineno}:{exc.colno}: error: {exc.msg}") from None
        entries = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            return []
        return [e for e in entries if isinstance(e, dict) and isinstance(e.get("sha256"), str)]

    def _write(self, entries: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"tokens": entries}, handle, indent=2, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        self._cache = None

    def _by_digest(self) -> dict[str, dict[str, Any]]:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise TokenError(f"cannot read token file {self.path}: {exc.strerror}") from None
        key = (info.st_mtime_ns, info.st_size, info.st_ino)
        cache = self._cache
        if cache is not None and cache[0] == key:
            return cache[1]
        found = {e["sha256"]: e for e in self._read()}
        self._cache = (key, found)
        return found

    # -- operations -----------------------------------------------------------------------------------------

    def issue(self, name: str, role: str = "viewer") -> str:
        """A new token for ``name`` (a previous one of that name stops working); returned once, kept hashed."""
        if not name or not name.isprintable() or len(name) > 128:
            raise TokenError(f"bad token name {name!r}")
        if role not in ROLES:
            raise TokenError(f"unknown role {role!r} (expected one of: {', '.join(ROLES)})")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            entries = [e for e in self._read() if e.get("name") != name]
            entries.append({"name": name, "role": role, "sha256": _digest(token),
                            "issued": datetime.now(UTC).isoformat(timespec="seconds")})
            self._write(entries)
        log.info("dashboard token issued for %s (%s)", name, role)
        return token

    def revoke(self, name: str) -> bool:
        """Forget ``name``'s token; False when there was none."""
        with self._lock:
            entries = self._read()
            kept = [e for e in entries if e.get("name") != name]
            if len(kept) == len(entries):
                return False
            self._write(kept)
        log.info("dashboard token revoked for %s", name)
        return True

    def list(self) -> list[dict[str, str]]:
        """Name, role and issue time of every token (never the hashes)."""
        return [{"name": str(e.get("name")), "role": str(e.get("role")), "issued": str(e.get("issued", ""))}
                for e in self._read()]

    def verify(self, token: str) -> Viewer | None:
        """Who holds ``token``, or None. Only the token's sha256 is ever compared."""
        if not token or len(token) > 512:
            return None
        entry = self._by_digest().get(_digest(token))
        if entry is None:
            return None
        role = entry.get("role") if entry.get("role") in ROLES else "viewer"
        return Viewer(name=str(entry.get("name")), role=str(role), method="token")

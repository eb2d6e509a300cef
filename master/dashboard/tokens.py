"""Login tokens for dashboard viewers who have no operator certificate.

The admin issues a token (``issue(name, role, groups)``); it is shown once and only its sha256 is kept, in a
JSON file readable by the master alone (mode 0600, replaced atomically). ``verify(token)`` answers who holds
it. The file is re-read when it changes, so a token issued or revoked from the command line takes effect
without restarting the master.

A token carries a role and groups as an operator certificate does (``wire.pki.OperatorRole``): the
role ``viewer``, ``operator`` or ``admin``, and the node groups it covers (none given: every group).
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

from wire.pki import ROLES, OperatorRole

log = logging.getLogger(__name__)

TOKEN_PREFIX = "bkd_"
#: Longest group name a token may carry, and most groups (the file stays small and readable).
MAX_GROUP_LENGTH = 128
MAX_GROUPS = 256


class TokenError(Exception):
    """A token file that cannot be read or written, or a bad name, role or group."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking at the dashboard, how they proved it, and what they may see: ``role`` and, when
    limited, the node ``groups`` (None: every group)."""

    name: str
    role: str
    method: str  # "certificate" | "token"
    groups: frozenset[str] | None = None

    @property
    def access(self) -> OperatorRole:
        return OperatorRole(self.role, self.groups)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "method": self.method,
                "groups": None if self.groups is None else sorted(self.groups)}


def check_groups(groups: list[str] | tuple[str, ...] | None) -> list[str] | None:
    """``groups`` as a token keeps them (None or empty: every group); TokenError for a bad name."""
    if not groups:
        return None
    names = sorted({g.strip() for g in groups})
    if "" in names or len(names) > MAX_GROUPS:
        raise TokenError("groups: give one or more group names, comma-separated")
    for name in names:
        if len(name) > MAX_GROUP_LENGTH or not name.isprintable() or any(c in name for c in ",;="):
            raise TokenError(f"bad group name {name!r}")
    return names


def _entry_access(entry: dict[str, Any]) -> OperatorRole:
    """The role and groups of a token file entry. Anything unreadable grants the least: a viewer of no
    group, as a certificate with an unreadable role is treated."""
    role, groups = entry.get("role"), entry.get("groups")
    if role not in ROLES:
        return OperatorRole("viewer", frozenset())
    if groups is None:
        return OperatorRole(str(role))
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        return OperatorRole("viewer", frozenset())
    return OperatorRole(str(role), frozenset(groups))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """Hashed tokens in a JSON file: ``{"tokens": [{name, role, groups, sha256, issued}]}`` (``groups``
    absent or null: every group)."""

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

    def issue(self, name: str, role: str = "viewer", groups: list[str] | tuple[str, ...] | None = None) -> str:
        """A new token for ``name`` (a previous one of that name stops working), of ``role`` over ``groups``
        (None: every group); returned once, kept hashed."""
        if not name or not name.isprintable() or len(name) > 128:
            raise TokenError(f"bad token name {name!r}")
        if role not in ROLES:
            raise TokenError(f"unknown role {role!r} (expected one of: {', '.join(ROLES)})")
        kept_groups = check_groups(groups)
        access = OperatorRole(role, None if kept_groups is None else frozenset(kept_groups))
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            entries = [e for e in self._read() if e.get("name") != name]
            entry: dict[str, Any] = {"name": name, "role": role, "sha256": _digest(token),
                                     "issued": datetime.now(UTC).isoformat(timespec="seconds")}
            if kept_groups is not None:
                entry["groups"] = kept_groups
            entries.append(entry)
            self._write(entries)
        log.info("dashboard token issued for %s (%s)", name, access)
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
        """Name, role (with its groups when limited, as ``viewer;groups=web``) and issue time of every token
        (never the hashes)."""
        return [{"name": str(e.get("name")), "role": str(_entry_access(e)), "issued": str(e.get("issued", ""))}
                for e in self._read()]

    def verify(self, token: str) -> Viewer | None:
        """Who holds ``token``, or None. Only the token's sha256 is ever compared."""
        if not token or len(token) > 512:
            return None
        entry = self._by_digest().get(_digest(token))
        if entry is None:
            return None
        access = _entry_access(entry)
        return Viewer(name=str(entry.get("name")), role=access.role, method="token", groups=access.groups)

"""Users and groups of a target root, read straight from its ``etc/passwd``, ``group`` and ``shadow``.

Reading the files is far cheaper than running ``getent`` per resource, and it is the only honest way
to look inside a target root that is not the running system.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from engine.fsutil import under_root

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    comment: str
    home: str
    shell: str


@dataclass(slots=True)
class ShadowEntry:
    name: str
    password: str
    expiry: str  # days since the epoch, '' when the account never expires


@dataclass(slots=True)
class GroupEntry:
    name: str
    gid: int
    members: list[str] = field(default_factory=list)


def parse_passwd(text: str) -> dict[str, PasswdEntry]:
    out: dict[str, PasswdEntry] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) < 7 or line.startswith(("#", "+", "-")):
            continue
        try:
            out[parts[0]] = PasswdEntry(parts[0], int(parts[2]), int(parts[3]), parts[4], parts[5], parts[6])
        except ValueError:
            continue
    return out


def parse_group(text: str) -> dict[str, GroupEntry]:
    out: dict[str, GroupEntry] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) < 4 or line.startswith(("#", "+", "-")):
            continue
        try:
            out[parts[0]] = GroupEntry(parts[0], int(parts[2]), [m for m in parts[3].split(",") if m])
        except ValueError:
            continue
    return out


def parse_shadow(text: str) -> dict[str, ShadowEntry]:
    out: dict[str, ShadowEntry] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) < 8:
            continue
        out[parts[0]] = ShadowEntry(parts[0], parts[1], parts[7])
    return out


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except FileNotFoundError:
        return ""


class AccountDB:
    """The account databases of one root, parsed lazily and re-read after a change."""

    __slots__ = ("root", "_passwd", "_group", "_shadow", "_uids", "_gids")

    def __init__(self, root: str) -> None:
        self.root = root
        self.invalidate()

    def invalidate(self) -> None:
        self._passwd: dict[str, PasswdEntry] | None = None
        self._group: dict[str, GroupEntry] | None = None
        self._shadow: dict[str, ShadowEntry] | None = None
        self._uids: dict[int, str] | None = None
        self._gids: dict[int, str] | None = None

    def _etc(self, name: str) -> str:
        # Resolved inside the root: an image's etc may be a link, which must not lead to the host's files.
        return under_root(self.root, f"/etc/{name}")

    @property
    def passwd(self) -> dict[str, PasswdEntry]:
        if self._passwd is None:
            self._passwd = parse_passwd(_read(self._etc("passwd")))
        return self._passwd

    @property
    def group(self) -> dict[str, GroupEntry]:
        if self._group is None:
            self._group = parse_group(_read(self._etc("group")))
        return self._group

    @property
    def shadow(self) -> dict[str, ShadowEntry]:
        if self._shadow is None:
            self._shadow = parse_shadow(_read(self._etc("shadow")))
        return self._shadow

    def uid_of(self, user: str | int) -> int | None:
        if isinstance(user, int):
            return user
        if user.isdigit():
            return int(user)
        entry = self.passwd.get(user)
        return entry.uid if entry else None

    def gid_of(self, group: str | int) -> int | None:
        if isinstance(group, int):
            return group
        if group.isdigit():
            return int(group)
        entry = self.group.get(group)
        return entry.gid if entry else None

    def user_name(self, uid: int) -> str:
        if self._uids is None:
            self._uids = {}
            for e in self.passwd.values():
                self._uids.setdefault(e.uid, e.name)
        return self._uids.get(uid, str(uid))

    def group_name(self, gid: int) -> str:
        if self._gids is None:
            self._gids = {}
            for e in self.group.values():
                self._gids.setdefault(e.gid, e.name)
        return self._gids.get(gid, str(gid))

    def groups_of(self, user: str) -> list[str]:
        """Supplementary groups that list ``user`` as a member, in file order."""
        return [g.name for g in self.group.values() if user in g.members]

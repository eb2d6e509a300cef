"""authorized_keys files: only the line whose comment is the resource's name is ever changed."""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from typing import Any

from engine.errors import ProviderError
from engine.fsutil import atomic_write
from engine.providers.parsedfile import split_commas
from engine.registry import Change, Provider, provider
from engine.types.ssh_authorized_key import KEY_TYPES


@dataclass(slots=True)
class KeyLine:
    options: list[str]
    type: str
    key: str
    name: str

    def render(self) -> str:
        opts = ",".join(self.options)
        return f"{opts + ' ' if opts else ''}{self.type} {self.key} {self.name}"


def _split_options(text: str) -> list[str]:
    """``from="a,b",no-pty`` -> ``['from="a,b"', 'no-pty']`` (commas inside quotes stay)."""
    out = split_commas(text)
    if not out[-1]:
        out.pop()
    return out


def parse_key_line(line: str) -> KeyLine | None:
    """A key line as its parts, or None for comments, blanks and lines that aren't keys."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    try:
        parts = shlex.split(text, posix=False)
    except ValueError:
        return None
    if parts and parts[0] in KEY_TYPES.values() and len(parts) >= 2:
        return KeyLine([], parts[0], parts[1], " ".join(parts[2:]))
    if len(parts) >= 3 and parts[1] in KEY_TYPES.values():
        return KeyLine(_split_options(parts[0]), parts[1], parts[2], " ".join(parts[3:]))
    return None


@provider("ssh_authorized_key", "parsed")
class AuthorizedKeys(Provider):
    __slots__ = ()

    def _account(self) -> Any:
        return self.ctx.accounts.passwd.get(self.params["user"])

    def _target(self) -> str:
        target = self.params.get("target")
        if target:
            return str(target)
        entry = self._account()
        if entry is None:
            raise ProviderError(f"user {self.params['user']} does not exist, so its authorized_keys "
                                "cannot be found; declare the user or set target")
        return f"{entry.home.rstrip('/')}/.ssh/authorized_keys"

    def _lines(self) -> list[str]:
        try:
            with open(self.ctx.path(self._target()), encoding="utf-8") as fh:
                return fh.read().splitlines()
        except FileNotFoundError:
            return []

    def _find(self, lines: list[str]) -> tuple[int, KeyLine] | None:
        for i, line in enumerate(lines):
            parsed = parse_key_line(line)
            if parsed is not None and parsed.name == self.params["name"]:
                return i, parsed
        return None

    def check(self) -> list[Change]:
        p = self.params
        try:
            lines = self._lines()
        except ProviderError:
            # The account doesn't exist (yet: a User earlier in this run may create it). Checking
            # predicts the key's creation; making the change fails clearly if the account is still missing.
            lines = []
        found = self._find(lines)
        if p["ensure"] == "absent":
            return [Change("ensure", "present", "absent", "removed")] if found else []
        if found is None:
            return [Change("ensure", "absent", "present", "created")]
        have = found[1]
        changes = []
        for prop, current, desired in (("type", have.type, p["type"]), ("key", have.key, p["key"]),
                                       ("options", ",".join(have.options), ",".join(p["options"]))):
            if current != desired:
                shown_from = "[key]" if prop == "key" else current
                shown_to = "[key]" if prop == "key" else desired
                changes.append(Change(prop, current, desired, f"{prop} changed '{shown_from}' to '{shown_to}'"))
        return changes

    def sync(self, change: Change) -> None:
        p = self.params
        target = self.ctx.path(self._target())
        lines = self._lines()
        found = self._find(lines)
        if p["ensure"] == "absent":
            if found is not None:
                del lines[found[0]]
        else:
            line = KeyLine(list(p["options"]), p["type"], p["key"], p["name"]).render()
            if found is None:
                lines.append(line)
            else:
                lines[found[0]] = line
        entry = self._account()
        uid = entry.uid if entry is not None else None
        gid = entry.gid if entry is not None else None
        directory = os.path.dirname(target)
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o700, exist_ok=True)
            if uid is not None:
                os.chown(directory, uid, gid if gid is not None else -1)
        data = ("\n".join(lines) + "\n") if lines else ""
        atomic_write(target, data.encode("utf-8"), mode=0o600, uid=uid, gid=gid)

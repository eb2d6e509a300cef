"""Files of records under the target root (etc/hosts, ssh_known_hosts, aliases, fstab), one record a
resource.

A subclass says how its records read and render; this module finds the resource's record, compares the
properties the manifest sets (a property it leaves out is not managed), and rewrites only that record.
Every other line stays as it was, byte for byte: comments, blank lines, other records, line endings.
The file is replaced atomically, keeping its mode and owner; a new one is 0644.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from engine import preflight
from engine.errors import ProviderError
from engine.fsutil import atomic_write
from engine.registry import Change, Provider


def split_commas(text: str) -> list[str]:
    """``a,"b,c",d`` -> ``['a', '"b,c"', 'd']``: split at the commas outside double quotes, quotes kept
    (an ``authorized_keys`` option list, an ``/etc/aliases`` recipient list)."""
    out: list[str] = []
    cur: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


@dataclass(slots=True)
class Entry:
    """One record: its name, its fields as the type's properties, and its text as read."""

    name: str
    fields: dict[str, Any]
    text: str


Item = str | Entry


def lines_of(text: str) -> list[str]:
    """``text`` as lines with their endings; only a newline ends a line (a form feed does not)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def line_ending(text: str) -> str:
    return "\r\n" if text.endswith("\r\n") else "\n" if text.endswith("\n") else ""


def shown(value: Any, separator: str = " ") -> str:
    return separator.join(str(v) for v in value) if isinstance(value, list) else str(value)


def empty(value: Any) -> bool:
    return value is None or value == [] or value == ""


def property_change(prop: str, have: Any, want: Any, separator: str = " ") -> Change:
    """A property's change, worded as Puppet words it (defined / undefined / changed)."""
    if empty(have):
        return Change(prop, "absent", want, f"defined '{prop}' as '{shown(want, separator)}'")
    if empty(want):
        return Change(prop, have, "absent", f"undefined '{prop}' from '{shown(have, separator)}'")
    return Change(prop, have, want, f"{prop} changed '{shown(have, separator)}' to '{shown(want, separator)}'")


class ParsedFile(Provider):
    """A resource that is one record of a file of records."""

    __slots__ = ()

    #: The file when the resource sets no ``target``.
    default_target: ClassVar[str] = ""
    #: The properties compared, in order (after ``ensure``).
    properties: ClassVar[tuple[str, ...]] = ()
    #: How a list value reads in a change's message.
    list_separator: ClassVar[str] = " "

    # -- the format ----------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> list[Item]:
        """The file as its lines (kept as they are) and records; by default a record is one line."""
        out: list[Item] = []
        for line in lines_of(text):
            entry = cls.parse_line(line)
            out.append(line if entry is None else entry)
        return out

    @classmethod
    def parse_line(cls, line: str) -> Entry | None:
        raise NotImplementedError

    def render(self, fields: dict[str, Any]) -> str:
        """The record's text for ``fields``, without a line ending."""
        raise NotImplementedError

    def matches(self, entry: Entry) -> bool:
        return entry.name == self.params["name"]

    def removing(self) -> bool:
        return self.params.get("ensure") == "absent"

    def new_fields(self, have: dict[str, Any] | None) -> dict[str, Any]:
        """The record's fields after the change: what it has, with what the manifest sets."""
        fields = dict(have or {})
        for prop in self.properties:
            want = self.params.get(prop)
            if want is not None:
                fields[prop] = want
        return fields

    @classmethod
    def listed(cls, entry: Entry) -> tuple[str, dict[str, Any]]:
        """(title, parameters) of a record for ``bunraku resource TYPE``."""
        return entry.name, {"ensure": "present", **entry.fields}

    # -- the file ------------------------------------------------------------------------------------
    def target(self) -> str:
        return str(self.params.get("target") or self.default_target)

    @classmethod
    def read(cls, host_path: str) -> list[Item]:
        try:
            with open(host_path, encoding="utf-8", errors="surrogateescape", newline="") as fh:
                return cls.parse(fh.read())
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise ProviderError(f"cannot read {host_path}: {exc.strerror or exc}") from None

    def items(self) -> list[Item]:
        return self.read(self.ctx.path(self.target()))

    def find(self, items: list[Item]) -> int | None:
        return next((i for i, item in enumerate(items) if isinstance(item, Entry) and self.matches(item)), None)

    # -- the protocol --------------------------------------------------------------------------------
    def check(self) -> list[Change]:
        items = self.items()
        index = self.find(items)
        if self.removing():
            return [Change("ensure", "present", "absent", "removed")] if index is not None else []
        if index is None:
            return [Change("ensure", "absent", self.params.get("ensure", "present"), "created")]
        entry = items[index]
        assert isinstance(entry, Entry)
        return self.compare(entry)

    def compare(self, entry: Entry) -> list[Change]:
        changes = []
        for prop in self.properties:
            want = self.params.get(prop)
            have = entry.fields.get(prop)
            if want is None or (empty(want) and empty(have)) or want == have:
                continue
            changes.append(property_change(prop, have, want, self.list_separator))
        return changes

    def preflight(self, changes: list[Change]) -> str | None:
        if self.removing():
            return None
        directory = os.path.dirname(self.target().rstrip("/")) or "/"
        if preflight.has_path(self.ctx, directory, directory=True):
            return None
        return (f"{directory} does not exist{preflight.where(self.ctx)}, so {self.target()} cannot be written; "
                f"create the directory first (a file resource with ensure => directory) or set target")

    def would_create(self, changes: list[Change]) -> list[tuple[str, str]]:
        if self.removing() or os.path.lexists(self.ctx.path(self.target())):
            return []
        return [("file", self.target())]

    def sync(self, change: Change) -> None:
        path = self.ctx.path(self.target())
        items = self.read(path)
        before = "".join(i if isinstance(i, str) else i.text for i in items)
        if self.removing():
            items = [i for i in items if not (isinstance(i, Entry) and self.matches(i))]
        else:
            index = self.find(items)
            if index is None:
                if items:
                    last = items[-1]
                    text = last if isinstance(last, str) else last.text
                    if not line_ending(text):
                        items.append("\n")
                items.append(self.render(self.new_fields(None)) + "\n")
            else:
                old = items[index]
                assert isinstance(old, Entry)
                items[index] = self.render(self.new_fields(old.fields)) + line_ending(old.text)
        after = "".join(i if isinstance(i, str) else i.text for i in items)
        if after != before:
            self.write(path, after)

    def write(self, path: str, text: str) -> None:
        mode, uid, gid = 0o644, None, None
        try:
            st = os.stat(path)
        except FileNotFoundError:
            pass
        else:
            mode = st.st_mode & 0o7777
            uid = st.st_uid if st.st_uid != os.geteuid() else None
            gid = st.st_gid if st.st_gid != os.getegid() else None
        atomic_write(path, text.encode("utf-8", "surrogateescape"), mode=mode, uid=uid, gid=gid)

    @classmethod
    def instances(cls, ctx: Any) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for item in cls.read(ctx.path(cls.default_target)):
            if isinstance(item, Entry):
                title, params = cls.listed(item)
                out.append((title, {k: v for k, v in params.items() if not empty(v)}))
        return out

"""Mail aliases files: ``NAME: RECIPIENT, RECIPIENT...`` (or ``NAME: :include: FILE``), a record found by
its name; an indented line continues the record above it. Recipients holding spaces, commas or '#' are
written in double quotes."""

from __future__ import annotations

from typing import Any

from engine.providers.parsedfile import Entry, Item, ParsedFile, lines_of, split_commas
from engine.registry import provider

_INCLUDE = ":include:"


def split_recipients(text: str) -> list[str]:
    """``a, "|/usr/bin/x y", b`` -> ``['a', '|/usr/bin/x y', 'b']`` (commas inside quotes stay)."""
    out = split_commas(text)
    return [r.strip().strip('"').strip() for r in out if r.strip()]


def quote(recipient: str) -> str:
    return f'"{recipient}"' if any(c.isspace() or c in ",#" for c in recipient) else recipient


@provider("mailalias", "aliases")
class AliasesFile(ParsedFile):
    __slots__ = ()
    default_target = "/etc/aliases"
    properties = ("recipient", "file")
    list_separator = ", "

    @classmethod
    def parse(cls, text: str) -> list[Item]:
        out: list[Item] = []
        for line in lines_of(text):
            last = out[-1] if out else None
            if isinstance(last, Entry) and line[:1] in (" ", "\t") and line.strip():
                out[-1] = cls.parse_line(last.text + line) or last
                continue
            entry = cls.parse_line(line)
            out.append(line if entry is None else entry)
        return out

    @classmethod
    def parse_line(cls, line: str) -> Entry | None:
        if line.lstrip().startswith("#") or line[:1].isspace():
            return None
        name, colon, rest = line.partition(":")
        name = name.strip()
        if not colon or not name or any(c.isspace() for c in name):
            return None
        value = " ".join(rest.split())
        if value.startswith(_INCLUDE):
            return Entry(name, {"file": value[len(_INCLUDE):].strip(), "recipient": None}, line)
        return Entry(name, {"recipient": split_recipients(value), "file": None}, line)

    def new_fields(self, have: dict[str, Any] | None) -> dict[str, Any]:
        if self.params.get("file") is not None:
            return {"file": self.params["file"], "recipient": None}
        if self.params.get("recipient") is not None:
            return {"recipient": self.params["recipient"], "file": None}
        return dict(have or {})


    def render(self, fields: dict[str, Any]) -> str:
        if fields.get("file"):
            return f"{self.params['name']}: {_INCLUDE} {fields['file']}"
        return f"{self.params['name']}: {', '.join(quote(r) for r in fields.get('recipient') or [])}"

    @classmethod
    def listed(cls, entry: Entry) -> tuple[str, dict[str, Any]]:
        return entry.name, {"ensure": "present", **entry.fields, "target": cls.default_target}

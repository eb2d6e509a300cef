"""The hosts file: ``IP NAME [ALIAS...] [# COMMENT]``, a record found by its canonical name."""

from __future__ import annotations

from typing import Any

from engine.providers.parsedfile import Entry, ParsedFile
from engine.registry import provider


@provider("host", "parsed")
class HostsFile(ParsedFile):
    __slots__ = ()
    default_target = "/etc/hosts"
    properties = ("ip", "host_aliases", "comment")

    @classmethod
    def parse_line(cls, line: str) -> Entry | None:
        content, hash_, comment = line.partition("#")
        words = content.split()
        if len(words) < 2:
            return None
        fields: dict[str, Any] = {"ip": words[0], "host_aliases": words[2:],
                                  "comment": comment.strip() if hash_ else None}
        return Entry(words[1], fields, line)

    def render(self, fields: dict[str, Any]) -> str:
        words = [fields["ip"], self.params["name"], *(fields.get("host_aliases") or [])]
        if fields.get("comment"):
            words.append(f"# {fields['comment']}")
        return "\t".join(words)

    @classmethod
    def listed(cls, entry: Entry) -> tuple[str, dict[str, Any]]:
        return entry.name, {"ensure": "present", **entry.fields, "target": cls.default_target}

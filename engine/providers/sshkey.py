"""known_hosts files: ``NAME[,ALIAS...] TYPE KEY [COMMENT]``, a record found by its name and key type.
Marker lines (``@cert-authority``, ``@revoked``) and hashed names are kept and never matched."""

from __future__ import annotations

from typing import Any

from engine.providers.parsedfile import Entry, ParsedFile
from engine.registry import provider
from engine.types.ssh_authorized_key import KEY_TYPES


@provider("sshkey", "parsed")
class KnownHosts(ParsedFile):
    __slots__ = ()
    default_target = "/etc/ssh/ssh_known_hosts"
    properties = ("key", "host_aliases")

    @classmethod
    def parse_line(cls, line: str) -> Entry | None:
        words = line.split()
        if len(words) < 3 or words[0].startswith(("#", "@", "|")) or words[1] not in KEY_TYPES.values():
            return None
        names = words[0].split(",")
        return Entry(names[0], {"type": words[1], "key": words[2], "host_aliases": names[1:]}, line)

    def matches(self, entry: Entry) -> bool:
        return entry.name == self.params["name"] and entry.fields["type"] == self.params["type"]

    def render(self, fields: dict[str, Any]) -> str:
        names = ",".join([self.params["name"], *(fields.get("host_aliases") or [])])
        return f"{names} {self.params['type']} {fields['key']}"

    @classmethod
    def listed(cls, entry: Entry) -> tuple[str, dict[str, Any]]:
        return (f"{entry.name}@{entry.fields['type']}",
                {"ensure": "present", **entry.fields, "target": cls.default_target})

"""The ``sshkey`` type: a host's public key in a known_hosts file (``/etc/ssh/ssh_known_hosts`` unless
``target`` says otherwise). A record is its name and key type, so one host may have a key of each type;
a title ``NAME@TYPE`` gives both."""

from __future__ import annotations

import re
from typing import Any

from engine.errors import ValidationError
from engine.registry import ResourceType, resource_type
from engine.types.host import absolute_target
from engine.types.ssh_authorized_key import KEY_TYPES
from engine.values import as_str_list, one_of

_BASE64 = re.compile(r"\A[A-Za-z0-9+/]+={0,2}\Z")


def _host_word(value: str, what: str) -> str:
    if not value or any(c.isspace() for c in value) or "," in value or value.startswith(("#", "@")):
        raise ValidationError(f"invalid {what} {value!r}: no spaces or commas, not starting with '#' or '@'")
    return value


@resource_type("sshkey")
class SshkeyType(ResourceType):
    parameters = frozenset({"name", "ensure", "key", "type", "host_aliases", "target"})

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        name = str(p["name"])
        head, at, tail = name.rpartition("@")
        if at and head and tail.lower() in KEY_TYPES and p.get("type") in (None, tail):
            name, p["type"] = head, tail
        p["name"] = _host_word(name, "host name")
        p["ensure"] = one_of(p.get("ensure"), "ensure", ("present", "absent"), "present")
        kind = p.get("type")
        if kind is None:
            raise ValidationError("sshkey needs the key's type: type => ssh-ed25519 (or a title NAME@TYPE)")
        p["type"] = KEY_TYPES.get(str(kind).lower())
        if p["type"] is None:
            raise ValidationError(f"unknown key type {kind!r}; expected one of "
                                  f"{', '.join(sorted(set(KEY_TYPES.values())))}")
        key = p.get("key")
        if key is not None and (not isinstance(key, str) or not _BASE64.match(key)):
            raise ValidationError("key must be the base64 key material alone (no type, no comment)")
        if key is None and p["ensure"] == "present":
            raise ValidationError("key is required for an sshkey that is present: key => BASE64")
        if p.get("host_aliases") is not None:
            aliases = as_str_list(p["host_aliases"], "host_aliases")
            p["host_aliases"] = [] if aliases == ["absent"] else [_host_word(a, "host alias") for a in aliases]
        absolute_target(p)
        return p

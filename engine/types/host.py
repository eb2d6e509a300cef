"""The ``host`` type: one line of a hosts file (``/etc/hosts`` unless ``target`` says otherwise)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from engine.errors import ValidationError
from engine.registry import ResourceType, resource_type
from engine.values import as_str_list, one_of

_LABEL = re.compile(r"\A(?:\w|\w[\w-]*\w)\Z")


def host_name(value: Any, what: str) -> str:
    """A host name as a hosts file holds it: dot-separated labels of letters, digits, '_' and '-'."""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text or not all(_LABEL.match(label) for label in text.split(".")):
        raise ValidationError(f"invalid {what} {value!r}: a host name is dot-separated labels of letters, "
                              "digits, '-' and '_'")
    return text


def single_line(value: Any, what: str) -> str:
    text = str(value)
    if isinstance(value, (list, dict)) or any(c in text for c in "\n\r"):
        raise ValidationError(f"{what} must be a single-line string")
    return text


def absolute_target(params: dict[str, Any]) -> None:
    target = params.get("target")
    if target is not None and (not isinstance(target, str) or not target.startswith("/")):
        raise ValidationError(f"target must be an absolute path, not {target!r}")


@resource_type("host")
class HostType(ResourceType):
    parameters = frozenset({"name", "ensure", "ip", "host_aliases", "comment", "target"})

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        p["name"] = host_name(p["name"], "host name")
        p["ensure"] = one_of(p.get("ensure"), "ensure", ("present", "absent"), "present")
        if p.get("ip") is not None:
            try:
                p["ip"] = str(ipaddress.ip_address(str(p["ip"]).strip()))
            except ValueError:
                raise ValidationError(f"invalid ip {p['ip']!r}: an IPv4 or IPv6 address") from None
        elif p["ensure"] == "present":
            raise ValidationError("ip is required for a host that is present: ip => ADDRESS")
        if p.get("host_aliases") is not None:
            aliases = as_str_list(p["host_aliases"], "host_aliases")
            p["host_aliases"] = [] if aliases == ["absent"] else [host_name(a, "host alias") for a in aliases]
        if p.get("comment") is not None:
            p["comment"] = single_line(p["comment"], "comment").strip()
        absolute_target(p)
        return p

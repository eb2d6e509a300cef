"""The ``mailalias`` type: one alias of a mail aliases file (``/etc/aliases`` unless ``target`` says
otherwise): where mail to the name goes, a list of recipients, or a ``file`` of them (``:include:``).
Nothing runs ``newaliases`` by itself: subscribe an exec to the aliases."""

from __future__ import annotations

from typing import Any

from engine.errors import ValidationError
from engine.registry import ResourceType, resource_type
from engine.types.host import absolute_target
from engine.values import as_str_list, one_of


@resource_type("mailalias")
class MailaliasType(ResourceType):
    parameters = frozenset({"name", "ensure", "recipient", "file", "target"})

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        name = str(p["name"])
        if not name or any(c.isspace() or c in ':,"' for c in name) or name.startswith("#"):
            raise ValidationError(f"invalid alias name {name!r}: no spaces, ':', ',' or '\"', not starting with '#'")
        p["name"] = name
        p["ensure"] = one_of(p.get("ensure"), "ensure", ("present", "absent"), "present")
        if p.get("recipient") is not None:
            recipients = as_str_list(p["recipient"], "recipient")
            for r in recipients:
                if not r.strip() or any(c in r for c in '\n\r"'):
                    raise ValidationError(f"invalid recipient {r!r}: a non-empty single line without '\"'")
            p["recipient"] = [r.strip() for r in recipients]
        if p.get("file") is not None:
            if p.get("recipient") is not None:
                raise ValidationError("recipient and file are mutually exclusive: give one")
            if not isinstance(p["file"], str) or not p["file"].startswith("/"):
                raise ValidationError(f"file must be an absolute path, not {p['file']!r}")
        if p["ensure"] == "present" and p.get("recipient") is None and p.get("file") is None:
            raise ValidationError("a mailalias that is present needs recipient => [...] or file => PATH")
        absolute_target(p)
        return p

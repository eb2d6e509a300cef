"""The ``mount`` type, its fstab side: one line of ``/etc/fstab`` (unless ``target`` says otherwise),
found by its mount point.

``ensure``: ``defined`` (``present``) writes the line; ``absent`` removes it; ``mounted`` and
``unmounted`` also say whether the file system should be mounted now. Bunraku never mounts or unmounts:
under a target root nothing is mounted, so both act as ``defined`` (``mounted`` with a warning); on the
running system a mount point already as wanted is fine, and one that would have to be mounted or
unmounted fails with one line (not supported yet). ``atboot`` and ``blockdevice`` belong to Solaris'
vfstab and are accepted and ignored, as ``remounts``.
"""

from __future__ import annotations

from typing import Any

from engine.errors import ValidationError
from engine.registry import ResourceType, resource_type
from engine.types.host import absolute_target
from engine.values import one_of

ENSURES = ("defined", "present", "unmounted", "absent", "mounted")


def _field(value: Any, what: str) -> str:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text or any(c.isspace() for c in text):
        raise ValidationError(f"invalid {what} {value!r}: a non-empty fstab field without spaces (write a space as \\040)")
    return text


@resource_type("mount")
class MountType(ResourceType):
    parameters = frozenset({"name", "ensure", "device", "fstype", "options", "dump", "pass", "target",
                            "atboot", "remounts", "blockdevice"})

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        name = _field(p["name"], "mount point")
        if name != "/":
            name = name.rstrip("/")
        if not name.startswith("/") and name not in ("none", "swap"):
            raise ValidationError(f"invalid mount point {name!r}: an absolute path (or none, swap)")
        p["name"] = name
        ensure = one_of(p.get("ensure"), "ensure", ENSURES, "defined")
        p["ensure"] = "defined" if ensure == "present" else ensure
        for field in ("device", "fstype", "options"):
            if p.get(field) is not None:
                p[field] = _field(p[field], field)
        for field in ("dump", "pass"):
            value = p.get(field)
            if value is not None:
                text = str(value)
                if isinstance(value, bool) or not text.isdigit():
                    raise ValidationError(f"invalid {field} {value!r}: a number")
                p[field] = str(int(text))
        absolute_target(p)
        return p

"""The ``resources`` metatype: purge unmanaged resources of a type (users, groups, cron entries)."""

from __future__ import annotations

from typing import Any

from engine.errors import ValidationError
from engine.registry import ResourceType, resource_type
from engine.values import as_bool, as_int, as_list

PURGEABLE = ("user", "group", "cron")


@resource_type("resources")
class ResourcesType(ResourceType):
    parameters = frozenset({"name", "purge", "unless_system_user", "unless_uid"})

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        name = str(p["name"]).lower()
        if name not in PURGEABLE:
            raise ValidationError(f"purging resources of type '{name}' is not supported "
                                  f"(supported: {', '.join(PURGEABLE)})")
        p["name"] = name
        p["purge"] = as_bool(p.get("purge"), "purge", False)
        usu = p.get("unless_system_user")
        if usu is None or usu is False or usu == "false":
            p["unless_system_user"] = None
        elif usu is True or usu == "true":
            p["unless_system_user"] = 999
        else:
            p["unless_system_user"] = as_int(usu, "unless_system_user")
        p["unless_uid"] = [as_int(u, "unless_uid") for u in as_list(p.get("unless_uid"))]
        return p

"""Purging: every instance of a type that the catalog does not manage becomes ``ensure => absent``."""

from __future__ import annotations

from typing import Any

from engine import registry
from engine.registry import Change, Provider, provider

#: Accounts that purging never touches, whatever their ids.
PROTECTED = frozenset({"root", "nobody", "nogroup"})


@provider("resources", "resources")
class Resources(Provider):
    __slots__ = ()

    def check(self) -> list[Change]:
        return []

    def generate(self) -> list[tuple[str, str, dict[str, Any]]]:
        p = self.params
        if not p["purge"]:
            return []
        type_name = p["name"]
        rtype = registry.get_type(type_name)
        assert rtype is not None
        pname = rtype.default_provider({"name": "", "path": ["/etc/init.d"]}, self.ctx)
        cls = registry.get_provider(type_name, pname)
        limit = p["unless_system_user"]
        out = []
        for title, current in cls.instances(self.ctx):
            if title in PROTECTED or title.startswith("unmanaged:"):
                continue
            ident = current.get("uid", current.get("gid"))
            if isinstance(ident, int):
                if limit is not None and ident <= limit:
                    continue
                if ident in p["unless_uid"] or ident == 65534:
                    continue
            params: dict[str, Any] = {"name": title, "ensure": "absent"}
            if type_name == "cron":
                params["user"] = current["user"]
            out.append((type_name, title, rtype.validate(title, params)))
        return out

"""The ``service`` type."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from engine.context import ApplyContext
from engine.errors import ValidationError
from engine.registry import ResourceType, resource_type
from engine.values import as_bool, as_str_list, not_an_option, one_of


def pid1_name() -> str:
    try:
        with open("/proc/1/comm", encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return ""


@resource_type("service")
class ServiceType(ResourceType):
    refresh_property = "refresh"
    parameters = frozenset({"name", "ensure", "enable", "hasstatus", "hasrestart", "status", "start", "stop",
                            "restart", "pattern", "binary", "path", "flags", "control", "manifest",
                            "timeout"})

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        name = p["name"]
        if not isinstance(name, str) or not name or "/" in name:
            raise ValidationError(f"invalid service name {name!r}")
        not_an_option(name, "service name")
        ensure = p.get("ensure")
        if ensure is True or ensure == "true":
            ensure = "running"
        elif ensure is False or ensure == "false":
            ensure = "stopped"
        p["ensure"] = one_of(ensure, "ensure", ("running", "stopped"))
        enable = p.get("enable")
        p["enable"] = None if enable is None else (
            "mask" if enable == "mask" else "manual" if enable == "manual" else
            ("true" if as_bool(enable, "enable") else "false"))
        p["hasstatus"] = as_bool(p.get("hasstatus"), "hasstatus", True)
        p["hasrestart"] = as_bool(p.get("hasrestart"), "hasrestart", False)
        p["path"] = as_str_list(p.get("path"), "path") or ["/etc/init.d"]
        for key in ("status", "start", "stop", "restart", "pattern", "binary"):
            if p.get(key) is not None and not isinstance(p[key], str):
                raise ValidationError(f"{key} must be a string")
        return p

    def autorequires(self, title: str, params: Mapping[str, Any]) -> Iterable[str]:
        return (f"Package[{params['name']}]",)

    def default_provider(self, params: Mapping[str, Any], ctx: ApplyContext) -> str:
        fact = ctx.facts.get("service_provider")
        if fact in ("systemd", "sysv"):
            return str(fact)
        if ctx.root == "/" and pid1_name() == "systemd":
            return "systemd"
        for d in params["path"]:
            if os.path.exists(ctx.path(f"{d}/{params['name']}")):
                return "sysv"
        for d in ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"):
            if os.path.exists(ctx.path(f"{d}/{params['name']}.service")):
                return "systemd"
        return "sysv"

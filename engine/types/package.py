"""The ``package`` type."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.context import ApplyContext
from engine.errors import ValidationError
from engine.registry import ResourceType, resource_type
from engine.values import as_str_list, not_an_option

_VERSION = re.compile(r"[A-Za-z0-9.+:~_-]+")
KEYWORDS = ("present", "installed", "absent", "purged", "latest", "held")


@resource_type("package")
class PackageType(ResourceType):
    parameters = frozenset({"name", "ensure", "source", "install_options", "uninstall_options", "python",
                            "allowcdrom", "configfiles", "responsefile", "adminfile", "package_settings",
                            "reinstall_on_refresh", "mark", "virtualenv"})

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        name = p["name"]
        if not isinstance(name, str) or not name or any(c.isspace() for c in name):
            raise ValidationError(f"invalid package name {name!r}")
        not_an_option(name, "package name")
        source = p.get("source")
        if isinstance(source, str):
            not_an_option(source, "package source")
        ensure = p.get("ensure")
        if ensure is None or ensure is True or ensure == "installed":
            ensure = "present"
        elif ensure is False:
            ensure = "absent"
        if not isinstance(ensure, str) or not ensure or (ensure not in KEYWORDS and not _VERSION.fullmatch(ensure)):
            raise ValidationError(f"invalid value {ensure!r} for ensure; expected present, absent, purged, "
                                  "latest or a version")
        p["ensure"] = "present" if ensure == "held" else ensure
        p["install_options"] = as_str_list(p.get("install_options"), "install_options")
        p["uninstall_options"] = as_str_list(p.get("uninstall_options"), "uninstall_options")
        python = p.get("python") or p.get("virtualenv")
        if python is not None and (not isinstance(python, str) or not python.startswith("/")):
            raise ValidationError(f"python must be a fully qualified path, not {python!r}")
        p["python"] = python
        return p

    def default_provider(self, params: Mapping[str, Any], ctx: ApplyContext) -> str:
        if params.get("python"):
            return "pip"
        family = ctx.os_family
        if family == "Debian" or not family:
            source = params.get("source")
            return "dpkg" if source else "apt"
        raise ValidationError(f"no default package provider for os.family '{family}'; set provider")

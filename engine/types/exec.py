"""The ``exec`` type: run a command when checks say so, or on refresh."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from engine.errors import ValidationError
from engine.registry import ResourceType, resource_type
from engine.types.user import account_id_or_name
from engine.values import as_bool, as_int, as_list, as_str_list, one_of


def command_words(command: str | list[str]) -> list[str]:
    if isinstance(command, list):
        return [str(w) for w in command]
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


@resource_type("exec")
class ExecType(ResourceType):
    namevar = "command"
    refresh_property = "returns"
    parameters = frozenset({
        "command", "path", "cwd", "user", "group", "environment", "creates", "onlyif", "unless",
        "refreshonly", "returns", "timeout", "tries", "try_sleep", "logoutput", "refresh", "umask",
    })

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        path: list[str] = []
        for item in as_str_list(p.get("path"), "path"):
            path.extend(x for x in item.split(":") if x)
        p["path"] = path
        for key in ("command", "onlyif", "unless", "refresh"):
            value = p.get(key)
            if value is None:
                continue
            checks = value if key in ("onlyif", "unless") and isinstance(value, list) and value and \
                isinstance(value[0], list) else [value]
            for cmd in checks:
                if not isinstance(cmd, (str, list)) or not cmd:
                    raise ValidationError(f"{key} must be a command string or an array of words")
                first = command_words(cmd)[:1]
                if not first:
                    raise ValidationError(f"{key} is empty")
                if not first[0].startswith("/") and not path:
                    raise ValidationError(f"'{first[0]}' is not qualified and no path was specified. "
                                          "Please qualify the command or specify a path.")
            if key in ("onlyif", "unless"):
                p[key] = checks
        env = []
        for item in as_str_list(p.get("environment"), "environment"):
            if "=" not in item:
                raise ValidationError(f"invalid environment setting '{item}': expected NAME=VALUE")
            env.append(item)
        p["environment"] = env
        p["creates"] = as_str_list(p.get("creates"), "creates")
        for c in p["creates"]:
            if not c.startswith("/"):
                raise ValidationError(f"creates must be fully qualified, not '{c}'")
        if p.get("cwd") is not None and not str(p["cwd"]).startswith("/"):
            raise ValidationError(f"cwd must be fully qualified, not '{p['cwd']}'")
        p["refreshonly"] = as_bool(p.get("refreshonly"), "refreshonly", False)
        returns = [as_int(r, "returns") for r in as_list(p.get("returns"))] or [0]
        p["returns"] = returns
        timeout = p.get("timeout")
        p["timeout"] = float(timeout) if timeout not in (None, 0, "0") else None
        p["tries"] = as_int(p.get("tries"), "tries") or 1
        if p["tries"] < 1:
            raise ValidationError("tries must be at least 1")
        sleep = p.get("try_sleep")
        p["try_sleep"] = float(sleep) if sleep is not None else 0.0
        p["logoutput"] = one_of(p.get("logoutput"), "logoutput", ("true", "false", "on_failure"), "on_failure")
        for key in ("user", "group"):
            p[key] = account_id_or_name(p.get(key), key)
        return p

    def autorequires(self, title: str, params: Mapping[str, Any]) -> Iterable[str]:
        out = []
        if params.get("cwd"):
            out.append(f"File[{os.path.normpath(params['cwd'])}]")
        if params.get("user"):
            out.append(f"User[{params['user']}]")
        if params.get("group"):
            out.append(f"Group[{params['group']}]")
        first = command_words(params["command"])[:1]
        if first and first[0].startswith("/"):
            out.append(f"File[{first[0]}]")
        return out

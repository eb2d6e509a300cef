"""Current state of real resources as Puppet manifest code (``bunraku resource TYPE [TITLE]``)."""

from __future__ import annotations

import hashlib
import os
import stat as st_
from typing import Any

from engine import registry
from engine.context import ApplyContext
from engine.errors import EngineError
from engine.modes import format_mode

_ORDER = ("ensure",)


def _quote(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_quote(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def render_resource(type_name: str, title: str, params: dict[str, Any]) -> str:
    keys = [k for k in _ORDER if k in params] + sorted(k for k in params if k not in _ORDER)
    keys = [k for k in keys if params[k] is not None and params[k] != []]
    if not keys:
        return f"{type_name} {{ {_quote(title)}: }}\n"
    width = max(len(k) for k in keys)
    body = "".join(f"  {k.ljust(width)} => {_quote(params[k])},\n" for k in keys)
    return f"{type_name} {{ {_quote(title)}:\n{body}}}\n"


def file_state(ctx: ApplyContext, path: str) -> dict[str, Any]:
    real = ctx.path(path)
    try:
        st = os.lstat(real)
    except FileNotFoundError:
        return {"ensure": "absent"}
    acc = ctx.accounts
    out: dict[str, Any] = {"owner": acc.user_name(st.st_uid), "group": acc.group_name(st.st_gid)}
    if st_.S_ISLNK(st.st_mode):
        out.update(ensure="link", target=os.readlink(real))
        return out
    out["mode"] = format_mode(st.st_mode & 0o7777)
    if st_.S_ISDIR(st.st_mode):
        out["ensure"] = "directory"
    else:
        out["ensure"] = "file"
        with open(real, "rb") as fh:
            out["content"] = "{sha256}" + hashlib.sha256(fh.read()).hexdigest()
    out["mtime"] = str(int(st.st_mtime))
    return out


def current_state(type_name: str, title: str | None, *, root: str = "/",
                  facts: dict[str, Any] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(title, current parameters) of every instance of ``type_name`` found on the system (or just
    ``title``), each with the provider that found it, as Puppet prints them."""
    type_name = type_name.lower()
    rtype = registry.get_type(type_name)
    if rtype is None:
        raise EngineError(f"unknown resource type '{type_name}' (known: {', '.join(registry.type_names())})")
    ctx = ApplyContext(root=root, facts=facts)
    if type_name == "file":
        if not title:
            raise EngineError("listing every file is not supported; give a path")
        state = file_state(ctx, title)
        if state.get("ensure") != "absent":
            state["provider"] = "posix"
        return [(title, state)]
    defaults: dict[str, Any] = {"name": title or "", "path": ["/etc/init.d"]}
    provider_name = rtype.default_provider(defaults, ctx)
    cls = registry.get_provider(type_name, provider_name)
    instances = cls.instances(ctx)
    if title is not None:
        found = [(t, p) for t, p in instances if t == title]
        if not found:
            return [(title, {"ensure": "absent"})]
        instances = found
    return [(t, {**p, "provider": cls.name}) for t, p in instances]


def describe(type_name: str, title: str | None, *, root: str = "/", facts: dict[str, Any] | None = None) -> str:
    """Manifest code for every instance of ``type_name`` (or just ``title``) found on the system."""
    return "".join(render_resource(type_name.lower(), t, p)
                   for t, p in current_state(type_name, title, root=root, facts=facts))

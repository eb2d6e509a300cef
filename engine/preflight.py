"""What a change needs from the target root before it is made, so that a noop run predicts the failures
it can see and a real run fails early with a clear message instead of a tool's raw error.

After ``check()`` found changes, the transaction asks the provider's ``preflight(changes)``: ``None`` when
nothing it can see stands in the way, else one line saying what is missing and what to do. The checks
look at the root as it is, and in a noop run also at what the resources evaluated before this one would
have created (the :class:`Plan`): a file's parent managed as a directory earlier in the graph, a user or
group an earlier resource adds, an init script a file resource writes. A resource whose effect cannot be
listed (an exec that would run, a package that would be installed: either may create any file or
account) makes the later checks give the benefit of the doubt, so a noop never predicts a failure the
real run would not have.

In a real run the plan stays empty: everything before a resource has really happened, and the checks see
the root as the change will find it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from typing import Any

from engine.spawn import find_program

#: The account databases the shadow tools read and lock under a root (``useradd --root`` …).
ACCOUNT_FILES = ("passwd", "group", "shadow", "gshadow")

#: What a provider says a change of it would create, for the plan: ``("directory", path)``,
#: ``("file", path)``, ``("link", path)``, ``("user", name)``, ``("group", name)``, or ``("anything", "")`` when it may create
#: any file or account (what an exec runs, what a package brings).
Effect = tuple[str, str]
ANYTHING: Effect = ("anything", "")


class Plan:
    """What resources evaluated earlier in this noop run would have created."""

    __slots__ = ("paths", "users", "groups", "opaque")

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}
        self.users: set[str] = set()
        self.groups: set[str] = set()
        #: The first earlier resource whose effect cannot be listed (see the module docstring).
        self.opaque: str | None = None

    def record(self, ref: str, effects: Iterable[Effect]) -> None:
        for kind, what in effects:
            if kind in ("directory", "file", "link"):
                self.paths[os.path.normpath(what)] = kind
            elif kind == "user":
                self.users.add(what)
            elif kind == "group":
                self.groups.add(what)
            elif kind == "anything" and self.opaque is None:
                self.opaque = ref


def plan_of(ctx: Any) -> Plan:
    """The run's plan (kept with the run's caches: it lives exactly as long as the run)."""
    plan = ctx.cache.get("preflight-plan")
    if plan is None:
        plan = ctx.cache["preflight-plan"] = Plan()
    return plan


def where(ctx: Any) -> str:
    """`` under ROOT`` for messages, nothing for the running system."""
    return "" if ctx.root == "/" else f" under {ctx.root}"


def has_path(ctx: Any, path: str, *, directory: bool = False) -> bool:
    """Whether ``path`` is in the root now, or an earlier resource of this noop run creates it (or may)."""
    host = ctx.path(path)
    if os.path.isdir(host) if directory else os.path.lexists(host):
        return True
    plan = plan_of(ctx)
    planned = plan.paths.get(os.path.normpath(path))
    if planned is not None and (planned != "file" or not directory):  # a link may name a directory
        return True
    return plan.opaque is not None


def has_program(ctx: Any, name: str, search: Sequence[str]) -> bool:
    """Whether ``name`` (a path, or a name looked up on ``search``) is a program in the root now or may
    be by the time it runs."""
    if name.startswith("/"):
        host = ctx.path(name)
        if os.path.isfile(host) and os.access(host, os.X_OK):
            return True
        candidates = [name]
    else:
        found = (shutil.which(name, path=":".join(search)) if ctx.root == "/"
                 else find_program(ctx.root, name, search))
        if found is not None:
            return True
        candidates = [f"{d.rstrip('/')}/{name}" for d in search]
    plan = plan_of(ctx)
    return plan.opaque is not None or any(os.path.normpath(c) in plan.paths for c in candidates)


def account_databases(ctx: Any) -> str | None:
    """The problem when the root lacks an account database the shadow tools need, else None."""
    missing = [f"etc/{name}" for name in ACCOUNT_FILES if not has_path(ctx, f"/etc/{name}")]
    if not missing:
        return None
    if ctx.root == "/":
        return (f"{', '.join('/' + m for m in missing)} missing on this system; the account tools need "
                "/etc/passwd, group, shadow and gshadow: restore them")
    return (f"{', '.join(missing)} missing under {ctx.root}; the account tools need etc/passwd, group, "
            f"shadow and gshadow there: run 'bunraku apply --root {ctx.root} --init-root' to seed them, or "
            "copy them from a base image")


def unknown_user(ctx: Any, name: str, what: str) -> str | None:
    """The problem when ``name`` is neither an id, nor a user of the root, nor one the catalog adds."""
    if name.isdigit() or name in ctx.accounts.passwd:
        return None
    plan = plan_of(ctx)
    if name in plan.users or plan.opaque is not None:
        return None
    role = "" if what == "user" else f" (the {what})"
    return (f"could not find user {name}{role} in etc/passwd{where(ctx)}, and no user resource before it "
            f"creates it; add user {{ '{name}': }} (it is then ordered first) or use an existing user")


def unknown_group(ctx: Any, name: str, what: str) -> str | None:
    """The problem when ``name`` is neither an id, nor a group of the root, nor one the catalog adds."""
    if name.isdigit() or name in ctx.accounts.group:
        return None
    plan = plan_of(ctx)
    if name in plan.groups or plan.opaque is not None:
        return None
    role = "" if what == "group" else f" (the {what})"
    return (f"could not find group {name}{role} in etc/group{where(ctx)}, and no group resource before it "
            f"creates it; add group {{ '{name}': }} (it is then ordered first) or use an existing group")


def user_groups_enabled(ctx: Any) -> bool:
    """Whether ``useradd`` in this root makes a group named after each new user (USERGROUPS_ENAB in the
    root's etc/login.defs; without the file the shadow tools do not)."""
    try:
        with open(ctx.path("/etc/login.defs"), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return False
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "USERGROUPS_ENAB":
            return words[1].lower() == "yes"
    return False


def first(*problems: str | None) -> str | None:
    return next((p for p in problems if p is not None), None)

"""The useradd and groupadd providers: state read from ROOT/etc/{passwd,group,shadow}; changes made
with the shadow tools (``useradd --root ROOT`` …) so their locking and consistency rules apply."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from engine import preflight
from engine.registry import Change, Provider, provider
from engine.shell import run

log = logging.getLogger(__name__)

_EPOCH = dt.date(1970, 1, 1)


def expiry_to_date(days: str) -> str:
    """Shadow's expiry field (days since the epoch) as YYYY-MM-DD, or 'absent'."""
    if not days or not days.lstrip("-").isdigit() or int(days) < 0:
        return "absent"
    return (_EPOCH + dt.timedelta(days=int(days))).isoformat()


def _prefix(ctx: Any) -> list[str]:
    # --root, not --prefix: the tools chroot into the target root, so a link in the image (etc -> /x)
    # is followed inside it, never onto the host.
    return [] if ctx.root == "/" else ["--root", ctx.root]


@provider("user", "useradd")
class UserAdd(Provider):
    __slots__ = ()

    def _current_groups(self) -> list[str]:
        return self.ctx.accounts.groups_of(self.params["name"])

    def _desired_groups(self, current: list[str]) -> list[str]:
        wanted = list(self.params["groups"])
        if self.params["membership"] == "minimum":
            wanted = current + [g for g in wanted if g not in current]
        return wanted

    def check(self) -> list[Change]:
        p = self.params
        accounts = self.ctx.accounts
        entry = accounts.passwd.get(p["name"])
        if p["ensure"] == "absent":
            return [Change("ensure", "present", "absent", "removed")] if entry else []
        if entry is None:
            return [Change("ensure", "absent", "present", "created")]
        changes: list[Change] = []

        def differ(prop: str, have: Any, want: Any) -> None:
            if want is not None and have != want:
                changes.append(Change(prop, have, want, f"{prop} changed '{have}' to '{want}'"))

        differ("uid", entry.uid, p["uid"])
        gid = p["gid"]
        if gid is not None:
            want_gid = accounts.gid_of(gid)
            if want_gid != entry.gid:
                have = str(entry.gid) if gid.isdigit() else accounts.group_name(entry.gid)
                changes.append(Change("gid", have, gid, f"gid changed '{have}' to '{gid}'"))
        differ("comment", entry.comment, p.get("comment"))
        differ("home", entry.home, p.get("home"))
        differ("shell", entry.shell, p.get("shell"))
        if p["groups"] is not None:
            current = self._current_groups()
            wanted = self._desired_groups(current)
            if sorted(current) != sorted(wanted):
                a, b = ",".join(current), ",".join(wanted)
                changes.append(Change("groups", a, b, f"groups changed '{a}' to '{b}'"))
        shadow = accounts.shadow.get(p["name"])
        if p.get("password") is not None:
            have_pw = shadow.password if shadow else ""
            if have_pw != p["password"]:
                changes.append(Change("password", have_pw, p["password"], "changed password"))
        if p.get("expiry") is not None:
            have_exp = expiry_to_date(shadow.expiry if shadow else "")
            differ("expiry", have_exp, p["expiry"])
        return changes

    def preflight(self, changes: list[Change]) -> str | None:
        p = self.params
        problems = [preflight.account_databases(self.ctx)]
        if any(c.property in ("ensure", "gid") and c.desired != "absent" for c in changes) and p["gid"] is not None:
            problems.append(preflight.unknown_group(self.ctx, p["gid"], "gid"))
        if any(c.property in ("ensure", "groups") and c.desired != "absent" for c in changes):
            problems += [preflight.unknown_group(self.ctx, g, "supplementary group") for g in p["groups"] or []]
        return preflight.first(*problems)

    def would_create(self, changes: list[Change]) -> list[tuple[str, str]]:
        p = self.params
        if not any(c.property == "ensure" and c.desired == "present" for c in changes):
            return []
        out = [("user", p["name"])]
        if p["gid"] is None and preflight.user_groups_enabled(self.ctx):
            out.append(("group", p["name"]))
        if p["managehome"]:
            out.append(("directory", p.get("home") or f"/home/{p['name']}"))
        return out

    def _flags(self) -> list[str]:
        p = self.params
        args: list[str] = []
        if p["uid"] is not None:
            args += ["-u", str(p["uid"])]
            if p["allowdupe"]:
                args.append("-o")
        if p["gid"] is not None:
            args += ["-g", p["gid"]]
        if p.get("comment") is not None:
            args += ["-c", p["comment"]]
        if p.get("home") is not None:
            args += ["-d", p["home"]]
        if p.get("shell") is not None:
            args += ["-s", p["shell"]]
        if p["groups"]:
            args += ["-G", ",".join(p["groups"])]
        if p.get("password") is not None:
            args += ["-p", p["password"]]
        if p.get("expiry") not in (None, "absent"):
            args += ["-e", p["expiry"]]
        return args

    def sync(self, change: Change) -> None:
        p = self.params
        name = p["name"]
        prefix = _prefix(self.ctx)
        prop = change.property
        try:
            if prop == "ensure":
                if change.desired == "absent":
                    run(["userdel", *prefix, *(["-r"] if p["managehome"] else []), "--", name])
                else:
                    extra = ["-m"] if p["managehome"] else ["-M"]
                    if p["system"]:
                        extra.append("-r")
                    run(["useradd", *prefix, *self._flags(), *extra, "--", name])
                return
            flag = {"uid": "-u", "gid": "-g", "comment": "-c", "home": "-d", "shell": "-s", "groups": "-G",
                    "password": "-p", "expiry": "-e"}[prop]
            value = str(change.desired)
            if prop == "expiry" and value == "absent":
                value = ""
            args = [flag, value]
            if prop == "uid" and p["allowdupe"]:
                args.append("-o")
            if prop == "home" and p["managehome"]:
                args.append("-m")
            run(["usermod", *prefix, *args, "--", name])
        finally:
            self.ctx.accounts.invalidate()

    @classmethod
    def instances(cls, ctx: Any) -> list[tuple[str, dict[str, Any]]]:
        accounts = ctx.accounts
        out = []
        for e in accounts.passwd.values():
            shadow = accounts.shadow.get(e.name)
            params: dict[str, Any] = {
                "ensure": "present", "uid": e.uid, "gid": e.gid, "home": e.home, "shell": e.shell,
                "comment": e.comment, "groups": accounts.groups_of(e.name),
            }
            if shadow is not None:
                params["password"] = shadow.password
                params["expiry"] = expiry_to_date(shadow.expiry)
            out.append((e.name, params))
        return out


@provider("group", "groupadd")
class GroupAdd(Provider):
    __slots__ = ()

    def check(self) -> list[Change]:
        p = self.params
        entry = self.ctx.accounts.group.get(p["name"])
        if p["ensure"] == "absent":
            return [Change("ensure", "present", "absent", "removed")] if entry else []
        if entry is None:
            return [Change("ensure", "absent", "present", "created")]
        changes = []
        if p["gid"] is not None and entry.gid != p["gid"]:
            changes.append(Change("gid", entry.gid, p["gid"], f"gid changed '{entry.gid}' to '{p['gid']}'"))
        if p["members"] is not None:
            have = entry.members
            want = list(p["members"]) if p["auth_membership"] else have + [m for m in p["members"] if m not in have]
            if sorted(have) != sorted(want):
                a, b = ",".join(have), ",".join(want)
                changes.append(Change("members", a, b, f"members changed '{a}' to '{b}'"))
        return changes

    def preflight(self, changes: list[Change]) -> str | None:
        return preflight.account_databases(self.ctx)

    def would_create(self, changes: list[Change]) -> list[tuple[str, str]]:
        if any(c.property == "ensure" and c.desired == "present" for c in changes):
            return [("group", self.params["name"])]
        return []

    def sync(self, change: Change) -> None:
        p = self.params
        prefix = _prefix(self.ctx)
        try:
            if change.property == "ensure":
                if change.desired == "absent":
                    run(["groupdel", *prefix, "--", p["name"]])
                    return
                args = []
                if p["gid"] is not None:
                    args += ["-g", str(p["gid"])] + (["-o"] if p["allowdupe"] else [])
                if p["system"]:
                    args.append("-r")
                if p["members"]:
                    args += ["-U", ",".join(p["members"])]
                run(["groupadd", *prefix, *args, "--", p["name"]])
            elif change.property == "gid":
                run(["groupmod", *prefix, "-g", str(change.desired), *(["-o"] if p["allowdupe"] else []),
                     "--", p["name"]])
            elif change.property == "members":
                run(["groupmod", *prefix, "-U", str(change.desired), "--", p["name"]])
        finally:
            self.ctx.accounts.invalidate()

    @classmethod
    def instances(cls, ctx: Any) -> list[tuple[str, dict[str, Any]]]:
        return [(g.name, {"ensure": "present", "gid": g.gid, "members": g.members})
                for g in ctx.accounts.group.values()]

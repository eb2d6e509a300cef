"""The ``user`` and ``group`` types."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from engine.errors import ValidationError
from engine.registry import ResourceType, resource_type
from engine.values import as_bool, as_int, as_str_list, not_an_option, one_of

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\$?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def account_name(value: Any, what: str) -> str:
    """A user or group name as the shadow tools accept it (never one that reads as an option)."""
    if isinstance(value, str):
        not_an_option(value, f"{what} name")
    if not isinstance(value, str) or not _NAME.fullmatch(value) or len(value) > 32:
        raise ValidationError(f"invalid {what} name '{value}'")
    return value


def _ensure(value: Any) -> str:
    if value is True:
        value = "present"
    elif value is False:
        value = "absent"
    ensure = one_of(value, "ensure", ("present", "absent", "role"), "present")
    return "present" if ensure == "role" else str(ensure)


def account_id_or_name(value: Any, what: str) -> str | None:
    """A numeric id or an account name, as a string; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError(f"invalid {what} {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValidationError(f"invalid {what} {value}")
        return str(value)
    if isinstance(value, str):
        not_an_option(value, what)
        if value.isdigit() or _NAME.fullmatch(value):
            return value
    raise ValidationError(f"invalid {what} {value!r}")



@resource_type("user")
class UserType(ResourceType):
    sensitive_properties = frozenset({"password"})
    parameters = frozenset({
        "name", "ensure", "uid", "gid", "home", "shell", "comment", "groups", "membership", "password",
        "managehome", "system", "expiry", "allowdupe", "forcelocal", "purge_ssh_keys", "password_min_age",
        "password_max_age", "password_warn_days", "iterations", "salt", "loginclass", "attribute_membership",
    })

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        p["name"] = account_name(p["name"], "user")
        p["ensure"] = _ensure(p.get("ensure"))
        uid = as_int(p.get("uid"), "uid")
        if uid is not None and uid < 0:
            raise ValidationError(f"invalid uid {uid}")
        p["uid"] = uid
        p["gid"] = account_id_or_name(p.get("gid"), "gid")
        for key in ("home", "shell"):
            value = p.get(key)
            if value is not None and (not isinstance(value, str) or not value.startswith("/")):
                raise ValidationError(f"{key} must be fully qualified, not '{value}'")
        comment = p.get("comment")
        if comment is not None and (not isinstance(comment, str) or ":" in comment or "\n" in comment):
            raise ValidationError("comment must be a string without ':' or newlines")
        groups = as_str_list(p.get("groups"), "groups") if p.get("groups") is not None else None
        if groups is not None:
            groups = [account_name(g, "group") for g in groups]
        p["groups"] = groups
        p["membership"] = one_of(p.get("membership"), "membership", ("minimum", "inclusive"), "minimum")
        password = p.get("password")
        if password is not None and (not isinstance(password, str) or ":" in password or "\n" in password):
            raise ValidationError("password must be a hash string without ':' or newlines")
        p["managehome"] = as_bool(p.get("managehome"), "managehome", False)
        p["system"] = as_bool(p.get("system"), "system", False)
        p["allowdupe"] = as_bool(p.get("allowdupe"), "allowdupe", False)
        expiry = p.get("expiry")
        if expiry is not None and expiry != "absent":
            if not isinstance(expiry, str) or not _DATE.fullmatch(expiry):
                raise ValidationError(f"expiry must be YYYY-MM-DD or 'absent', not {expiry!r}")
        return p

    def autorequires(self, title: str, params: Mapping[str, Any]) -> Iterable[str]:
        out = []
        gid = params.get("gid")
        if gid is not None and not gid.isdigit():
            out.append(f"Group[{gid}]")
        out.extend(f"Group[{g}]" for g in params.get("groups") or [])
        return out


@resource_type("group")
class GroupType(ResourceType):
    parameters = frozenset({"name", "ensure", "gid", "members", "system", "auth_membership", "allowdupe",
                            "forcelocal", "attribute_membership"})

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        p["name"] = account_name(p["name"], "group")
        p["ensure"] = _ensure(p.get("ensure"))
        gid = as_int(p.get("gid"), "gid")
        if gid is not None and gid < 0:
            raise ValidationError(f"invalid gid {gid}")
        p["gid"] = gid
        members = p.get("members")
        p["members"] = ([account_name(m, "user") for m in as_str_list(members, "members")]
                        if members is not None else None)
        p["system"] = as_bool(p.get("system"), "system", False)
        p["auth_membership"] = as_bool(p.get("auth_membership"), "auth_membership", True)
        p["allowdupe"] = as_bool(p.get("allowdupe"), "allowdupe", False)
        return p

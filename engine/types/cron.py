"""The ``cron`` type: entries in per-user crontabs, each marked by a ``# Bunraku Name:`` line."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from engine.errors import ValidationError
from engine.registry import ResourceType, resource_type
from engine.types.user import account_name
from engine.values import as_list, as_str_list, one_of

FIELDS = ("minute", "hour", "monthday", "month", "weekday")
SPECIALS = ("reboot", "yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly")
_RANGES = {"minute": (0, 59), "hour": (0, 23), "monthday": (1, 31), "month": (1, 12), "weekday": (0, 7)}
_NAMES = {
    "month": ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    "weekday": ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
}
_ITEM = re.compile(r"(\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/(\d+))?")


def _number(field: str, text: str) -> int:
    names = _NAMES.get(field)
    if names and text[:3].lower() in names and not text.isdigit():
        return names.index(text[:3].lower()) + (1 if field == "month" else 0)
    if not text.isdigit():
        raise ValidationError(f"invalid {field} value '{text}'")
    lo, hi = _RANGES[field]
    value = int(text)
    if not lo <= value <= hi:
        raise ValidationError(f"{field} {value} is out of range {lo}-{hi}")
    return value


def normalise_field(field: str, value: Any) -> str:
    """A cron time field as crontab text: ``*``, ``5``, ``1,15``, ``1-5``, ``*/10``, ``mon-fri``."""
    items = as_list(value)
    if not items or items == ["absent"] or items == ["*"]:
        return "*"
    out = []
    for item in items:
        if isinstance(item, bool):
            raise ValidationError(f"invalid {field} value {item!r}")
        for part in str(item).split(","):
            part = part.strip().lower()
            m = _ITEM.fullmatch(part)
            if not m:
                raise ValidationError(f"invalid {field} value '{part}'")
            base, step = m.groups()
            if base != "*":
                bounds = [_number(field, x) for x in base.split("-")]
                if len(bounds) == 2 and bounds[0] > bounds[1]:
                    raise ValidationError(f"invalid {field} range '{base}'")
            if step is not None and int(step) == 0:
                raise ValidationError(f"invalid {field} step '{part}'")
            out.append(part)
    return ",".join(out)


@resource_type("cron")
class CronType(ResourceType):
    parameters = frozenset({"name", "ensure", "command", "user", "target", "special", "environment",
                            *FIELDS})

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(p["name"], str) or "\n" in p["name"]:
            raise ValidationError("cron names must be single-line strings")
        p["ensure"] = one_of(p.get("ensure"), "ensure", ("present", "absent"), "present")
        # The crontab's file name under the spool: an account name, never '..', a path or an option.
        p["user"] = account_name(p.get("user") or p.get("target") or "root", "cron user")
        command = p.get("command")
        if p["ensure"] == "present":
            if not isinstance(command, str) or not command.strip() or "\n" in command:
                raise ValidationError("a present cron entry needs a single-line command")
        special = p.get("special")
        if special is not None and special != "absent":
            special = str(special).lstrip("@")
            if special not in SPECIALS:
                raise ValidationError(f"invalid special '{special}'; expected one of {', '.join(SPECIALS)}")
            if any(p.get(f) not in (None, "absent", "*") for f in FIELDS):
                raise ValidationError("special cannot be combined with minute/hour/monthday/month/weekday")
            p["special"] = special
        else:
            p["special"] = None
        for field in FIELDS:
            p[field] = normalise_field(field, p.get(field))
        env = as_str_list(p.get("environment"), "environment")
        if env == ["absent"]:
            env = []
        for item in env:
            if "=" not in item or "\n" in item:
                raise ValidationError(f"invalid environment setting '{item}': expected NAME=VALUE")
        p["environment"] = env
        return p

    def autorequires(self, title: str, params: Mapping[str, Any]) -> Iterable[str]:
        return (f"User[{params['user']}]",)

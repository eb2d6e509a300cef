"""Pure helpers that normalise parameter values the way Puppet's types accept them."""

from __future__ import annotations

from typing import Any

from engine.errors import ValidationError


def as_bool(value: Any, name: str, default: bool | None = None) -> bool | None:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("false", "no"):
        return False
    raise ValidationError(f"{name} must be true or false, not {value!r}")


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def as_str_list(value: Any, name: str) -> list[str]:
    out = []
    for item in as_list(value):
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise ValidationError(f"{name} must be a string or a list of strings, not {item!r}")
        out.append(str(item))
    return out


def as_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{name} must be an integer, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValidationError(f"{name} must be an integer, not {value!r}")


def one_of(value: Any, name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    if value is None:
        return default
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value)
    if text not in allowed:
        raise ValidationError(f"invalid value {value!r} for {name}; expected one of: {', '.join(allowed)}")
    return text


def not_an_option(value: str, what: str) -> str:
    """``value`` unless it starts with '-': a name that reaches a command line (dpkg, apt-get, pip,
    useradd, systemctl ...) must never be read there as an option (``--force-all``, ``-oDir=...``)."""
    if value.startswith("-"):
        raise ValidationError(f"invalid {what} '{value}': a name may not start with '-' "
                              "(a command would read it as an option)")
    return value

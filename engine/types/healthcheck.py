"""The ``healthcheck`` type: is the converged service actually working? A read-only probe.

    healthcheck { 'web':
      check         => http,                      # http | tcp | command
      url           => 'http://127.0.0.1:8080/health',
      expect_status => 200,                       # or a list; default: any 2xx
      expect_body   => 'ok',                      # a substring the body must contain
      retries       => 5,                         # attempts = 1 + retries
      interval      => 2,                         # seconds between attempts
      timeout       => 3,                         # seconds per attempt
    }
    healthcheck { 'db':  check => tcp, host => '127.0.0.1', port => 5432 }
    healthcheck { 'app': check => command, command => 'app-ctl status', path => '/usr/bin:/bin' }

Semantics (see ``engine.apply``): a health check never changes the system and runs in noop too.
Without relationships of its own it is evaluated after every other resource of the catalog; with
``require``/``subscribe``/``before``/``notify`` (on it or naming it) it takes its place in the graph
like any resource, so it can gate what comes after it. An unhealthy check is a failed resource.

Validation is pure and strict: an attribute that does not apply to the chosen ``check`` is an error
(a ``port`` on an http check is almost certainly a mistake).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from engine.catalog import HEALTHCHECK_ATTRIBUTES, HEALTHCHECK_CHECKS
from engine.errors import ValidationError
from engine.registry import ResourceType, resource_type
from engine.types.exec import command_words
from engine.values import as_int, as_str_list, one_of

CHECKS = tuple(HEALTHCHECK_CHECKS)
DEFAULT_RETRIES = 2
DEFAULT_INTERVAL = 1.0
DEFAULT_TIMEOUT = 5.0

#: The attributes each kind of check takes (besides name, check, retries, interval, timeout).
_OWN = {kind: frozenset(attrs) for kind, attrs in HEALTHCHECK_CHECKS.items()}


def _seconds(value: Any, name: str, default: float, *, minimum: float, inclusive: bool) -> float:
    if value is None:
        return default
    if isinstance(value, bool):
        raise ValidationError(f"{name} must be a number of seconds, not {value!r}")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be a number of seconds, not {value!r}") from None
    if seconds < minimum or (not inclusive and seconds == minimum):
        relation = "at least" if inclusive else "more than"
        raise ValidationError(f"{name} must be {relation} {minimum:g} seconds, not {value!r}")
    return seconds


def _infer_check(p: dict[str, Any]) -> str:
    given = [kind for kind in CHECKS if any(p.get(a) is not None for a in _OWN[kind])]
    if len(given) != 1:
        raise ValidationError("check is required: one of http, tcp, command")
    return given[0]


def _statuses(value: Any) -> list[int]:
    out = []
    for item in value if isinstance(value, list) else [value]:
        code = as_int(item, "expect_status")
        if code is None or not 100 <= code <= 599:
            raise ValidationError(f"expect_status must be an HTTP status code (100-599), not {item!r}")
        out.append(code)
    return out


@resource_type("healthcheck")
class HealthcheckType(ResourceType):
    probe = True
    parameters = frozenset(HEALTHCHECK_ATTRIBUTES)

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        check = one_of(p.get("check"), "check", CHECKS) or _infer_check(p)
        p["check"] = check
        for kind, attrs in _OWN.items():
            if kind == check:
                continue
            for attr in sorted(attrs):
                if p.get(attr) is not None and attr not in _OWN[check]:
                    raise ValidationError(f"{attr} does not apply to check => {check}")
        retries = as_int(p.get("retries"), "retries")
        p["retries"] = DEFAULT_RETRIES if retries is None else retries
        if p["retries"] < 0:
            raise ValidationError("retries must be 0 or more")
        p["interval"] = _seconds(p.get("interval"), "interval", DEFAULT_INTERVAL, minimum=0, inclusive=True)
        p["timeout"] = _seconds(p.get("timeout"), "timeout", DEFAULT_TIMEOUT, minimum=0, inclusive=False)
        if check == "http":
            self._http(p)
        elif check == "tcp":
            self._tcp(p)
        else:
            self._command(p)
        return p

    @staticmethod
    def _http(p: dict[str, Any]) -> None:
        url = p.get("url")
        if not isinstance(url, str) or not url:
            raise ValidationError("check => http needs a url")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(f"url must be an absolute http:// or https:// URL, not '{url}'")
        try:
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise ValidationError(f"url has an invalid port: '{url}'") from None
        # An empty list means "any 2xx", the usual contract of a health endpoint.
        p["expect_status"] = [] if p.get("expect_status") is None else _statuses(p["expect_status"])
        body = p.get("expect_body")
        if body is not None and not isinstance(body, str):
            raise ValidationError(f"expect_body must be a string, not {body!r}")

    @staticmethod
    def _tcp(p: dict[str, Any]) -> None:
        port = as_int(p.get("port"), "port")
        if port is None:
            raise ValidationError("check => tcp needs a port")
        if not 1 <= port <= 65535:
            raise ValidationError(f"port must be between 1 and 65535, not {port}")
        p["port"] = port
        host = p.get("host")
        if host is not None and (not isinstance(host, str) or not host):
            raise ValidationError(f"host must be a host name or address, not {host!r}")
        p["host"] = host or "127.0.0.1"

    @staticmethod
    def _command(p: dict[str, Any]) -> None:
        command = p.get("command")
        if not isinstance(command, (str, list)) or not command or not command_words(command):
            raise ValidationError("check => command needs a command (a string or an array of words)")
        path: list[str] = []
        for item in as_str_list(p.get("path"), "path"):
            path.extend(x for x in item.split(":") if x)
        p["path"] = path
        first = command_words(command)[0]
        if not first.startswith("/") and not path:
            raise ValidationError(f"'{first}' is not qualified and no path was specified. "
                                  "Please qualify the command or specify a path.")
        env = as_str_list(p.get("environment"), "environment")
        for item in env:
            if "=" not in item:
                raise ValidationError(f"invalid environment setting '{item}': expected NAME=VALUE")
        p["environment"] = env

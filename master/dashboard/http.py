"""Requests and responses of the dashboard's WSGI application: small, explicit, no framework."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode

from master.dashboard.tokens import Viewer

log = logging.getLogger(__name__)

#: Largest request body read (the login form); anything bigger is refused.
MAX_BODY = 16 * 1024

#: Every page is self-contained: inline CSS and inline SVG, nothing from anywhere else, no script at all.
SECURITY_HEADERS = [
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]


#: Characters a redirect target keeps as they are; anything else (non-ASCII) is percent-encoded, so that the
#: Location header is plain ASCII.
_LOCATION_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))
#: Percent-decoding rounds a redirect target is checked through: a browser decodes once, but a target may
#: have been encoded more than once on its way here. One still encoded after this many is refused.
_DECODE_ROUNDS = 4


class UnsafeHeader(ValueError):
    """A response header whose name or value holds a control character: it would end the header line
    early and let what follows be read as another header."""


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


class HTTPError(Exception):
    """Ends a request with ``status`` and a one-line ``message`` for the viewer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Request:
    environ: dict[str, Any]
    method: str
    path: str
    query: dict[str, str]
    cookies: dict[str, str]
    viewer: Viewer | None = None

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        raw_path = environ.get("PATH_INFO") or "/"
        # WSGI hands PATH_INFO over as latin-1-decoded bytes; node names may be UTF-8
        try:
            path = raw_path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            path = raw_path
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        cookies: dict[str, str] = {}
        header = environ.get("HTTP_COOKIE")
        if header:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(header)
            except CookieError:
                log.debug("ignoring a malformed Cookie header")
            cookies = {key: morsel.value for key, morsel in jar.items()}
        return cls(environ=environ, method=str(environ.get("REQUEST_METHOD", "GET")).upper(), path=path,
                   query=query, cookies=cookies)

    def arg(self, name: str) -> str | None:
        """A query argument, stripped; None when absent or empty."""
        value = self.query.get(name, "").strip()
        return value or None

    def int_arg(self, name: str, default: int, *, low: int = 1, high: int = 1_000_000) -> int:
        text = self.arg(name)
        if text is None:
            return default
        try:
            return max(low, min(high, int(text)))
        except ValueError:
            raise HTTPError(400, f"{name} must be a whole number, not {text!r}") from None

    def body(self, limit: int | None = None) -> bytes:
        """The request's body (its Content-Length's worth); 413 when that is more than ``limit``."""
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            raise HTTPError(413, "request body too large")
        return self.environ["wsgi.input"].read(length) if length > 0 else b""

    @property
    def media_type(self) -> str:
        """The body's media type, lower case, without its parameters ("" when none is given)."""
        return str(self.environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()

    @property
    def bearer(self) -> bool:
        """The request carries ``Authorization: Bearer ...``: a header no page elsewhere can make a browser
        send (a cookie or the query string it can)."""
        return str(self.environ.get("HTTP_AUTHORIZATION", ""))[:7].lower() == "bearer "

    def form(self) -> dict[str, str]:
        body = self.body(MAX_BODY)
        return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}

    @property
    def full_path(self) -> str:
        query = self.environ.get("QUERY_STRING")
        return quote(self.path) + (f"?{query}" if query else "")

    @property
    def secure(self) -> bool:
        return self.environ.get("wsgi.url_scheme") == "https"


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def status_line(self) -> str:
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            phrase = "Unknown"
        return f"{self.status} {phrase}"

    def wsgi_headers(self) -> list[tuple[str, str]]:
        """The headers to send; UnsafeHeader if any name or value holds a control character (whatever a
        handler put there, no header line can be split in two)."""
        headers = [("Content-Type", self.content_type), ("Content-Length", str(len(self.body))),
                   *SECURITY_HEADERS, *self.headers]
        for name, value in headers:
            if _has_control(name) or ":" in name or " " in name or _has_control(value):
                raise UnsafeHeader(f"refused to send the {name!r} header: it holds a control character")
        return headers


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "__slots__") and hasattr(value, "__dataclass_fields__"):
        return {name: getattr(value, name) for name in value.__dataclass_fields__}
    return str(value)


def json_response(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, default=_default, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return Response(status, body, "application/json; charset=utf-8")


def redirect(location: str, status: int = 303, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, b"", "text/plain; charset=utf-8", [("Location", location), *(headers or [])])


def with_query(path: str, **args: Any) -> str:
    """``path`` with the non-empty ``args`` as its query string."""
    kept = {k: v for k, v in args.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def _local_path(text: str) -> bool:
    """An absolute path on this site: one leading "/" (not "//" or "/\\", which browsers read as another
    host), no backslash, no whitespace and no control character anywhere (browsers drop tabs and newlines
    from a URL before reading it, so "/\t/evil.example.com" would be "//evil.example.com")."""
    return (text.startswith("/") and not text.startswith(("//", "/\\"))
            and not any(c == "\\" or c.isspace() or not c.isprintable() for c in text))


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site, never another one (no open redirect) and never
    anything that could split the Location header; "/" for anything else. Checked as given and after
    each round of percent-decoding, as a browser might read it."""
    if not target:
        return "/"
    seen = target
    for _ in range(_DECODE_ROUNDS):
        if not _local_path(seen):
            return "/"
        decoded = unquote(seen)
        if decoded == seen:
            return quote(target, safe=_LOCATION_SAFE)
        seen = decoded
    return "/"

"""Puppet's wire formats on the HTTP API, as pure functions: the facts of a catalog request, the node
object, the error document, the headers every answer carries."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping
from typing import Any

#: The Puppet version whose HTTP API this master speaks: agents read ``X-Puppet-Version`` to decide what
#: the server supports (JSON reports, the locales mount), as they do with puppetserver's.
PUPPET_VERSION = "7.23.0"
VERSION_HEADER = "X-Puppet-Version"
JSON = "application/json"
TEXT = "text/plain"
OCTETS = "application/octet-stream"
#: facts formats a catalog request may use (PSON is JSON for what agents send)
FACTS_FORMATS = frozenset({"application/json", "json", "pson", "text/pson"})


class RequestError(ValueError):
    """A request the API cannot read (one line for the caller, answered 400)."""


# Puppet's issue kinds (Puppet::Network::HTTP::Issues), the ``issue_kind`` of an error document
HANDLER_NOT_FOUND = "HANDLER_NOT_FOUND"
RESOURCE_NOT_FOUND = "RESOURCE_NOT_FOUND"
ENVIRONMENT_NOT_FOUND = "ENVIRONMENT_NOT_FOUND"
RUNTIME_ERROR = "RUNTIME_ERROR"
UNSUPPORTED_METHOD = "UNSUPPORTED_METHOD"
FAILED_AUTHORIZATION = "FAILED_AUTHORIZATION"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"

#: what Puppet puts before an error's message, by status
STATUS_PREFIX = {400: "Bad Request", 403: "Not Authorized", 404: "Not Found", 405: "Method Not Allowed",
                 406: "Not Acceptable", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
                 500: "Server Error", 501: "Not Implemented", 503: "Service Unavailable"}


def error_document(status: int, message: str, issue_kind: str = RUNTIME_ERROR) -> bytes:
    """Puppet's error body: ``{"message": "Not Found: ...", "issue_kind": "..."}`` (agents print the message)."""
    prefix = STATUS_PREFIX.get(status)
    text = f"{prefix}: {message}" if prefix else message
    return json.dumps({"message": text, "issue_kind": issue_kind}).encode()


def catalog_facts(params: Mapping[str, str]) -> bytes | None:
    """The facts of a catalog request as the JSON object of their values (what the compiler takes), or
    None when the request carries none. The agent sends ``facts_format`` and ``facts``: Puppet's facts
    document, URI-encoded once more inside the form."""
    text = params.get("facts")
    if text is None:
        return None
    kind = params.get("facts_format", "")
    if kind not in FACTS_FORMATS:
        raise RequestError(f"facts_format {kind[:64]!r} is not supported (send application/json)")
    return fact_values(urllib.parse.unquote_plus(text))


def fact_values(text: str | bytes) -> bytes:
    """Puppet's facts document ``{"name", "values", "timestamp", "expiration"}`` -> the JSON object of
    its values (a bare object of facts is taken as it is)."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RequestError(f"the facts are not valid JSON: {str(exc)[:200]}") from None
    if not isinstance(document, dict):
        raise RequestError("the facts must be a JSON object")
    values = document.get("values", document) if "name" in document or "values" in document else document
    if not isinstance(values, dict):
        raise RequestError("the facts' values must be a JSON object")
    return json.dumps(values, separators=(",", ":")).encode()


def node_document(name: str, environment: str, classes: Mapping[str, Any],
                  parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Puppet's node object: the agent switches to ``environment`` when it is not the one it asked for."""
    document: dict[str, Any] = {"name": name, "environment": environment}
    if classes:
        document["classes"] = {str(k): dict(v or {}) for k, v in classes.items()}
    params = {k: v for k, v in parameters.items() if k != "environment"}
    if params:
        document["parameters"] = params
    return document


def flag(value: str | None, default: bool = False) -> bool:
    """A boolean query parameter as Puppet writes them (``true``/``false``, also ``yes``/``1``)."""
    if value is None or value == "":
        return default
    return value.strip().lower() in ("true", "yes", "1")

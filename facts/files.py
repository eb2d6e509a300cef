"""Facts given as a file (``--facts FILE``) and the certificate name facts imply.

One implementation for every caller: ``bunraku apply``/``compile``/``lookup`` and the agent read a
facts file the same way, and name the node the same way when no ``--certname``/``--node`` is given.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class FactsFileError(ValueError):
    """A facts file that cannot be read or is not a mapping; the message is one line naming the file."""


def load_facts_file(path: Path | str) -> dict[str, Any]:
    """The facts in ``path``: JSON when it ends in ``.json``, YAML otherwise. An empty file is no facts;
    the ``{"name": ..., "values": {...}}`` document ``puppet facts`` prints is unwrapped."""
    p = Path(path)
    kind = "JSON" if p.suffix == ".json" else "YAML"
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise FactsFileError(f"{path}: error: cannot read facts file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise FactsFileError(f"{path}: error: facts file is not UTF-8 text") from None
    try:
        data = json.loads(text) if kind == "JSON" else _yaml(text)
    except ValueError as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise FactsFileError(f"{path}: error: facts file is not valid {kind}: {first}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FactsFileError(f"{path}: error: facts file must hold a mapping of fact names to values")
    if "values" in data and isinstance(data["values"], dict) and "name" in data:
        data = data["values"]
    return data


def _yaml(text: str) -> Any:
    import yaml  # only for YAML files: a JSON file (the agent's, the benchmarks') never pays for it

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


def certname_from_facts(facts: Mapping[str, Any] | None) -> str:
    """The name a node goes by when none is given, as Puppet's ``certname`` defaults: the fqdn fact
    (structured, then legacy), else this host's FQDN; lowercased."""
    facts = facts or {}
    networking = facts.get("networking")
    fqdn = networking.get("fqdn") if isinstance(networking, Mapping) else None
    name = fqdn or facts.get("fqdn") or socket.getfqdn()
    return str(name).lower()

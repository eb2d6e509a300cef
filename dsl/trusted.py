"""``$trusted``: what a compilation knows for certain about the node, built in one place.

Every path that compiles builds it here: the master for a node's certificate (gRPC and Puppet's HTTP
API alike, and the compiles of stored facts behind ``catalog diff`` and a rollout's check), the
compiler for a masterless run. The shape is Puppet's, keys in its order::

    {'authenticated' => 'remote', 'certname' => 'web01.example.com', 'extensions' => {'pp_role' => 'web'},
     'hostname' => 'web01', 'domain' => 'example.com', 'external' => {}}

``authenticated`` is ``'remote'`` for a certificate the master verified, ``'local'`` for a run on the
node itself (``bunraku apply``; no certificate is read, so no extensions, as ``puppet apply``), and
``false`` for a caller without one (certname, hostname and domain then undef). ``hostname`` and
``domain`` split the certname at its first dot (``domain`` undef without one).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Authenticated = Literal["remote", "local", False]


def trusted_data(certname: str | None, authenticated: Authenticated = "remote",
                 extensions: Mapping[str, Any] | None = None,
                 external: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``$trusted`` for ``certname``: see the module docstring."""
    if authenticated is False:
        certname = None
    hostname: str | None = None
    domain: str | None = None
    if certname:
        hostname, _, rest = certname.partition(".")
        domain = rest or None
    return {
        "authenticated": authenticated,
        "certname": certname,
        "extensions": dict(extensions or {}) if authenticated == "remote" else {},
        "hostname": hostname,
        "domain": domain,
        "external": dict(external or {}),
    }

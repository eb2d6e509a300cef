"""``ssh``: the host keys and their SSHFP fingerprints, from /etc/ssh/ssh_host_*_key.pub."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from facts.core._io import read_text
from facts.registry import collector

KEY_DIRS = ("/etc/ssh", "/usr/local/etc/ssh", "/etc", "/usr/local/etc", "/etc/opt/ssh")
KEY_FILES = ("ssh_host_rsa_key.pub", "ssh_host_dsa_key.pub", "ssh_host_ecdsa_key.pub", "ssh_host_ed25519_key.pub")
_NAMES = {"ssh-dss": "dsa", "ecdsa-sha2-nistp256": "ecdsa", "ecdsa-sha2-nistp384": "ecdsa",
          "ecdsa-sha2-nistp521": "ecdsa", "ssh-ed25519": "ed25519", "ssh-rsa": "rsa"}
# SSHFP algorithm numbers (RFC 4255, 6594, 7479).
_SSHFP = {"rsa": 1, "dsa": 2, "ecdsa": 3, "ed25519": 4}


def ssh_key_fact(text: str) -> tuple[str, dict[str, Any]] | None:
    """A public key line ("ssh-ed25519 AAAA... root@host") to ("ed25519", {fingerprints, key, type})."""
    fields = text.split()
    if len(fields) < 2 or fields[0] not in _NAMES:
        return None
    import base64
    import binascii
    import hashlib

    key_type, key = fields[0], fields[1]
    try:
        blob = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        return None
    name = _NAMES[key_type]
    number = _SSHFP[name]
    return name, {
        "fingerprints": {
            "sha1": f"SSHFP {number} 1 {hashlib.sha1(blob).hexdigest()}",
            "sha256": f"SSHFP {number} 2 {hashlib.sha256(blob).hexdigest()}",
        },
        "key": key,
        "type": key_type,
    }


@collector("ssh")
def collect_ssh(_facts: Mapping[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for directory in KEY_DIRS:
        for filename in KEY_FILES:
            text = read_text(f"{directory}/{filename}")
            parsed = ssh_key_fact(text) if text else None
            if parsed and parsed[0] not in keys:
                keys[parsed[0]] = parsed[1]
    return {"ssh": keys} if keys else {}

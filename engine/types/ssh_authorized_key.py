"""The ``ssh_authorized_key`` type: one key line in a user's authorized_keys file, found by its name."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from engine.errors import ValidationError
from engine.registry import ResourceType, resource_type
from engine.types.user import account_name
from engine.values import as_str_list, one_of

KEY_TYPES = {
    "ssh-rsa": "ssh-rsa", "rsa": "ssh-rsa", "ssh-dss": "ssh-dss", "dsa": "ssh-dss",
    "ssh-ed25519": "ssh-ed25519", "ed25519": "ssh-ed25519",
    "ecdsa-sha2-nistp256": "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384": "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521": "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com": "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com": "sk-ecdsa-sha2-nistp256@openssh.com",
}
_BASE64 = re.compile(r"\A[A-Za-z0-9+/]+={0,2}\Z")


@resource_type("ssh_authorized_key")
class SshAuthorizedKeyType(ResourceType):
    parameters = frozenset({"name", "ensure", "key", "type", "user", "target", "options",
                            "drop_private_keys"})

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        name = p["name"]
        if not isinstance(name, str) or not name or any(c in name for c in "\n\r"):
            raise ValidationError("the key name must be a non-empty single-line string")
        p["ensure"] = one_of(p.get("ensure"), "ensure", ("present", "absent"), "present")
        user = p.get("user")
        if not isinstance(user, str) or not user:
            raise ValidationError("ssh_authorized_key needs the account it belongs to: user => NAME")
        account_name(user, "user")
        if p["ensure"] == "present":
            key = p.get("key")
            if not isinstance(key, str) or not _BASE64.match(key):
                raise ValidationError("key must be the base64 key material alone (no type, no comment)")
            kind = KEY_TYPES.get(str(p.get("type", "")).lower())
            if kind is None:
                raise ValidationError(f"unknown key type {p.get('type')!r}; expected one of "
                                      f"{', '.join(sorted(set(KEY_TYPES.values())))}")
            p["type"] = kind
        options = as_str_list(p.get("options"), "options")
        p["options"] = [] if options == ["absent"] else options
        target = p.get("target")
        if target is not None and (not isinstance(target, str) or not target.startswith("/")):
            raise ValidationError("target must be an absolute path")
        return p

    def autorequires(self, title: str, params: Mapping[str, Any]) -> Iterable[str]:
        return (f"User[{params['user']}]",)

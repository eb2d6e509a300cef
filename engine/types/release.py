"""The ``release`` type: a version of an application deployed from an artifact, switched atomically.

    release { 'shop':
      version       => '1.4.2',
      path          => '/srv/shop',      # releases/<version>/ and the link current -> releases/<version>
      keep          => 5,                # versions kept on disk (the current one always is)
      owner         => 'shop',
      before_switch => 'php artisan migrate --force',   # run in the new release's directory
      after_switch  => 'systemctl reload php-fpm',
      healthcheck   => 'curl -fsS http://127.0.0.1/health',   # fails: current goes back to the previous
    }

The artifact is the master's ``APP VERSION`` (``bunraku artifact push``): the master adds its
``sha256``, ``size`` and ``filename`` to the catalog, and the agent checks what it downloads against
that digest. ``format`` says how it is unpacked: ``tar`` (.tar.gz, .tgz, .tar), ``zip``, or ``file``
(anything else, such as a .jar: kept as it is in the release's directory); ``auto`` (the default)
goes by the file name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from engine.errors import ValidationError
from engine.registry import ResourceType, resource_type
from engine.types.user import account_id_or_name
from engine.values import as_int, one_of

#: the attributes the compiler and the engine know (dsl.resource_types lists the same)
RELEASE_ATTRIBUTES = ("app", "version", "path", "keep", "owner", "group", "format", "before_switch",
                      "after_switch", "healthcheck", "sha256", "size", "filename")
FORMATS = ("auto", "tar", "zip", "file")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}\Z")


def format_of(filename: str, declared: str = "auto") -> str:
    """How an artifact named ``filename`` is unpacked."""
    if declared != "auto":
        return declared
    lower = filename.lower()
    if lower.endswith((".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")):
        return "tar"
    if lower.endswith(".zip"):
        return "zip"
    return "file"


@resource_type("release")
class ReleaseType(ResourceType):
    namevar = "app"
    parameters = frozenset(RELEASE_ATTRIBUTES)

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        for key in ("app", "version"):
            value = p.get(key)
            if value is None or not _NAME.match(str(value)):
                raise ValidationError(f"{key} must be letters, digits and . _ + - (starting with a letter or "
                                      f"digit), not {value!r}")
            p[key] = str(value)
        path = p.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValidationError(f"path must be fully qualified, not {path!r}")
        p["path"] = os.path.normpath(path)
        if p["path"] == "/":
            raise ValidationError("path cannot be /")
        keep = as_int(p.get("keep"), "keep")
        p["keep"] = 5 if keep is None else keep
        if p["keep"] < 1:
            raise ValidationError("keep must be at least 1 (the current version)")
        p["format"] = one_of(p.get("format"), "format", FORMATS, "auto")
        for key in ("owner", "group"):
            p[key] = account_id_or_name(p.get(key), key)
        for key in ("before_switch", "after_switch", "healthcheck"):
            value = p.get(key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValidationError(f"{key} must be a command string")
        digest = p.get("sha256")
        if digest is not None and not re.fullmatch(r"[0-9a-f]{64}", str(digest)):
            raise ValidationError("sha256 must be 64 lowercase hex digits")
        size = as_int(p.get("size"), "size")
        p["size"] = -1 if size is None else size
        filename = p.get("filename")
        if filename is not None and (not isinstance(filename, str) or "/" in filename
                                     or filename in ("", ".", "..")):
            raise ValidationError(f"filename must be a plain file name, not {filename!r}")
        return p

    def autorequires(self, title: str, params: Mapping[str, Any]) -> Iterable[str]:
        out = [f"File[{params['path']}]", f"File[{os.path.dirname(params['path'])}]"]
        if params.get("owner"):
            out.append(f"User[{params['owner']}]")
        if params.get("group"):
            out.append(f"Group[{params['group']}]")
        return out

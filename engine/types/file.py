"""The ``file`` type: files, directories and links, with content, source, mode, owner and group."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from engine.errors import ValidationError
from engine.modes import parse_mode
from engine.registry import ResourceType, resource_type
from engine.values import as_bool, as_int, as_str_list, one_of

ENSURES = ("present", "file", "directory", "link", "absent")
CHECKSUMS = ("md5", "sha256", "sha224", "sha384", "sha512", "mtime", "ctime", "none")


def normalise_path(path: Any) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValidationError(f"file paths must be fully qualified, not '{path}'")
    path = os.path.normpath(path)
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    return path


@resource_type("file")
class FileType(ResourceType):
    namevar = "path"
    parameters = frozenset({
        "path", "ensure", "content", "source", "mode", "owner", "group", "target", "backup", "replace",
        "force", "recurse", "recurselimit", "purge", "checksum", "checksum_value", "links", "ignore",
        "show_diff", "sourceselect", "source_permissions", "validate_cmd", "validate_replacement",
        "selinux_ignore_defaults", "seltype", "selrole", "seluser", "selrange", "max_files",
    })

    def normalise(self, title: str, p: dict[str, Any]) -> dict[str, Any]:
        p["path"] = normalise_path(p["path"])
        ensure = p.get("ensure")
        if ensure is True or ensure == "true":
            ensure = "present"
        elif ensure is False or ensure == "false":
            ensure = "absent"
        if isinstance(ensure, str) and ensure.startswith("/"):
            p["target"] = ensure
            ensure = "link"
        if ensure is not None:
            ensure = one_of(ensure, "ensure", ENSURES)
        if p.get("content") is not None and p.get("source") is not None:
            raise ValidationError("you cannot specify more than one of content, source, target")
        content = p.get("content")
        if content is not None:
            if isinstance(content, str):
                p["content"] = content.encode("utf-8")
            elif not isinstance(content, bytes):
                raise ValidationError(f"content must be a string, not {type(content).__name__}")
            if ensure in ("directory", "link"):
                raise ValidationError(f"content cannot be set with ensure => {ensure}")
        sources = as_str_list(p.get("source"), "source")
        for src in sources:
            if not (src.startswith("/") or src.startswith("puppet://") or src.startswith("file://")):
                raise ValidationError(f"cannot use relative source '{src}'; use an absolute path or a "
                                      "puppet:/// URI")
        p["source"] = sources or None
        if p.get("target") is not None and not isinstance(p["target"], str):
            raise ValidationError("target must be a path")
        if ensure is None:
            if content is not None or sources:
                ensure = "file" if content is not None else "present"
            elif p.get("target") is not None:
                ensure = "link"
        if ensure == "link" and not p.get("target"):
            raise ValidationError("ensure => link needs a target")
        p["ensure"] = ensure
        if p.get("mode") is not None:
            p["mode"] = parse_mode(p["mode"])
        for key in ("owner", "group"):
            if p.get(key) is not None:
                value = p[key]
                if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
                    raise ValidationError(f"invalid {key} {value!r}")
                p[key] = str(value)
        backup = p.get("backup")
        if backup is None or backup is False or backup == "false" or backup == "":
            p["backup"] = None
        elif backup is True or backup == "true":
            p["backup"] = "puppet"
        else:
            p["backup"] = str(backup)
        p["replace"] = as_bool(p.get("replace"), "replace", True)
        p["force"] = as_bool(p.get("force"), "force", False)
        recurse = p.get("recurse")
        p["recurse"] = True if recurse in ("remote", "inf") else as_bool(recurse, "recurse", False)
        p["recurselimit"] = as_int(p.get("recurselimit"), "recurselimit")
        p["purge"] = as_bool(p.get("purge"), "purge", False)
        p["show_diff"] = as_bool(p.get("show_diff"), "show_diff", True)
        # Puppet 7's default digest_algorithm
        p["checksum"] = one_of(p.get("checksum"), "checksum", CHECKSUMS, "sha256")
        p["links"] = one_of(p.get("links"), "links", ("manage", "follow"), "manage")
        p["ignore"] = as_str_list(p.get("ignore"), "ignore")
        return p

    def autorequires(self, title: str, params: Mapping[str, Any]) -> Iterable[str]:
        path = params["path"]
        out = []
        cut = path.rfind("/")
        while cut > 0:
            path = path[:cut]
            out.append(f"File[{path}]")
            cut = path.rfind("/")
        if params["path"] != "/":
            out.append("File[/]")
        if params.get("owner"):
            out.append(f"User[{params['owner']}]")
        if params.get("group"):
            out.append(f"Group[{params['group']}]")
        return out

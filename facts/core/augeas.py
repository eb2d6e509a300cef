"""``augeas``: the version of the Augeas library on this host, which Puppet's augeas resource type uses.

Read from libaugeas itself (its ``/augeas/version`` node, with nothing loaded) when the library is
installed, else from ``augtool --version``/``augparse --version``; no fact when neither is there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from facts.core._io import run_command
from facts.registry import collector

_VERSION = re.compile(r"\b(\d+\.\d+(?:\.\d+)*)\b")

# aug_init flags: AUG_NO_STDINC | AUG_NO_LOAD | AUG_NO_MODL_AUTOLOAD, so opening the library reads no lens
# and no file.
_BARE_INIT = 8 | 32 | 64


def parse_augeas_version(text: str) -> str | None:
    """The version in ``augtool --version``'s first line ("augtool 1.14.0 <http://augeas.net/>")."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    match = _VERSION.search(first)
    return match.group(1) if match else None


def _library_version() -> str | None:
    try:
        import ctypes
    except ImportError:  # pragma: no cover - CPython always has ctypes
        return None
    for soname in ("libaugeas.so.0", "libaugeas.so"):
        try:
            lib = ctypes.CDLL(soname)
        except OSError:
            continue
        lib.aug_init.restype = ctypes.c_void_p
        lib.aug_init.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
        lib.aug_get.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
        lib.aug_close.argtypes = [ctypes.c_void_p]
        handle = lib.aug_init(None, None, _BARE_INIT)
        if not handle:
            return None
        try:
            value = ctypes.c_char_p()
            if lib.aug_get(handle, b"/augeas/version", ctypes.byref(value)) == 1 and value.value:
                return value.value.decode("ascii", errors="replace")
        finally:
            lib.aug_close(handle)
        return None
    return None


@collector("augeas")
def collect_augeas(_facts: Mapping[str, Any]) -> dict[str, Any]:
    version = _library_version()
    if version is None:
        for tool in ("augtool", "augparse"):
            output = run_command([tool, "--version"])
            if output and (version := parse_augeas_version(output)):
                break
    return {"augeas": {"version": version}} if version else {}

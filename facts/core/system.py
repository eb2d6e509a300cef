"""Small facts about the running system: kernel, identity, path, timezone, load, uptime, versions."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from facts.core._io import read_text
from facts.registry import collector


def kernel_facts(sysname: str, release: str) -> dict[str, str]:
    """``kernel``, ``kernelrelease`` ("6.1.0-18-amd64"), ``kernelversion`` ("6.1.0"), ``kernelmajversion``."""
    version = release.split("-")[0]
    parts = version.split(".")
    return {
        "kernel": sysname,
        "kernelrelease": release,
        "kernelversion": version,
        "kernelmajversion": ".".join(parts[:2]),
    }


def parse_uptime(text: str) -> int:
    """/proc/uptime ("322.06 519.83") to whole seconds."""
    return int(float(text.split()[0]))


def uptime_fact(seconds: int) -> dict[str, Any]:
    """Facter's ``system_uptime``: seconds, hours, days and the text "3 days", "1 day", "5:07 hours"."""
    hours = seconds // 3600
    days = hours // 24
    minutes = (seconds // 60) % 60
    if days == 0:
        text = f"{hours}:{minutes:02d} hours"
    elif days == 1:
        text = "1 day"
    else:
        text = f"{days} days"
    return {"days": days, "hours": hours, "seconds": seconds, "uptime": text}


def parse_loadavg(text: str) -> dict[str, float]:
    """/proc/loadavg ("0.53 0.30 0.14 1/143 9976") to Facter's ``load_averages``."""
    one, five, fifteen = (float(v) for v in text.split()[:3])
    return {"1m": one, "5m": five, "15m": fifteen}


@collector("kernel")
def collect_kernel(_facts: Mapping[str, Any]) -> dict[str, Any]:
    uname = os.uname()
    return kernel_facts(uname.sysname, uname.release)


@collector("identity")
def collect_identity(_facts: Mapping[str, Any]) -> dict[str, Any]:
    import grp
    import pwd

    uid, gid = os.geteuid(), os.getegid()
    identity: dict[str, Any] = {"uid": uid, "gid": gid, "privileged": uid == 0}
    try:
        identity["user"] = pwd.getpwuid(uid).pw_name
    except KeyError:
        pass
    try:
        identity["group"] = grp.getgrgid(gid).gr_name
    except KeyError:
        pass
    return {"identity": identity}


@collector("path")
def collect_path(_facts: Mapping[str, Any]) -> dict[str, Any]:
    return {"path": os.environ.get("PATH", "")}


@collector("timezone")
def collect_timezone(_facts: Mapping[str, Any]) -> dict[str, Any]:
    # Facter reports the abbreviation in force now ("UTC", "CET", "CEST"), as Ruby's Time#zone does.
    return {"timezone": time.strftime("%Z")}


@collector("load_averages")
def collect_load_averages(_facts: Mapping[str, Any]) -> dict[str, Any]:
    text = read_text("/proc/loadavg")
    if text is None:
        one, five, fifteen = os.getloadavg()
        return {"load_averages": {"1m": one, "5m": five, "15m": fifteen}}
    return {"load_averages": parse_loadavg(text)}


@collector("system_uptime")
def collect_system_uptime(_facts: Mapping[str, Any]) -> dict[str, Any]:
    text = read_text("/proc/uptime")
    seconds = parse_uptime(text) if text else int(time.clock_gettime(time.CLOCK_BOOTTIME))
    return {"system_uptime": uptime_fact(seconds)}


def _bunraku_version() -> str | None:
    # The CLI module is already loaded when `bunraku facts` runs; importlib.metadata (slow to import)
    # is only the fallback for library callers.
    for module_name in ("cli", "bunraku", "__main__"):
        module = sys.modules.get(module_name)
        if module is None:
            continue
        if module_name == "__main__" and not str(getattr(module, "__file__", "")).endswith("bunraku.py"):
            continue
        version = getattr(module, "__version__", None)
        if isinstance(version, str):
            return version
    try:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version
    except ImportError:  # pragma: no cover
        return None
    try:
        return dist_version("bunraku")
    except PackageNotFoundError:
        return None


# ``facterversion`` is the Facter release whose fact names, layout and formats these collectors follow
# (checked against ``facter --show-legacy`` 4.3.0), not a Facter we run: manifests and modules test it
# (``versioncmp($facts['facterversion'], '4.0.0')``) to pick the Facter 4 layout, which is what we give them.
FACTER_COMPATIBLE_VERSION = "4.3.0"


@collector("versions")
def collect_versions(_facts: Mapping[str, Any]) -> dict[str, Any]:
    info = sys.version_info
    result: dict[str, Any] = {
        "facterversion": FACTER_COMPATIBLE_VERSION,
        "python_version": f"{info.major}.{info.minor}.{info.micro}",
        "python": {"version": f"{info.major}.{info.minor}.{info.micro}", "implementation":
                   sys.implementation.name, "executable": sys.executable},
    }
    version = _bunraku_version()
    if version:
        result["bunraku_version"] = version
    return result


def parse_filesystems(text: str) -> str:
    """/proc/filesystems to Facter's ``filesystems``: the block-device ones, sorted, comma-joined."""
    found = sorted({line.split()[0] for line in text.splitlines() if len(line.split()) == 1} - {"fuseblk"})
    return ",".join(found)


@collector("filesystems")
def collect_filesystems(_facts: Mapping[str, Any]) -> dict[str, Any]:
    text = read_text("/proc/filesystems")
    result: dict[str, Any] = {"fips_enabled": (read_text("/proc/sys/crypto/fips_enabled") or "0").strip() == "1"}
    if text is not None:
        result["filesystems"] = parse_filesystems(text)
    return result

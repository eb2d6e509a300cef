"""The ``os`` fact: name, family, release, distro, architecture, hardware, selinux."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from facts.core._io import read_line, read_text
from facts.registry import collector

_FAMILIES: dict[str, tuple[str, ...]] = {
    "RedHat": ("redhat", "rhel", "fedora", "centos", "scientific", "ascendos", "cloudlinux", "psbm",
               "oraclelinux", "ovs", "oel", "amazon", "xenserver", "xcp-ng", "virtuozzo", "photon",
               "mariner", "rocky", "almalinux"),
    "Debian": ("debian", "ubuntu", "huaweios", "linuxmint", "devuan", "kde"),
    "Suse": ("sles", "sled", "suse"),
    "Gentoo": ("gentoo",),
    "Archlinux": ("arch", "manjaro"),
    "Mandrake": ("mandrake", "mandriva", "mageia"),
}
# Debian's uname -m is not its architecture name, and Facter reports Debian's.
_DEBIAN_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "i386", "i586": "i386", "armv7l": "armhf",
                "ppc64le": "ppc64el"}


def parse_os_release(text: str) -> dict[str, str]:
    """/etc/os-release (a shell-style ``KEY=value`` file) to a dict of its keys."""
    result: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        result[key.strip()] = value.replace('\\"', '"')
    return result


def os_name(release: Mapping[str, str]) -> str:
    """Facter's ``os.name``: "Debian", "Ubuntu", "RedHat", "Rocky", "Alpine" ... from NAME."""
    name = release.get("NAME") or release.get("ID", "Linux")
    lowered = name.lower()
    if lowered.startswith(("red", "oracle", "arch", "manjaro")):
        name = "".join(name.split(" ")[0:2])
    elif lowered.endswith("mariner"):
        name = name.split(" ")[-1].strip()
    else:
        name = name.split(" ")[0].strip()
    if name.lower().startswith(("arch", "manjaro")):
        name = name.capitalize()
    return name


def os_family(release: Mapping[str, str], name: str) -> str:
    candidates = [release.get("ID", "")] + release.get("ID_LIKE", "").split() + [name]
    for candidate in candidates:
        for family, members in _FAMILIES.items():
            if candidate and any(member in candidate.lower() for member in members):
                return family
    return name


def release_hash(version: str) -> dict[str, str]:
    parts = version.split(".")
    result = {"full": version, "major": parts[0]}
    if len(parts) > 1:
        result["minor"] = parts[1]
    return result


def parse_redhat_release(text: str) -> tuple[str | None, str | None]:
    """"Rocky Linux release 9.3 (Blue Onyx)" -> ("9.3", "Blue Onyx")."""
    match = re.search(r"release\s+([\d.]+)(?:\s*\(([^)]*)\))?", text)
    if not match:
        return None, None
    return match.group(1), match.group(2)


def os_fact(release: Mapping[str, str], *, machine: str, debian_version: str | None = None,
            redhat_release: str | None = None, selinux: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build the ``os`` fact from the parsed os-release and the distribution's own release files."""
    name = os_name(release)
    family = os_family(release, name)
    codename = release.get("VERSION_CODENAME") or release.get("UBUNTU_CODENAME")
    version_id = release.get("VERSION_ID", "")
    if family == "Debian" and name == "Ubuntu":
        version = {"full": version_id, "major": version_id}  # "22.04" is the major release
    elif family == "Debian" and debian_version and re.fullmatch(r"[\d.]+", debian_version):
        version = release_hash(debian_version)
    elif family == "RedHat" and redhat_release:
        full, rh_codename = parse_redhat_release(redhat_release)
        version = release_hash(full or version_id)
        codename = codename or rh_codename
    elif version_id:
        version = release_hash(version_id if "." in version_id else version_id + ".0")
    else:
        version = {}
    hardware = machine
    architecture = _DEBIAN_ARCH.get(machine, machine) if family == "Debian" else machine
    if family == "RedHat" and machine in ("i586", "i686"):
        architecture = "i386"
    distro: dict[str, Any] = {
        "id": name if name != "RedHat" else "RedHatEnterprise",
        "description": release.get("PRETTY_NAME", name),
    }
    if codename:
        distro["codename"] = codename
    if version:
        distro["release"] = dict(version)
    result: dict[str, Any] = {
        "name": name,
        "family": family,
        "architecture": architecture,
        "hardware": hardware,
        "distro": distro,
        "selinux": dict(selinux) if selinux else {"enabled": False},
    }
    if version:
        result["release"] = version
    return result


def selinux_fact(enforce: str | None, config: str | None, policy_version: str | None) -> dict[str, Any]:
    """From /sys/fs/selinux/enforce (None: not mounted), /etc/selinux/config and policyvers."""
    if enforce is None:
        return {"enabled": False}
    settings = parse_os_release(config or "")
    current = "enforcing" if enforce.strip() == "1" else "permissive"
    result: dict[str, Any] = {
        "enabled": True,
        "enforced": current == "enforcing",
        "current_mode": current,
    }
    if settings.get("SELINUX"):
        result["config_mode"] = settings["SELINUX"]
    if settings.get("SELINUXTYPE"):
        result["config_policy"] = settings["SELINUXTYPE"]
    if policy_version:
        result["policy_version"] = policy_version.strip()
    return result


@collector("os")
def collect_os(_facts: Mapping[str, Any]) -> dict[str, Any]:
    text = read_text("/etc/os-release") or read_text("/usr/lib/os-release") or ""
    release = parse_os_release(text)
    selinux = selinux_fact(read_line("/sys/fs/selinux/enforce"), read_text("/etc/selinux/config"),
                           read_line("/sys/fs/selinux/policyvers"))
    return {"os": os_fact(release, machine=os.uname().machine, debian_version=read_line("/etc/debian_version"),
                          redhat_release=read_line("/etc/redhat-release"), selinux=selinux)}

"""The flat fact names older manifests use ($::osfamily, $::ipaddress_eth0 ...), derived from the
structured facts exactly as ``facter --show-legacy`` names and formats them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from facts.units import bytes_to_mib


def _get(facts: Mapping[str, Any], *path: str) -> Any:
    value: Any = facts
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _put(target: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        target[name] = value


def legacy_facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Every legacy name whose source fact is present."""
    out: dict[str, Any] = {}
    g = _get
    # os
    _put(out, "operatingsystem", g(facts, "os", "name"))
    _put(out, "osfamily", g(facts, "os", "family"))
    _put(out, "operatingsystemrelease", g(facts, "os", "release", "full"))
    _put(out, "operatingsystemmajrelease", g(facts, "os", "release", "major"))
    _put(out, "architecture", g(facts, "os", "architecture"))
    _put(out, "hardwaremodel", g(facts, "os", "hardware"))
    _put(out, "lsbdistcodename", g(facts, "os", "distro", "codename"))
    _put(out, "lsbdistdescription", g(facts, "os", "distro", "description"))
    _put(out, "lsbdistid", g(facts, "os", "distro", "id"))
    _put(out, "lsbdistrelease", g(facts, "os", "distro", "release", "full"))
    _put(out, "lsbmajdistrelease", g(facts, "os", "distro", "release", "major"))
    _put(out, "lsbminordistrelease", g(facts, "os", "distro", "release", "minor"))
    selinux = g(facts, "os", "selinux")
    if isinstance(selinux, Mapping):
        _put(out, "selinux", selinux.get("enabled"))
        for key in ("config_mode", "config_policy", "current_mode", "enforced", "policy_version"):
            _put(out, f"selinux_{key}", selinux.get(key))
    # identity
    _put(out, "id", g(facts, "identity", "user"))
    _put(out, "gid", g(facts, "identity", "group"))
    # processors
    _put(out, "processorcount", g(facts, "processors", "count"))
    _put(out, "physicalprocessorcount", g(facts, "processors", "physicalcount"))
    _put(out, "hardwareisa", g(facts, "processors", "isa"))
    for index, model in enumerate(g(facts, "processors", "models") or []):
        out[f"processor{index}"] = model
    # memory
    for prefix, block in (("memory", "system"), ("swap", "swap")):
        total, available = g(facts, "memory", block, "total_bytes"), g(facts, "memory", block, "available_bytes")
        if total is not None:
            out[f"{prefix}size"] = g(facts, "memory", block, "total")
            out[f"{prefix}size_mb"] = bytes_to_mib(total)
        if available is not None:
            out[f"{prefix}free"] = g(facts, "memory", block, "available")
            out[f"{prefix}free_mb"] = bytes_to_mib(available)
    # networking
    net = facts.get("networking")
    if isinstance(net, Mapping):
        for name in ("hostname", "domain", "fqdn"):
            _put(out, name, net.get(name))
        for legacy, key in (("ipaddress", "ip"), ("ipaddress6", "ip6"), ("macaddress", "mac"),
                            ("netmask", "netmask"), ("netmask6", "netmask6"), ("network", "network"),
                            ("network6", "network6"), ("scope6", "scope6")):
            _put(out, legacy, net.get(key))
        interfaces = net.get("interfaces") or {}
        if interfaces:
            out["interfaces"] = ",".join(sorted(interfaces))
        for ifname, iface in sorted(interfaces.items()):
            suffix = ifname.replace(".", "_").replace(":", "_").replace("-", "_")
            for legacy, key in (("ipaddress", "ip"), ("ipaddress6", "ip6"), ("macaddress", "mac"),
                                ("mtu", "mtu"), ("netmask", "netmask"), ("netmask6", "netmask6"),
                                ("network", "network"), ("network6", "network6"), ("scope6", "scope6")):
                _put(out, f"{legacy}_{suffix}", iface.get(key))
        # Facter's dhcp_servers: "system" is the primary interface's DHCP server (null when it has
        # none, which Facter prints too), then every interface that got its address from one.
        dhcp: dict[str, Any] = {"system": net.get("dhcp")}
        for ifname, iface in sorted(interfaces.items()):
            if isinstance(iface, Mapping) and iface.get("dhcp"):
                dhcp[ifname] = iface["dhcp"]
        out["dhcp_servers"] = dhcp
    # augeas
    _put(out, "augeasversion", g(facts, "augeas", "version"))
    # disks, dmi
    disks = facts.get("disks") or {}
    if disks:
        out["blockdevices"] = ",".join(sorted(disks))
        for name, disk in sorted(disks.items()):
            _put(out, f"blockdevice_{name}_size", disk.get("size_bytes"))
            _put(out, f"blockdevice_{name}_vendor", disk.get("vendor"))
            _put(out, f"blockdevice_{name}_model", disk.get("model"))
    for legacy, path in (("bios_release_date", ("bios", "release_date")), ("bios_vendor", ("bios", "vendor")),
                         ("bios_version", ("bios", "version")), ("boardassettag", ("board", "asset_tag")),
                         ("boardmanufacturer", ("board", "manufacturer")),
                         ("boardproductname", ("board", "product")),
                         ("boardserialnumber", ("board", "serial_number")),
                         ("chassisassettag", ("chassis", "asset_tag")), ("chassistype", ("chassis", "type")),
                         ("manufacturer", ("manufacturer",)), ("productname", ("product", "name")),
                         ("serialnumber", ("product", "serial_number")), ("uuid", ("product", "uuid"))):
        _put(out, legacy, g(facts, "dmi", *path))
    # uptime
    for legacy, key in (("uptime", "uptime"), ("uptime_days", "days"), ("uptime_hours", "hours"),
                        ("uptime_seconds", "seconds")):
        _put(out, legacy, g(facts, "system_uptime", key))
    # ssh
    for name, key in sorted((facts.get("ssh") or {}).items()):
        _put(out, f"ssh{name}key", key.get("key"))
        sha1, sha256 = g(key, "fingerprints", "sha1"), g(key, "fingerprints", "sha256")
        if sha1 and sha256:
            out[f"sshfp_{name}"] = f"{sha1}\n{sha256}"
    return out

"""``networking``: interfaces with their bindings, the primary interface, hostname, domain, fqdn.

Addresses come from the kernel over rtnetlink (no subprocess); where that is not allowed, from
``ip -json addr show`` with the IPv6 flags of /proc/net/if_inet6 (Facter's source for them), and
last from psutil. MAC and MTU come from /sys/class/net, the primary interface from the default
route in /proc/net/route.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from facts.core import netlink
from facts.core._io import list_dir, read_line, read_text, run_command
from facts.registry import collector

log = logging.getLogger(__name__)

# /proc/net/if_inet6 carries the old 8-bit IFA_F_* flags.
_IFA_FLAGS = (("temporary", 0x01), ("noad", 0x02), ("optimistic", 0x04), ("dadfailed", 0x08),
              ("homeaddress", 0x10), ("deprecated", 0x20), ("tentative", 0x40), ("permanent", 0x80))
_SCOPES = {0x00: "global", 0x10: "host", 0x20: "link", 0x40: "site", 0x80: "compat"}
_NO_MAC = "00:00:00:00:00:00"

RawInterfaces = dict[str, dict[str, Any]]


def parse_ip_json(text: str) -> RawInterfaces:
    """``ip -json addr show`` to ``{name: {mac, mtu, v4: [(addr, prefix)], v6: [(addr, prefix, scope, flags)]}}``."""
    result: RawInterfaces = {}
    for link in json.loads(text or "[]"):
        name = link.get("ifname")
        if not name:
            continue
        entry: dict[str, Any] = {"v4": [], "v6": []}
        if link.get("mtu") is not None:
            entry["mtu"] = int(link["mtu"])
        mac = link.get("address")
        if mac and mac != _NO_MAC and link.get("link_type") != "loopback" and len(mac) == 17:
            entry["mac"] = mac
        for addr in link.get("addr_info", []):
            local, prefix = addr.get("local"), addr.get("prefixlen")
            if local is None or prefix is None:
                continue
            if addr.get("family") == "inet":
                entry["v4"].append((local, int(prefix)))
            elif addr.get("family") == "inet6":
                flags = [n for n, key in (("noad", "nodad"), ("temporary", "temporary"),
                                          ("deprecated", "deprecated"), ("tentative", "tentative"),
                                          ("optimistic", "optimistic"), ("dadfailed", "dadfailed")) if addr.get(key)]
                if addr.get("valid_life_time") == 4294967295:
                    flags.append("permanent")
                entry["v6"].append((local, int(prefix), _scope_name(addr.get("scope", "global")), flags))
        result[name] = entry
    return result


def _scope_name(scope: str) -> str:
    return {"universe": "global", "global": "global", "host": "host", "link": "link", "site": "site"}.get(scope, scope)


def parse_if_inet6(text: str) -> dict[str, list[tuple[str, int, str, list[str]]]]:
    """/proc/net/if_inet6 to ``{name: [(address, prefix, scope, flags)]}``."""
    result: dict[str, list[tuple[str, int, str, list[str]]]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 6 or len(fields[0]) != 32:
            continue
        address = str(ipaddress.IPv6Address(bytes.fromhex(fields[0])))
        prefix, scope, flags = int(fields[2], 16), int(fields[3], 16), int(fields[4], 16)
        names = [name for name, bit in _IFA_FLAGS if flags & bit]
        scope_name = _SCOPES.get(scope & 0xF0, "global")
        result.setdefault(fields[5], []).append((address, prefix, scope_name, names))
    return result


def merge_inet6_flags(raw: RawInterfaces, inet6: Mapping[str, list[tuple[str, int, str, list[str]]]], *,
                      replace: bool) -> None:
    """Take the IPv6 flags from /proc/net/if_inet6 (Facter's source for them), keeping the order of
    the addresses ``ip`` printed; ``replace`` takes the addresses from if_inet6 too."""
    for name, entry in raw.items():
        found = inet6.get(name, [])
        if replace or not entry.get("v6"):
            entry["v6"] = list(found)
            continue
        flags = {address: names for address, _p, _s, names in found}
        entry["v6"] = [(a, p, s, flags.get(a, f)) for a, p, s, f in entry["v6"]]


def parse_default_route(text: str) -> str | None:
    """/proc/net/route to the interface of the IPv4 default route."""
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 7 and fields[1] == "00000000" and fields[7] == "00000000":
            return fields[0]
    return None


def parse_resolv_conf_domain(text: str) -> str | None:
    """The ``domain`` line of /etc/resolv.conf, else the first ``search`` domain."""
    search = None
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "domain":
            return fields[1]
        if len(fields) >= 2 and fields[0] == "search" and search is None:
            search = fields[1]
    return search


def binding(address: str, prefix: int) -> dict[str, str]:
    iface = ipaddress.ip_interface(f"{address}/{prefix}")
    return {"address": address, "netmask": str(iface.netmask), "network": str(iface.network.network_address)}


_IGNORED_NETS = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10", "fc00::/7"))


def ignored_address(address: str) -> bool:
    """Loopback, link-local and unique-local addresses are never an interface's main address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return True
    return ip.is_loopback or any(ip.version == net.version and ip in net for net in _IGNORED_NETS)


def _main_binding(bindings: list[dict[str, Any]]) -> dict[str, Any] | None:
    for b in bindings:
        if not ignored_address(b["address"]):
            return b
    return bindings[0] if bindings else None


def interface_fact(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of ``networking.interfaces`` in Facter's layout."""
    entry: dict[str, Any] = {}
    bindings = [binding(a, p) for a, p in raw.get("v4", [])]
    bindings6 = []
    for address, prefix, scope, flags in raw.get("v6", []):
        b6: dict[str, Any] = binding(address, prefix)
        b6["scope6"] = scope
        if flags:
            b6["flags"] = list(flags)
        bindings6.append(b6)
    if bindings:
        entry["bindings"] = bindings
        main = _main_binding(bindings)
        assert main is not None
        entry.update(ip=main["address"], netmask=main["netmask"], network=main["network"])
    if bindings6:
        entry["bindings6"] = bindings6
        main6 = _main_binding(bindings6)
        assert main6 is not None
        entry.update(ip6=main6["address"], netmask6=main6["netmask"], network6=main6["network"],
                     scope6=main6["scope6"])
    if raw.get("mac"):
        entry["mac"] = raw["mac"]
    if raw.get("mtu") is not None:
        entry["mtu"] = raw["mtu"]
    return entry


_PRIMARY_KEYS = ("ip", "ip6", "mac", "mtu", "netmask", "netmask6", "network", "network6", "scope6")


def networking_fact(raw: RawInterfaces, *, primary: str | None, hostname: str, fqdn: str | None,
                    domain: str | None) -> dict[str, Any]:
    interfaces = {name: interface_fact(raw[name]) for name in sorted(raw)}
    if primary not in interfaces:
        primary = next((name for name, iface in interfaces.items()
                        if any(not ignored_address(b["address"])
                               for b in iface.get("bindings", []) + iface.get("bindings6", []))), None)
    result: dict[str, Any] = {"hostname": hostname}
    if domain:
        result["domain"] = domain
    result["fqdn"] = fqdn or (f"{hostname}.{domain}" if domain else hostname)
    result["interfaces"] = interfaces
    if primary:
        result["primary"] = primary
        for key in _PRIMARY_KEYS:
            if key in interfaces[primary]:
                result[key] = interfaces[primary][key]
    return result


def _canonical_name(hostname: str) -> str | None:
    """Facter's fqdn: the canonical name the resolver gives the host name (often from /etc/hosts)."""
    import _socket  # the C module: socket.py's enum setup costs more than the lookup

    try:
        infos = _socket.getaddrinfo(hostname.encode(), None, 0, _socket.SOCK_STREAM, 0, _socket.AI_CANONNAME)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        if info[3]:
            return info[3]
    return None


def _raw_from_sysfs_and_psutil() -> RawInterfaces:
    raw: RawInterfaces = {name: {"v4": [], "v6": [], **link} for name, link in _sysfs_links().items()}
    try:
        import socket

        import psutil
    except ImportError:
        return raw
    for name, addrs in psutil.net_if_addrs().items():
        entry = raw.setdefault(name, {"v4": [], "v6": []})
        for addr in addrs:
            if addr.family == socket.AF_INET and addr.netmask:
                prefix = ipaddress.ip_network(f"0.0.0.0/{addr.netmask}").prefixlen
                entry["v4"].append((addr.address, prefix))
    return raw


def raw_from_netlink(addresses: list[netlink.Address], names: Mapping[int, str],
                     links: Mapping[str, Mapping[str, Any]]) -> RawInterfaces:
    """Group the kernel's addresses by interface, next to each interface's mac and mtu (from sysfs)."""
    raw: RawInterfaces = {name: {"v4": [], "v6": [], **dict(link)} for name, link in links.items()}
    for addr in addresses:
        name = names.get(addr.index)
        if name is None:
            continue
        entry = raw.setdefault(name, {"v4": [], "v6": []})
        if addr.family == netlink.AF_INET:
            entry["v4"].append((addr.address, addr.prefixlen))
        else:
            entry["v6"].append((addr.address, addr.prefixlen, addr.scope, list(addr.flags)))
    return raw


def _sysfs_links() -> dict[str, dict[str, Any]]:
    links: dict[str, dict[str, Any]] = {}
    for name in list_dir("/sys/class/net"):
        entry: dict[str, Any] = {}
        mtu = read_line(f"/sys/class/net/{name}/mtu")
        if mtu and mtu.isdigit():
            entry["mtu"] = int(mtu)
        mac = read_line(f"/sys/class/net/{name}/address")
        if mac and mac != _NO_MAC and len(mac) == 17:
            entry["mac"] = mac
        links[name] = entry
    return links


def _raw_interfaces() -> RawInterfaces:
    """Netlink first (no subprocess), then ``ip -json addr show``, then psutil."""
    import _socket

    try:
        addresses = netlink.dump_addresses()
        names = dict(_socket.if_nameindex())
    except OSError as exc:
        log.debug("rtnetlink unavailable (%s); trying ip -json", exc)
    else:
        return raw_from_netlink(addresses, names, _sysfs_links())
    output = run_command(["ip", "-json", "addr", "show"])
    if output is not None:
        try:
            raw = parse_ip_json(output)
        except ValueError as exc:
            log.debug("ip -json output unusable: %s", exc)
        else:
            inet6 = read_text("/proc/net/if_inet6")
            if inet6 is not None:
                merge_inet6_flags(raw, parse_if_inet6(inet6), replace=False)
            return raw
    raw = _raw_from_sysfs_and_psutil()
    inet6 = read_text("/proc/net/if_inet6")
    if inet6 is not None:
        merge_inet6_flags(raw, parse_if_inet6(inet6), replace=True)
    return raw


@collector("networking")
def collect_networking(_facts: Mapping[str, Any]) -> dict[str, Any]:
    raw = _raw_interfaces()
    hostname_full = os.uname().nodename
    hostname = hostname_full.split(".")[0]
    canonical = _canonical_name(hostname_full)
    fqdn = canonical if canonical and "." in canonical else None
    domain = None
    if fqdn and fqdn.startswith(hostname + "."):
        domain = fqdn[len(hostname) + 1:]
    elif "." in hostname_full:
        domain = hostname_full.split(".", 1)[1]
    else:
        domain = parse_resolv_conf_domain(read_text("/etc/resolv.conf") or "")
    primary = parse_default_route(read_text("/proc/net/route") or "")
    return {"networking": networking_fact(raw, primary=primary, hostname=hostname, fqdn=fqdn, domain=domain)}

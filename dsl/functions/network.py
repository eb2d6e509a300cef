"""IP addresses and the node's interfaces: stdlib's ``has_interface_with``, ``has_ip_address``,
``has_ip_network``, ``enclose_ipv6`` and ``stdlib::ip_in_range``.

The interface functions read Facter's legacy facts (``interfaces``, ``ipaddress_eth0`` ...) when the
node sends them, and otherwise the same values from the structured ``networking.interfaces`` fact."""

from __future__ import annotations

import ipaddress
from typing import Any

from .common import fact
from .contract import Call, function

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def ip_network(text: str) -> IPNetwork | None:
    """What Ruby's ``IPAddr.new(text)`` accepts: an address, or a network by prefix or netmask."""
    addr, _, mask = text.partition("/")
    if addr.startswith("[") and addr.endswith("]"):
        addr = addr[1:-1]
    try:
        return ipaddress.ip_network(f"{addr}/{mask}" if mask else addr, strict=False)
    except ValueError:
        return None


def ruby_ip_text(net: IPNetwork) -> str:
    """``IPAddr#to_s``: the (masked) address, IPv6 compressed."""
    return str(net.network_address)


# Facter 4's structured interface facts by the legacy name's prefix
_LEGACY = {"ipaddress": "ip", "ipaddress6": "ip6", "network": "network", "network6": "network6",
           "netmask": "netmask", "netmask6": "netmask6", "macaddress": "mac", "mtu": "mtu"}
_TOP_LEVEL = {"ipaddress": "networking.ip", "ipaddress6": "networking.ip6", "network": "networking.network",
              "network6": "networking.network6", "netmask": "networking.netmask", "macaddress": "networking.mac",
              "mtu": "networking.mtu"}


def interfaces(call: Call) -> list[str]:
    found, legacy = call.ev.lookup_var("::interfaces")
    if found and isinstance(legacy, str):
        return legacy.split(",")
    structured = fact(call, "networking.interfaces")
    return list(structured) if isinstance(structured, dict) else []


def interface_fact(call: Call, kind: str, iface: str | None) -> Any:
    name = kind if iface is None else f"{kind}_{iface}"
    found, value = call.ev.lookup_var("::" + name)
    if found and value is not None:
        return value
    if iface is None:
        path = _TOP_LEVEL.get(kind)
        return fact(call, path) if path else None
    key = _LEGACY.get(kind)
    structured = fact(call, "networking.interfaces")
    if key is None or not isinstance(structured, dict):
        return None
    for name_, data in structured.items():
        if name_.lower() == iface and isinstance(data, dict):
            return data.get(key)
    return None


@function("has_interface_with", "String $kind_or_interface, Any $value?", legacy=True)
def has_interface_with(call: Call, kind: str, *value: Any) -> bool:
    names = interfaces(call)
    if not names:
        return False
    if not value:
        return kind in names
    want = value[0]
    if interface_fact(call, kind, None) == want:
        return True
    return any(interface_fact(call, kind, iface.lower()) == want for iface in names)


@function("has_ip_address", "String $address", legacy=True)
def has_ip_address(call: Call, address: str) -> bool:
    return has_interface_with(call, "ipaddress", address)


@function("has_ip_network", "String $network", legacy=True)
def has_ip_network(call: Call, network: str) -> bool:
    return has_interface_with(call, "network", network)


@function("enclose_ipv6", "Variant[String, Array] $addresses", legacy=True)
def enclose_ipv6(call: Call, addresses: Any) -> list[str]:
    from .collection import _flatten
    from .ruby import uniq

    out = []
    for v in _flatten(addresses if isinstance(addresses, list) else [addresses]):
        if v is None:
            continue
        if v != "*":
            net = ip_network(str(v)) if isinstance(v, str) else None
            if net is None:
                call.fail(f"Wrong argument given {v} is not an ip address.")
            if net.version == 6:
                v = f"[{ruby_ip_text(net)}]"
        out.append(v)
    return uniq(out)


@function("stdlib::ip_in_range", "String $ipaddress, Variant[String, Array] $range")
def ip_in_range(call: Call, address: str, ranges: Any) -> bool:
    ip = ip_network(address)
    if ip is None:
        call.fail(f"invalid address: {address}")
    for r in ranges if isinstance(ranges, list) else [ranges]:
        net = ip_network(str(r))
        if net is None:
            call.fail(f"invalid address: {r}")
        if net.version == ip.version and ip.network_address in net:
            return True
    return False

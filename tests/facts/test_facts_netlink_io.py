"""The rtnetlink decoder on a captured reply and on built messages; the command runner."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest
from facts_testdata import DATA

from facts.core import _io, netlink, network


def nlmsg(msg_type: int, body: bytes) -> bytes:
    length = 16 + len(body)
    padded = body + b"\0" * ((4 - length % 4) % 4)
    return struct.pack("=IHHII", length, msg_type, 2, 1, 0) + padded


def rtattr(attr_type: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, attr_type) + payload + b"\0" * ((4 - length % 4) % 4)


def newaddr(family: int, prefix: int, scope: int, index: int, *attrs: bytes, flags: int = 0) -> bytes:
    return nlmsg(netlink.RTM_NEWADDR, struct.pack("=BBBBI", family, prefix, flags, scope, index) + b"".join(attrs))


def test_captured_reply_of_this_vm() -> None:
    data = (DATA / "netlink" / "vm-rtm-getaddr.bin").read_bytes()
    addresses, done = netlink.parse_addr_messages(data)
    assert done
    summary = [(a.index, a.address, a.prefixlen, a.scope) for a in addresses]
    assert summary == [(1, "127.0.0.1", 8, "host"), (4, "192.0.2.2", 24, "global"), (1, "::1", 128, "host"),
                       (4, "fd00::2", 64, "global"), (4, "fe80::fc:ff:fe00:1", 64, "link")]
    assert addresses[3].flags == ["noad", "permanent"]
    assert addresses[0].label == "lo"
    raw = network.raw_from_netlink(addresses, {1: "lo", 4: "eth0"}, {"eth0": {"mac": "02:fc:00:00:00:01", "mtu": 1400},
                                                                       "lo": {"mtu": 65536}, "ifb0": {"mtu": 1500}})
    fact = network.networking_fact(raw, primary="eth0", hostname="vm", fqdn=None, domain=None)
    assert fact["ip"] == "192.0.2.2" and fact["ip6"] == "fd00::2" and fact["mac"] == "02:fc:00:00:00:01"
    assert fact["interfaces"]["ifb0"] == {"mtu": 1500}
    assert fact["interfaces"]["eth0"]["bindings6"][0] == {
        "address": "fd00::2", "netmask": "ffff:ffff:ffff:ffff::", "network": "fd00::", "scope6": "global",
        "flags": ["noad", "permanent"]}


def test_point_to_point_uses_the_local_address_and_extended_flags() -> None:
    data = (newaddr(netlink.AF_INET, 32, 0, 7, rtattr(netlink.IFA_ADDRESS, bytes([10, 0, 0, 2])),
                    rtattr(netlink.IFA_LOCAL, bytes([10, 0, 0, 1])), rtattr(netlink.IFA_LABEL, b"tun0\0"))
            + newaddr(netlink.AF_INET6, 64, 253, 7, rtattr(netlink.IFA_ADDRESS, bytes.fromhex("fe80" + "00" * 13 + "01")),
                      rtattr(netlink.IFA_FLAGS, struct.pack("=I", 0x80 | 0x200)), flags=0)
            + nlmsg(netlink.NLMSG_DONE, struct.pack("=i", 0)))
    addresses, done = netlink.parse_addr_messages(data)
    assert done
    assert (addresses[0].address, addresses[0].label, addresses[0].scope) == ("10.0.0.1", "tun0", "global")
    assert (addresses[1].address, addresses[1].scope, addresses[1].flags) == ("fe80::1", "link", ["permanent"])


def test_partial_chunk_and_error_reply() -> None:
    assert netlink.parse_addr_messages(newaddr(netlink.AF_INET, 8, 254, 1,
                                               rtattr(netlink.IFA_LOCAL, bytes([127, 0, 0, 1]))))[1] is False
    with pytest.raises(OSError):
        netlink.parse_addr_messages(nlmsg(netlink.NLMSG_ERROR, struct.pack("=i", -1) + b"\0" * 16))


def test_live_dump_has_loopback() -> None:
    assert any(a.address == "127.0.0.1" for a in netlink.dump_addresses())


def test_run_command(tmp_path: Path) -> None:
    assert _io.run_command(["sh", "-c", "echo hello; echo oops >&2"]) == "hello\n"
    assert _io.run_command(["sh", "-c", "exit 3"]) is None
    assert _io.run_command(["no-such-command-bunraku"]) is None
    started = time.monotonic()
    assert _io.run_command(["sleep", "60"], timeout=0.2) is None
    assert time.monotonic() - started < 30  # a hang check (the command sleeps a minute), not a timing test


def test_readers_never_raise(tmp_path: Path) -> None:
    assert _io.read_text(str(tmp_path / "missing")) is None
    (tmp_path / "empty").write_text("  \n")
    assert _io.read_line(str(tmp_path / "empty")) is None
    assert _io.list_dir(str(tmp_path / "missing")) == []

"""The kernel's address table over rtnetlink (what ``ip addr`` and getifaddrs read), without a subprocess.

``dump_addresses()`` asks for RTM_GETADDR once; ``parse_addr_messages()`` is the pure decoder of the
reply, tested on captured bytes.
"""

from __future__ import annotations

import struct

RTM_NEWADDR = 20
RTM_GETADDR = 22
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_FLAGS = 8
AF_INET = 2
AF_INET6 = 10
_NLMSGHDR = struct.Struct("=IHHII")
_IFADDRMSG = struct.Struct("=BBBBI")
_RTATTR = struct.Struct("=HH")
_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host"}
# IFA_F_* bits, in Facter's naming
_FLAG_NAMES = (("temporary", 0x01), ("noad", 0x02), ("optimistic", 0x04), ("dadfailed", 0x08),
               ("homeaddress", 0x10), ("deprecated", 0x20), ("tentative", 0x40), ("permanent", 0x80))


class Address:
    """One address of an interface, as the kernel reports it."""

    __slots__ = ("index", "family", "address", "prefixlen", "scope", "flags", "label")

    def __init__(self, index: int, family: int, address: str, prefixlen: int, scope: str, flags: list[str],
                 label: str | None) -> None:
        self.index = index
        self.family = family
        self.address = address
        self.prefixlen = prefixlen
        self.scope = scope
        self.flags = flags
        self.label = label

    def __repr__(self) -> str:
        return f"Address({self.index}, {self.address}/{self.prefixlen}, {self.scope}, {self.flags})"


def _align(n: int) -> int:
    return (n + 3) & ~3


def _ntop(family: int, raw: bytes) -> str:
    if family == AF_INET:
        return ".".join(str(b) for b in raw)
    import ipaddress

    return str(ipaddress.IPv6Address(raw))


def parse_addr_messages(data: bytes) -> tuple[list[Address], bool]:
    """Decode a chunk of RTM_NEWADDR messages; returns (addresses, done)."""
    found: list[Address] = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, msg_type, _flags, _seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size:
            break
        if msg_type == NLMSG_DONE:
            return found, True
        if msg_type == NLMSG_ERROR:
            raise OSError("netlink error reply")
        if msg_type == RTM_NEWADDR:
            body = offset + _NLMSGHDR.size
            family, prefixlen, flags, scope, index = _IFADDRMSG.unpack_from(data, body)
            attrs: dict[int, bytes] = {}
            pos = body + _IFADDRMSG.size
            end = offset + length
            while pos + _RTATTR.size <= end:
                attr_len, attr_type = _RTATTR.unpack_from(data, pos)
                if attr_len < _RTATTR.size:
                    break
                attrs[attr_type] = data[pos + _RTATTR.size:pos + attr_len]
                pos += _align(attr_len)
            if IFA_FLAGS in attrs and len(attrs[IFA_FLAGS]) >= 4:
                flags = struct.unpack("=I", attrs[IFA_FLAGS][:4])[0]
            # IFA_LOCAL is the address itself; IFA_ADDRESS is the peer on point-to-point IPv4 links
            raw = attrs.get(IFA_LOCAL) if family == AF_INET else None
            raw = raw or attrs.get(IFA_ADDRESS)
            if family in (AF_INET, AF_INET6) and raw:
                label = attrs[IFA_LABEL].rstrip(b"\0").decode(errors="replace") if IFA_LABEL in attrs else None
                found.append(Address(index, family, _ntop(family, raw), prefixlen, _SCOPES.get(scope, str(scope)),
                                     [name for name, bit in _FLAG_NAMES if flags & bit], label))
        offset += _align(length)
    return found, False


def dump_raw(timeout: float = 2.0) -> bytes:
    """The kernel's whole RTM_GETADDR reply; raises OSError when netlink is unavailable."""
    # The C module, not socket.py: the wrapper's enum conversions cost more than the whole dump.
    import _socket

    sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, _socket.NETLINK_ROUTE)
    try:
        sock.settimeout(timeout)
        sock.bind((0, 0))
        request = _NLMSGHDR.pack(_NLMSGHDR.size + _IFADDRMSG.size, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
        sock.send(request + _IFADDRMSG.pack(0, 0, 0, 0, 0))
        chunks: list[bytes] = []
        while True:
            chunk = sock.recv(65536)
            chunks.append(chunk)
            if not chunk or parse_addr_messages(chunk)[1]:
                return b"".join(chunks)
    finally:
        sock.close()


def dump_addresses(timeout: float = 2.0) -> list[Address]:
    """All addresses of all interfaces; raises OSError when netlink is unavailable."""
    return parse_addr_messages(dump_raw(timeout))[0]

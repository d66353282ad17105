"""The rtnetlink wire format of the few messages pe-plan exchanges with the kernel.

pyroute2 decodes every attribute of every message into Python objects (about 0.7 ms per link,
see PERF-FACTS); pe-plan needs a dozen attributes per link. This module packs requests and
decodes replies with ``struct`` directly, reading only the attributes the node model uses and
skipping the rest by length. It is pure (bytes in, requests and records out) so that it can be
tested without root; the sockets live in :mod:`pe_plan.backends.netlink`.

Numbers and layouts are the kernel's uapi (``linux/netlink.h``, ``rtnetlink.h``,
``if_link.h``, ``if_addr.h``, ``net_namespace.h``).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from typing import Literal, NamedTuple

from pe_plan.backends.dump import (
    AddrGenMode,
    AddrRecord,
    BridgePortRecord,
    LinkRecord,
    VxlanRecord,
)

# linux/netlink.h
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_DUMP_INTR = 0x10
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400
NLM_F_DUMP = 0x300
NLM_F_CAPPED = 0x100  # in an error reply: the request was not echoed back
NLM_F_ACK_TLVS = 0x200  # in an error reply: extended-ack attributes follow
NLMSGERR_ATTR_MSG = 1
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3FFF
SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11

# linux/rtnetlink.h
RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22
RTM_NEWNSID = 88
RTM_GETNSID = 90
RTEXT_FILTER_SKIP_STATS = 1 << 3

# linux/if.h
IFF_UP = 0x1
IFF_LOOPBACK = 0x8

# linux/if_link.h
IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_LINK = 5
IFLA_MASTER = 10
IFLA_LINKINFO = 18
IFLA_AF_SPEC = 26
IFLA_GROUP = 27
IFLA_NET_NS_FD = 28
IFLA_EXT_MASK = 29
IFLA_LINK_NETNSID = 37
IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
IFLA_INFO_SLAVE_KIND = 4
IFLA_INFO_SLAVE_DATA = 5
IFLA_INET6_ADDR_GEN_MODE = 8
IFLA_VRF_TABLE = 1
VETH_INFO_PEER = 1
IFLA_VXLAN_ID = 1
IFLA_VXLAN_LINK = 3
IFLA_VXLAN_LOCAL = 4
IFLA_VXLAN_LEARNING = 7
IFLA_VXLAN_PORT = 15
IFLA_VXLAN_LOCAL6 = 17
IFLA_BRPORT_LEARNING = 8
IFLA_BRPORT_NEIGH_SUPPRESS = 32

# linux/if_addr.h
IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_FLAGS = 8

# linux/net_namespace.h
NETNSA_NSID = 1
NETNSA_FD = 3

ADDR_GEN_MODES: tuple[AddrGenMode, ...] = ("eui64", "none", "stable_secret", "random")

_HEADER = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")
_ATTR = struct.Struct("=HH")
_U8 = struct.Struct("=B")
_U32 = struct.Struct("=I")
_I32 = struct.Struct("=i")
_BE16 = struct.Struct("!H")
_HEADER_SIZE = _HEADER.size
_FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}


class Request(NamedTuple):
    """One netlink message to send, without its header (the socket numbers it)."""

    type: int
    flags: int
    body: bytes


class Reply(NamedTuple):
    """One received message: its header fields and where its payload lies in the buffer."""

    type: int
    flags: int
    seq: int
    start: int
    end: int


# --- encoding -------------------------------------------------------------------------


def frame(request: Request, seq: int) -> bytes:
    """The request with its netlink header."""
    return _HEADER.pack(_HEADER_SIZE + len(request.body), request.type, request.flags, seq, 0) + (
        request.body
    )


def attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return _ATTR.pack(length, kind) + payload + b"\0" * (-length % 4)


def nested(kind: int, *parts: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(parts))


def u8(kind: int, value: int) -> bytes:
    return attr(kind, _U8.pack(value))


def u32(kind: int, value: int) -> bytes:
    return attr(kind, _U32.pack(value))


def string(kind: int, value: str) -> bytes:
    return attr(kind, value.encode() + b"\0")


def mac_bytes(mac: str) -> bytes:
    return bytes.fromhex(mac.replace(":", ""))


def ip_bytes(address: str) -> tuple[int, bytes]:
    """The address family (4 or 6) and packed bytes of an IP address in text form."""
    family = 6 if ":" in address else 4
    return family, socket.inet_pton(_FAMILIES[family], address)


def ifinfo(*, index: int = 0, up: bool | None = None, family: int = socket.AF_UNSPEC) -> bytes:
    """An ``ifinfomsg``; ``up`` changes only the ``IFF_UP`` flag, ``None`` leaves it alone."""
    change = 0 if up is None else IFF_UP
    flags = IFF_UP if up else 0
    return _IFINFO.pack(family, 0, index, flags, change)


def link_attrs(
    *,
    name: str | None = None,
    mtu: int | None = None,
    mac: str | None = None,
    group: int | None = None,
    master: int | None = None,
    netns_fd: int | None = None,
    addrgenmode: AddrGenMode | None = None,
) -> bytes:
    """The link attributes pe-plan writes; ``master=0`` detaches the link from its master."""
    parts = []
    if name is not None:
        parts.append(string(IFLA_IFNAME, name))
    if mtu is not None:
        parts.append(u32(IFLA_MTU, mtu))
    if mac is not None:
        parts.append(attr(IFLA_ADDRESS, mac_bytes(mac)))
    if group is not None:
        parts.append(u32(IFLA_GROUP, group))
    if master is not None:
        parts.append(u32(IFLA_MASTER, master))
    if netns_fd is not None:
        parts.append(u32(IFLA_NET_NS_FD, netns_fd))
    if addrgenmode is not None:
        mode = ADDR_GEN_MODES.index(addrgenmode)
        inet6 = nested(socket.AF_INET6, u8(IFLA_INET6_ADDR_GEN_MODE, mode))
        parts.append(nested(IFLA_AF_SPEC, inet6))
    return b"".join(parts)


def link_info(kind: str, data: bytes = b"") -> bytes:
    """``IFLA_LINKINFO`` for creating a link of ``kind`` with kind-specific ``data``."""
    parts = [string(IFLA_INFO_KIND, kind)]
    if data:
        parts.append(nested(IFLA_INFO_DATA, data))
    return nested(IFLA_LINKINFO, *parts)


def vxlan_data(*, vni: int, local: str, port: int, learning: bool, link: int | None) -> bytes:
    family, packed = ip_bytes(local)
    parts = [
        u32(IFLA_VXLAN_ID, vni),
        attr(IFLA_VXLAN_LOCAL if family == 4 else IFLA_VXLAN_LOCAL6, packed),  # noqa: PLR2004
        attr(IFLA_VXLAN_PORT, _BE16.pack(port)),
        u8(IFLA_VXLAN_LEARNING, int(learning)),
    ]
    if link is not None:
        parts.append(u32(IFLA_VXLAN_LINK, link))
    return b"".join(parts)


def vrf_data(table: int) -> bytes:
    return u32(IFLA_VRF_TABLE, table)


def veth_data(peer: bytes) -> bytes:
    """``peer`` is the peer's ``ifinfomsg`` followed by its attributes."""
    return attr(VETH_INFO_PEER | NLA_F_NESTED, peer)


def bridge_port_info(*, neigh_suppress: bool | None, learning: bool | None) -> bytes:
    """Bridge-port flags as slave data: ``ip link set X type bridge_slave ...``.

    This is the same ``br_setport`` call as ``bridge link set`` (``RTM_SETLINK`` with
    ``AF_BRIDGE`` and ``IFLA_PROTINFO``), but it addresses the link by name, so a batch can
    set the flags of a link it has just created without knowing its ifindex.
    """
    flags = []
    if neigh_suppress is not None:
        flags.append(u8(IFLA_BRPORT_NEIGH_SUPPRESS, int(neigh_suppress)))
    if learning is not None:
        flags.append(u8(IFLA_BRPORT_LEARNING, int(learning)))
    return nested(
        IFLA_LINKINFO,
        string(IFLA_INFO_SLAVE_KIND, "bridge"),
        nested(IFLA_INFO_SLAVE_DATA, *flags),
    )


def new_link(body: bytes) -> Request:
    return Request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body)


def set_link(body: bytes) -> Request:
    # RTM_NEWLINK on an existing link (no NLM_F_CREATE) is the one request that accepts
    # bridge-port slave data as well as every attribute RTM_SETLINK takes.
    return Request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, body)


def delete_link(name: str) -> Request:
    return Request(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK, ifinfo() + string(IFLA_IFNAME, name))


def get_link(name: str) -> Request:
    body = ifinfo() + string(IFLA_IFNAME, name) + u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)
    return Request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, body)


def dump_links() -> Request:
    # Statistics are a third of every link message and pe-plan never reads them.
    body = ifinfo() + u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)
    return Request(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, body)


def dump_addresses() -> Request:
    return Request(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, _IFADDR.pack(0, 0, 0, 0, 0))


def address(*, add: bool, index: int, cidr: str) -> Request:
    """Add (``ip addr replace``, so adding twice is harmless) or delete an address."""
    text, _, prefix = cidr.partition("/")
    family, packed = ip_bytes(text)
    body = _IFADDR.pack(_FAMILIES[family], int(prefix), 0, 0, index) + attr(IFA_LOCAL, packed)
    body += attr(IFA_ADDRESS, packed)
    if add:
        return Request(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, body)
    return Request(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, body)


def get_nsid(fd: int) -> Request:
    """Ask which id the receiving namespace gives the namespace open as ``fd``."""
    body = struct.pack("=Bxxx", socket.AF_UNSPEC) + u32(NETNSA_FD, fd)
    return Request(RTM_GETNSID, NLM_F_REQUEST | NLM_F_ACK, body)


# --- decoding -------------------------------------------------------------------------


def replies(data: bytes) -> Iterator[Reply]:
    """The messages in one received buffer."""
    pos = 0
    size = len(data)
    unpack = _HEADER.unpack_from
    while pos + _HEADER_SIZE <= size:
        length, kind, flags, seq, _ = unpack(data, pos)
        if length < _HEADER_SIZE:
            break
        yield Reply(kind, flags, seq, pos + _HEADER_SIZE, pos + length)
        pos += (length + 3) & ~3


def attrs(data: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int]]:
    """``(type, payload start, payload end)`` of each attribute between ``pos`` and ``end``."""
    unpack = _ATTR.unpack_from
    while pos + 4 <= end:
        length, kind = unpack(data, pos)
        if length < 4:  # noqa: PLR2004 - a malformed attribute ends the list
            return
        yield kind & NLA_TYPE_MASK, pos + 4, pos + length
        pos += (length + 3) & ~3


def decode_error(data: bytes, reply: Reply) -> tuple[int, str | None]:
    """The errno (0 for an acknowledgement) and the kernel's extended-ack message."""
    (error,) = _I32.unpack_from(data, reply.start)
    if error == 0 or not reply.flags & NLM_F_ACK_TLVS:
        return -error, None
    # The echoed request is only its header when it was capped (NETLINK_CAP_ACK).
    (echoed,) = _U32.unpack_from(data, reply.start + 4)
    skip = _HEADER_SIZE if reply.flags & NLM_F_CAPPED else (echoed + 3) & ~3
    message = None
    for kind, start, end in attrs(data, reply.start + 4 + skip, reply.end):
        if kind == NLMSGERR_ATTR_MSG:
            message = _text(data, start, end)
    return -error, message


def decode_nsid(data: bytes, reply: Reply) -> int | None:
    """The namespace id of an ``RTM_NEWNSID`` reply, ``None`` when none is assigned."""
    for kind, start, _ in attrs(data, reply.start + 4, reply.end):
        if kind == NETNSA_NSID:
            (nsid,) = _I32.unpack_from(data, start)
            return nsid if nsid >= 0 else None
    return None


def decode_address(data: bytes, reply: Reply) -> AddrRecord | None:
    """An IPv4 or IPv6 address record; ``None`` for other families."""
    family, prefixlen, flags, scope, index = _IFADDR.unpack_from(data, reply.start)
    version: Literal[4, 6]
    if family == socket.AF_INET:
        version = 4
    elif family == socket.AF_INET6:
        version = 6
    else:
        return None
    local = address = None
    for kind, start, end in attrs(data, reply.start + _IFADDR.size, reply.end):
        if kind == IFA_LOCAL:
            local = socket.inet_ntop(family, data[start:end])
        elif kind == IFA_ADDRESS:
            address = socket.inet_ntop(family, data[start:end])
        elif kind == IFA_FLAGS:
            (flags,) = _U32.unpack_from(data, start)
    # IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point
    # links and the same address otherwise (IPv6 sends only IFA_ADDRESS).
    text = local or address
    if text is None:
        return None
    return AddrRecord(
        index=index, family=version, address=text, prefixlen=prefixlen, scope=scope, flags=flags
    )


_LINK_ATTRS = frozenset(
    {
        IFLA_IFNAME,
        IFLA_MTU,
        IFLA_ADDRESS,
        IFLA_MASTER,
        IFLA_LINK,
        IFLA_LINK_NETNSID,
        IFLA_GROUP,
        IFLA_AF_SPEC,
        IFLA_LINKINFO,
    }
)


def decode_link(data: bytes, reply: Reply) -> LinkRecord:
    """A link record holding only the attributes the node model uses."""
    _, _, index, flags, _ = _IFINFO.unpack_from(data, reply.start)
    name = ""
    mtu = group = 0
    mac = kind = None
    master = link = netnsid = None
    addrgenmode: AddrGenMode | None = None
    info_data = slave_data = None
    slave_kind = None
    u32_at = _U32.unpack_from
    attr_at = _ATTR.unpack_from
    wanted = _LINK_ATTRS
    # A link message has some fifty attributes and pe-plan reads nine: this loop is the
    # refresh's hot spot, so it is inlined rather than written with attrs().
    pos = reply.start + _IFINFO.size
    end = reply.end
    while pos + 4 <= end:
        length, attr_type = attr_at(data, pos)
        if length < 4:  # noqa: PLR2004 - a malformed attribute ends the list
            break
        attr_type &= NLA_TYPE_MASK
        if attr_type in wanted:
            start = pos + 4
            stop = pos + length
            if attr_type == IFLA_IFNAME:
                name = _text(data, start, stop)
            elif attr_type == IFLA_MTU:
                (mtu,) = u32_at(data, start)
            elif attr_type == IFLA_ADDRESS:
                mac = data[start:stop].hex(":")
            elif attr_type == IFLA_MASTER:
                (master,) = u32_at(data, start)
            elif attr_type == IFLA_LINK:
                (link,) = u32_at(data, start)
            elif attr_type == IFLA_LINK_NETNSID:
                (netnsid,) = _I32.unpack_from(data, start)
            elif attr_type == IFLA_GROUP:
                (group,) = u32_at(data, start)
            elif attr_type == IFLA_AF_SPEC:
                addrgenmode = _addrgenmode(data, start, stop)
            else:
                for info_type, info_start, info_end in attrs(data, start, stop):
                    if info_type == IFLA_INFO_KIND:
                        kind = _text(data, info_start, info_end)
                    elif info_type == IFLA_INFO_DATA:
                        info_data = (info_start, info_end)
                    elif info_type == IFLA_INFO_SLAVE_KIND:
                        slave_kind = _text(data, info_start, info_end)
                    elif info_type == IFLA_INFO_SLAVE_DATA:
                        slave_data = (info_start, info_end)
        pos += (length + 3) & ~3
    vrf_table = vxlan = bridge_port = None
    if info_data is not None:
        if kind == "vxlan":
            vxlan = _vxlan(data, *info_data)
        elif kind == "vrf":
            vrf_table = _vrf_table(data, *info_data)
    if slave_kind == "bridge" and slave_data is not None:
        bridge_port = _bridge_port(data, *slave_data)
    return LinkRecord(
        index=index,
        name=name,
        flags=flags,
        mtu=mtu,
        kind=kind,
        mac=mac,
        master=master or None,
        link=link,
        link_netnsid=netnsid,
        addrgenmode=addrgenmode,
        group=group,
        vrf_table=vrf_table,
        vxlan=vxlan,
        bridge_port=bridge_port,
    )


def _text(data: bytes, start: int, end: int) -> str:
    stop = data.find(b"\0", start, end)
    return data[start : end if stop < 0 else stop].decode(errors="replace")


def _addrgenmode(data: bytes, start: int, end: int) -> AddrGenMode | None:
    for family, family_start, family_end in attrs(data, start, end):
        if family == socket.AF_INET6:
            for kind, value_start, _ in attrs(data, family_start, family_end):
                if kind == IFLA_INET6_ADDR_GEN_MODE:
                    mode = data[value_start]
                    return ADDR_GEN_MODES[mode] if mode < len(ADDR_GEN_MODES) else None
    return None


def _vxlan(data: bytes, start: int, end: int) -> VxlanRecord:
    vni = 0
    port = 4789
    learning = True
    local = None
    link = None
    for kind, value_start, value_end in attrs(data, start, end):
        if kind == IFLA_VXLAN_ID:
            (vni,) = _U32.unpack_from(data, value_start)
        elif kind == IFLA_VXLAN_LOCAL:
            local = socket.inet_ntop(socket.AF_INET, data[value_start:value_end])
        elif kind == IFLA_VXLAN_LOCAL6:
            local = socket.inet_ntop(socket.AF_INET6, data[value_start:value_end])
        elif kind == IFLA_VXLAN_PORT:
            (port,) = _BE16.unpack_from(data, value_start)
        elif kind == IFLA_VXLAN_LEARNING:
            learning = bool(data[value_start])
        elif kind == IFLA_VXLAN_LINK:
            (link,) = _U32.unpack_from(data, value_start)
    return VxlanRecord(vni=vni, local=local, port=port, learning=learning, link=link or None)


def _vrf_table(data: bytes, start: int, end: int) -> int | None:
    for kind, value_start, _ in attrs(data, start, end):
        if kind == IFLA_VRF_TABLE:
            (table,) = _U32.unpack_from(data, value_start)
            return int(table)
    return None


def _bridge_port(data: bytes, start: int, end: int) -> BridgePortRecord:
    neigh_suppress = learning = None
    for kind, value_start, _ in attrs(data, start, end):
        if kind == IFLA_BRPORT_NEIGH_SUPPRESS:
            neigh_suppress = bool(data[value_start])
        elif kind == IFLA_BRPORT_LEARNING:
            learning = bool(data[value_start])
        if neigh_suppress is not None and learning is not None:
            break  # the other forty port attributes are of no use here
    return BridgePortRecord(neigh_suppress=bool(neigh_suppress), learning=learning is not False)

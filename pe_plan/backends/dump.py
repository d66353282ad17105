"""Plain records of what one network namespace holds, as read from netlink and /proc/sys.

The netlink backend fills these records and :func:`pe_plan.observe.observe` turns them into
the node model. They are msgspec structs, so a dump can be captured as JSON on a real kernel
and fed to the pure parser in unit tests without root. Values are kept close to the kernel's
(ifindexes, raw interface flags) and only decoded where a string is easier to read in a
captured file (MAC and IP addresses, the IPv6 address generation mode).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from pe_plan.model import Role

# linux/rtnetlink.h: the scope of an address valid only on its link.
RT_SCOPE_LINK = 253

AddrGenMode = Literal["eui64", "none", "stable_secret", "random"]


class VxlanRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``IFLA_VXLAN_*`` attributes; ``link`` is the ifindex of the underlay device (``dev``)."""

    vni: int
    local: str | None = None
    port: int = 4789
    learning: bool = True
    link: int | None = None


class BridgePortRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``IFLA_BRPORT_*`` flags of a link enslaved to a bridge."""

    neigh_suppress: bool
    learning: bool


class LinkRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One ``RTM_NEWLINK`` message.

    ``flags`` are the interface flags (``IFF_UP`` = 1, ``IFF_LOOPBACK`` = 8). ``link`` and
    ``link_netnsid`` locate a veth's peer: its ifindex (absent when it equals ``index``, which
    the kernel does not send; 0 when the peer is gone) and, when the peer lives in another
    namespace, the id under which this namespace knows that one.
    """

    index: int
    name: str
    flags: int
    mtu: int
    kind: str | None = None
    mac: str | None = None
    master: int | None = None
    link: int | None = None
    link_netnsid: int | None = None
    addrgenmode: AddrGenMode | None = None
    group: int = 0
    vrf_table: int | None = None
    vxlan: VxlanRecord | None = None
    bridge_port: BridgePortRecord | None = None


class AddrRecord(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One ``RTM_NEWADDR`` message (``family`` is 4 or 6; ``scope`` 253 is link scope)."""

    index: int
    family: Literal[4, 6]
    address: str
    prefixlen: int
    scope: int = 0
    flags: int = 0

    @property
    def ipv6_link_local(self) -> bool:
        """An IPv6 link-scope address, which the kernel generates itself (fe80::/10)."""
        return self.family == 6 and self.scope == RT_SCOPE_LINK  # noqa: PLR2004


class NamespaceDump(msgspec.Struct, frozen=True, kw_only=True):
    """Everything read from one namespace.

    ``nsids`` maps the namespace ids that appear in ``link_netnsid`` to the role of the
    namespace they denote, for the namespaces pe-plan knows; ``sysctls`` holds the requested
    keys (dotted form) whose files exist.
    """

    links: tuple[LinkRecord, ...]
    addresses: tuple[AddrRecord, ...]
    sysctls: dict[str, str] = {}
    nsids: dict[int, Role] = {}

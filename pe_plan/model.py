"""The node model shared by every stage: desired state, observed state and the state file.

A node is a set of *objects* (network namespaces, sysctls, links, addresses, the FRR
instance) keyed by a stable *address* such as ``link.router.vni110``, plus the FRR
configuration. The desired stage builds one from the config, the refresh stage reads one
from the kernel and FRR, and the plan is a diff of the two, so both sides use exactly these
structs. An attribute that is ``None`` in a desired object means "pe-plan does not manage
this attribute"; the plan ignores it.

Namespaces are named by role, ``host`` (where pe-plan runs) and ``router`` (the router
namespace, whatever its real name), so that golden files and state files do not depend on
the machine.
"""

from __future__ import annotations

from typing import Literal

import msgspec

Role = Literal["host", "router"]
ROLES: tuple[Role, ...] = ("host", "router")

LinkKind = Literal["bridge", "vxlan", "veth", "vrf", "dummy", "device"]


class Netns(msgspec.Struct, frozen=True, tag="netns", omit_defaults=True):
    """A named network namespace; creating it also brings its ``lo`` up."""

    name: str

    @property
    def address(self) -> str:
        return f"netns.{self.name}"


class Sysctl(msgspec.Struct, frozen=True, tag="sysctl", omit_defaults=True):
    """One ``/proc/sys/net`` value inside a namespace (key in dotted form)."""

    namespace: Role
    key: str
    value: str

    @property
    def address(self) -> str:
        return f"sysctl.{self.namespace}.{self.key}"


class Vxlan(msgspec.Struct, frozen=True, omit_defaults=True):
    """The VXLAN attributes the kernel fixes at creation (changing one means replace)."""

    vni: int
    local: str
    port: int = 4789
    learning: bool = False
    dev: str | None = None


class BridgePort(msgspec.Struct, frozen=True, omit_defaults=True):
    """Bridge-port flags of a link enslaved to a bridge (``bridge link set``)."""

    neigh_suppress: bool | None = None
    learning: bool | None = None


class Link(msgspec.Struct, frozen=True, tag="link", omit_defaults=True):
    """A network interface.

    ``kind == "device"`` is an existing NIC that pe-plan moves into the router namespace
    (``moved_from``) instead of creating it; deleting it moves it back with its addresses.
    """

    namespace: Role
    name: str
    kind: LinkKind
    up: bool | None = None
    mtu: int | None = None
    master: str | None = None
    mac: str | None = None
    addrgenmode: Literal["eui64", "none", "stable_secret", "random"] | None = None
    group: int | None = None
    vrf_table: int | None = None
    vxlan: Vxlan | None = None
    bridge_port: BridgePort | None = None
    peer: str | None = None
    peer_namespace: Role | None = None
    moved_from: Role | None = None

    @property
    def address(self) -> str:
        return link_address(self.namespace, self.name)


class Address(msgspec.Struct, frozen=True, tag="address", omit_defaults=True):
    """An IP address (``cidr`` in interface notation, e.g. ``192.170.1.1/24``) on a link."""

    namespace: Role
    link: str
    cidr: str

    @property
    def address(self) -> str:
        return f"address.{self.namespace}.{self.link}.{self.cidr}"


class FrrInstance(msgspec.Struct, frozen=True, tag="frr_instance", omit_defaults=True):
    """The FRR daemons serving the router namespace (managed mode only)."""

    pathspace: str
    daemons: tuple[str, ...] = ("zebra", "bgpd", "staticd", "bfdd")

    @property
    def address(self) -> str:
        return f"frr_instance.{self.pathspace}"


Object = Netns | Sysctl | Link | Address | FrrInstance


def link_address(namespace: Role, name: str) -> str:
    return f"link.{namespace}.{name}"


class FrrConfig(msgspec.Struct, frozen=True):
    """A rendered FRR configuration.

    ``text`` is what FRR receives; ``public`` is the same text with every secret replaced
    by a salted digest and is the only form that may be printed, planned or stored.
    """

    text: str
    public: str


class NodeState(msgspec.Struct, frozen=True):
    """Everything pe-plan manages on one node, desired or observed.

    ``depends_on`` maps an object's address to the addresses it needs to exist first; it is
    empty for observed states. ``frr`` is ``None`` when FRR was not read or is not wanted.
    """

    objects: dict[str, Object]
    depends_on: dict[str, tuple[str, ...]] = {}
    frr: FrrConfig | None = None


def index_objects(objects: list[Object]) -> dict[str, Object]:
    """Key objects by address, refusing two objects with one address (a bug, not input)."""
    indexed: dict[str, Object] = {}
    for obj in objects:
        if obj.address in indexed:
            msg = f"two objects share the address {obj.address}"
            raise ValueError(msg)
        indexed[obj.address] = obj
    return indexed

"""The normalised configuration: one internal model for both input dialects.

The loader reads YAML, the validator checks it against the dialect schemas
(:mod:`pe_plan.schema`) and the rules of SPEC section 3, and produces a :class:`Config`.
Everything after validation works on this model only, never on raw documents. Each
resource keeps a :class:`Source` so that later stages can still point at a file and line.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from pe_plan.errors import Position

DEFAULT_VXLAN_PORT = 4789
DEFAULT_ROUTER_ID_CIDR = "10.0.0.0/24"
DEFAULT_ROUTER_NAMESPACE = "perouter"


class Source(msgspec.Struct, frozen=True):
    """Where a resource was declared, with the position of each of its fields.

    ``fields`` is keyed by dotted path inside the document (``spec.vrf``,
    ``spec.neighbors.0.address``); ``api_version`` names the dialect those paths are spelled in.
    """

    kind: str
    name: str
    position: Position
    fields: dict[str, Position] = {}
    api_version: str = ""

    @property
    def resource(self) -> str:
        return f"{self.kind}/{self.name}"

    def at(self, path: str) -> Position:
        """The position of ``path`` or of its closest declared parent."""
        while path:
            if path in self.fields:
                return self.fields[path]
            path = path.rpartition(".")[0]
        return self.position


class Neighbor(msgspec.Struct, frozen=True, kw_only=True):
    asn: int
    address: str
    port: int | None = None
    password: str | None = None
    hold_time: int | None = None
    keepalive_time: int | None = None
    connect_time: int | None = None
    ebgp_multihop: bool = False
    bfd: bool = False


class Underlay(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    asn: int
    vtep_cidr: str | None
    nics: tuple[str, ...]
    neighbors: tuple[Neighbor, ...]
    router_id_cidr: str = DEFAULT_ROUTER_ID_CIDR


class L3Vni(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    asn: int
    vni: int
    vrf: str
    host_asn: int | None = None
    local_cidr_ipv4: str | None = None
    local_cidr_ipv6: str | None = None
    vxlan_port: int = DEFAULT_VXLAN_PORT
    export_rts: tuple[str, ...] = ()
    import_rts: tuple[str, ...] = ()


class HostMaster(msgspec.Struct, frozen=True, kw_only=True):
    """The host-side bridge of an L2VNI: created by pe-plan (managed) or pre-existing."""

    managed: bool
    name: str


class L2Vni(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    vni: int
    vrf: str | None = None
    vxlan_port: int = DEFAULT_VXLAN_PORT
    host_master: HostMaster | None = None
    gateway_ips: tuple[str, ...] = ()


class Config(msgspec.Struct, frozen=True, kw_only=True):
    """A validated configuration for one fabric (all nodes share it)."""

    underlay: Underlay | None = None
    l3vnis: tuple[L3Vni, ...] = ()
    l2vnis: tuple[L2Vni, ...] = ()
    sources: dict[str, Source] = {}


FrrMode = Literal["managed", "external"]


class NodeSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Who this node is and how its router is run (``--node-index`` or a node file)."""

    index: int | None = None
    interface_name: str | None = None
    cidr: str | None = None
    node_name: str | None = None
    router_namespace: str = DEFAULT_ROUTER_NAMESPACE
    host_namespace: str | None = None
    vtep_device: Literal["lound", "lo"] = "lound"
    frr_mode: FrrMode = "managed"
    frr_pathspace: str | None = None
    frr_vty_socket: str | None = None
    source: Position | None = None

    @property
    def pathspace(self) -> str:
        return self.frr_pathspace or self.router_namespace

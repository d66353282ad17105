"""Schema: the input dialects and the node file as msgspec models, and their JSON Schemas.

Two dialects describe the same router: the seed's ``openpe.openperouter.github.io/v1alpha1``
(lower-case keys such as ``vtepcidr``, ``l2gatewayip``) and upstream's current
``network.openperouter.io/v1alpha1`` (``tunnelEndpoint``, ``hostSession``, ``gatewayIPs``).
The models here are the single source of both the JSON Schemas in ``schemas/`` and the
structural check of :func:`check`, which walks a YAML value against a model and returns
every difference (unknown or unsupported field, wrong type, value out of range) at its
dotted path, instead of stopping at the first as ``msgspec.convert`` does. Upstream features
that pe-plan does not implement are listed per model in ``UNSUPPORTED`` so that they are
rejected by name, never silently ignored. :func:`field_path` maps a field of the normalised
config back to the path the user wrote in either dialect.
"""

from __future__ import annotations

import difflib
import functools
import json
import sys
import types
import typing
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

import msgspec

from pe_plan.config import DEFAULT_ROUTER_ID_CIDR, DEFAULT_VXLAN_PORT, Source

LEGACY_API = "openpe.openperouter.github.io/v1alpha1"
CURRENT_API = "network.openperouter.io/v1alpha1"
NAME_PATTERN = r"^[a-zA-Z][a-zA-Z0-9_-]*$"
MAX_NAME = 15
MAX_VNI = 16_777_215
MAX_ASN = 4_294_967_295
NAME_RULE = f"a name of at most {MAX_NAME} characters: a letter, then letters, digits, `_` or `-`"

Name = Annotated[
    str, msgspec.Meta(pattern=NAME_PATTERN, max_length=MAX_NAME, description=NAME_RULE)
]
LinkName = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(?!\.\.?$)[^\s/:]+$",
        max_length=MAX_NAME,
        description=f"a Linux interface name: 1 to {MAX_NAME} characters without whitespace, "
        "`/` or `:`",
    ),
]
NamespaceName = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$",
        max_length=64,
        description="a namespace name of at most 64 characters: a letter or digit, then "
        "letters, digits, `.`, `_` or `-`",
    ),
]
ResourceName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=253, description="a name of 1 to 253 characters")
]
Vni = Annotated[int, msgspec.Meta(ge=1, le=MAX_VNI, description=f"a VNI from 1 to {MAX_VNI}")]
Asn = Annotated[int, msgspec.Meta(ge=1, le=MAX_ASN, description=f"an ASN from 1 to {MAX_ASN}")]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535, description="a port from 1 to 65535")]
Seconds = Annotated[
    int, msgspec.Meta(ge=0, le=65535, description="a number of seconds from 0 to 65535")
]
ConnectSeconds = Annotated[
    int, msgspec.Meta(ge=1, le=65535, description="a number of seconds from 1 to 65535")
]
Password = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^\S+$",
        max_length=128,
        description="a password of at most 128 characters without whitespace",
        extra={"secret": True},
    ),
]
Cidr = Annotated[str, msgspec.Meta(description="a CIDR such as 192.168.10.0/24")]
IpAddress = Annotated[str, msgspec.Meta(description="an IPv4 or IPv6 address")]
RouteTarget = Annotated[
    str,
    msgspec.Meta(
        max_length=21, description="a route target `ASN:MN` or `IPv4Address:MN`, 21 characters"
    ),
]

NODE_SELECTOR = (
    "nodeSelector is not supported: pe-plan configures one node; give it only the documents "
    "meant for that node"
)


class Model(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every input model: strict keys, plus the upstream fields pe-plan refuses.

    `UNSUPPORTED` maps a key (or `key=value` for an enum value) to the message that
    rejects it; `RENAMED` maps a key of the other dialect to its name here.
    """

    UNSUPPORTED: ClassVar[Mapping[str, str]] = {}
    RENAMED: ClassVar[Mapping[str, str]] = {}


class Metadata(Model, kw_only=True):
    """Kubernetes object metadata; only `name` matters to pe-plan."""

    name: ResourceName
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class LocalCidr(Model, kw_only=True):
    """The subnets of the veth between the router and the host, one per family."""

    ipv4: Cidr | None = None
    ipv6: Cidr | None = None


# The seed dialect, openpe.openperouter.github.io/v1alpha1.


class LegacyNeighbor(Model, rename="camel", kw_only=True):
    """A BGP peer of the underlay."""

    asn: Asn
    address: IpAddress
    port: Port | None = None
    password: Password | None = None
    hold_time: Seconds | None = None
    keepalive_time: Seconds | None = None
    connect_time: ConnectSeconds | None = None
    ebgp_multi_hop: bool = False
    bfd: bool = False
    RENAMED: ClassVar[Mapping[str, str]] = {
        "holdTimeSeconds": "`holdTime`",
        "keepaliveTimeSeconds": "`keepaliveTime`",
        "connectTimeSeconds": "`connectTime`",
    }


class LegacyUnderlaySpec(Model, kw_only=True):
    """The fabric-facing side: ASN, NICs, BGP neighbors and the VTEP pool."""

    asn: Asn
    vtepcidr: Cidr | None = None
    routeridcidr: Cidr = DEFAULT_ROUTER_ID_CIDR
    nics: Annotated[list[Name], msgspec.Meta(min_length=1)]
    neighbors: Annotated[list[LegacyNeighbor], msgspec.Meta(min_length=1, max_length=128)]
    UNSUPPORTED: ClassVar[Mapping[str, str]] = {"nodeSelector": NODE_SELECTOR}
    RENAMED: ClassVar[Mapping[str, str]] = {
        "tunnelEndpoint": "`vtepcidr`",
        "interfaces": "`nics`",
        "routerIDCIDR": "`routeridcidr`",
    }


class LegacyL3VniSpec(Model, kw_only=True):
    """A routed VNI: a VRF, its EVPN type-5 VNI and an optional BGP session to the host."""

    asn: Asn
    vni: Vni
    vrf: Name | None = None
    hostasn: Asn | None = None
    localcidr: LocalCidr | None = None
    vxlanport: Port = DEFAULT_VXLAN_PORT
    UNSUPPORTED: ClassVar[Mapping[str, str]] = {"nodeSelector": NODE_SELECTOR}
    RENAMED: ClassVar[Mapping[str, str]] = {
        "hostSession": "`asn`, `hostasn` and `localcidr`",
        "vxlanPort": "`vxlanport`",
    }


class LegacyHostMaster(Model, kw_only=True):
    """The host bridge of an L2VNI: `autocreate: true` or the `name` of an existing one."""

    type: Literal["bridge"]
    name: Name | None = None
    autocreate: bool = False
    RENAMED: ClassVar[Mapping[str, str]] = {"linuxBridge": "`name` or `autocreate: true`"}


class LegacyL2VniSpec(Model, kw_only=True):
    """A layer-2 VNI stretched between nodes, optionally routed in a VRF."""

    vni: Vni
    vrf: Name | None = None
    vxlanport: Port = DEFAULT_VXLAN_PORT
    hostmaster: LegacyHostMaster | None = None
    l2gatewayip: Cidr | None = None
    UNSUPPORTED: ClassVar[Mapping[str, str]] = {"nodeSelector": NODE_SELECTOR}
    RENAMED: ClassVar[Mapping[str, str]] = {
        "routingDomain": "`vrf`",
        "gatewayIPs": "`l2gatewayip`",
        "hostMaster": "`hostmaster`",
        "vxlanPort": "`vxlanport`",
    }


class LegacyUnderlay(Model, tag_field="kind", tag="Underlay", kw_only=True):
    """An Underlay in the seed dialect."""

    api_version: Literal["openpe.openperouter.github.io/v1alpha1"] = msgspec.field(
        name="apiVersion"
    )
    metadata: Metadata
    spec: LegacyUnderlaySpec


class LegacyL3Vni(Model, tag_field="kind", tag="L3VNI", kw_only=True):
    """An L3VNI in the seed dialect."""

    api_version: Literal["openpe.openperouter.github.io/v1alpha1"] = msgspec.field(
        name="apiVersion"
    )
    metadata: Metadata
    spec: LegacyL3VniSpec


class LegacyL2Vni(Model, tag_field="kind", tag="L2VNI", kw_only=True):
    """An L2VNI in the seed dialect."""

    api_version: Literal["openpe.openperouter.github.io/v1alpha1"] = msgspec.field(
        name="apiVersion"
    )
    metadata: Metadata
    spec: LegacyL2VniSpec


# The current upstream dialect, network.openperouter.io/v1alpha1.


class Bfd(Model, kw_only=True):
    """`bfd: {}` turns BFD on with FRR's defaults."""

    UNSUPPORTED: ClassVar[Mapping[str, str]] = dict.fromkeys(
        (
            "receiveInterval",
            "transmitInterval",
            "detectMultiplier",
            "echoInterval",
            "echoMode",
            "passiveMode",
            "sessionMode",
            "minimumTTL",
        ),
        "BFD profiles are not supported by pe-plan; use `bfd: {}` for FRR's defaults",
    )


class EbgpMultiHop(Model, kw_only=True):
    """Multihop eBGP with FRR's default TTL."""

    UNSUPPORTED: ClassVar[Mapping[str, str]] = {
        "ttl": "a multihop TTL is not supported by pe-plan; omit it to use FRR's default"
    }


class NeighborProperty(Model, rename="camel", kw_only=True):
    """One optional behaviour of a neighbor; only `ebgpMultiHop` exists."""

    type: Literal["ebgpMultiHop"]
    ebgp_multi_hop: EbgpMultiHop | None = None


class Neighbor(Model, rename="camel", kw_only=True):
    """A BGP peer of the underlay, by address."""

    asn: Asn
    address: IpAddress
    port: Port | None = None
    password: Password | None = None
    hold_time_seconds: Seconds | None = None
    keepalive_time_seconds: Seconds | None = None
    connect_time_seconds: ConnectSeconds | None = None
    bfd: Bfd | None = None
    properties: Annotated[list[NeighborProperty], msgspec.Meta(max_length=1)] | None = None
    UNSUPPORTED: ClassVar[Mapping[str, str]] = {
        "type": "neighbor `type` (External/Internal) is not supported by pe-plan; set `asn`",
        "interface": "BGP unnumbered neighbors are not supported by pe-plan; set `address`",
        "listenRange": "BGP listen ranges are not supported by pe-plan; set `address`",
        "addressFamilies": "explicit address families are not supported by pe-plan; "
        "neighbors carry ipv4 unicast and l2vpn evpn",
        "passwordSecret": "passwordSecret is not supported by pe-plan; use `password`",
    }
    RENAMED: ClassVar[Mapping[str, str]] = {
        "holdTime": "`holdTimeSeconds`",
        "keepaliveTime": "`keepaliveTimeSeconds`",
        "connectTime": "`connectTimeSeconds`",
        "ebgpMultiHop": "`properties: [{type: ebgpMultiHop}]`",
    }


class NetworkDevice(Model, rename="camel", kw_only=True):
    """An existing host interface that pe-plan moves into the router namespace."""

    interface_name: Name


class UnderlayInterface(Model, rename="camel", kw_only=True):
    """One underlay interface; pe-plan supports the `NetworkDevice` type only."""

    type: Literal["NetworkDevice"]
    network_device: NetworkDevice | None = None
    UNSUPPORTED: ClassVar[Mapping[str, str]] = {
        "type=CNIDevice": "CNIDevice interfaces are not supported by pe-plan; "
        "use `type: NetworkDevice`",
        "cniDevice": "CNIDevice interfaces are not supported by pe-plan; use `type: NetworkDevice`",
    }


class TunnelEndpoint(Model, kw_only=True):
    """The pool the VTEP addresses come from."""

    cidrs: Annotated[
        list[Cidr],
        msgspec.Meta(
            min_length=1,
            max_length=1,
            description="one IPv4 CIDR: pe-plan supports IPv4 VTEPs only",
        ),
    ]


class UnderlaySpec(Model, rename="camel", kw_only=True):
    """The fabric-facing side: ASN, interfaces, BGP neighbors and the tunnel endpoint."""

    asn: Asn
    router_id_cidr: Cidr = msgspec.field(name="routerIDCIDR", default=DEFAULT_ROUTER_ID_CIDR)
    neighbors: Annotated[list[Neighbor], msgspec.Meta(min_length=1, max_length=128)]
    interfaces: Annotated[list[UnderlayInterface], msgspec.Meta(min_length=1)]
    tunnel_endpoint: TunnelEndpoint | None = None
    UNSUPPORTED: ClassVar[Mapping[str, str]] = {
        "nodeSelector": NODE_SELECTOR,
        "isis": "ISIS is not supported by pe-plan",
        "srv6": "SRv6 is not supported by pe-plan",
        "routeReflector": "route reflection is not supported by pe-plan",
        "gracefulRestart": "BGP graceful restart is not supported by pe-plan",
    }
    RENAMED: ClassVar[Mapping[str, str]] = {
        "vtepcidr": "`tunnelEndpoint.cidrs`",
        "vtepCIDR": "`tunnelEndpoint.cidrs`",
        "nics": "`interfaces`",
        "routeridcidr": "`routerIDCIDR`",
    }


class HostSession(Model, rename="camel", kw_only=True):
    """The BGP session between the VRF and the host, over a veth in `localCIDR`."""

    asn: Asn
    host_asn: Asn = msgspec.field(name="hostASN")
    local_cidr: LocalCidr = msgspec.field(name="localCIDR")
    UNSUPPORTED: ClassVar[Mapping[str, str]] = {
        "hostType": "hostType is not supported by pe-plan; set `hostASN`",
    }
    RENAMED: ClassVar[Mapping[str, str]] = {"hostasn": "`hostASN`", "localcidr": "`localCIDR`"}


class L3VniSpec(Model, rename="camel", kw_only=True):
    """A routed VNI: a VRF, its EVPN type-5 VNI and an optional BGP session to the host."""

    vrf: Name
    vni: Vni
    vxlan_port: Port = DEFAULT_VXLAN_PORT
    host_session: HostSession | None = None
    export_rts: Annotated[list[RouteTarget], msgspec.Meta(max_length=100)] | None = msgspec.field(
        name="exportRTs", default=None
    )
    import_rts: Annotated[list[RouteTarget], msgspec.Meta(max_length=100)] | None = msgspec.field(
        name="importRTs", default=None
    )
    UNSUPPORTED: ClassVar[Mapping[str, str]] = {
        "nodeSelector": NODE_SELECTOR,
        "underlayAddressFamily": "underlayAddressFamily is not supported by pe-plan; "
        "VXLAN runs over the IPv4 tunnel endpoint",
    }
    RENAMED: ClassVar[Mapping[str, str]] = {
        "hostasn": "`hostSession.hostASN`",
        "localcidr": "`hostSession.localCIDR`",
        "vxlanport": "`vxlanPort`",
    }


class L3VniRef(Model, kw_only=True):
    """A reference to an L3VNI by its `metadata.name`."""

    name: ResourceName


class RoutingDomain(Model, kw_only=True):
    """The L3 domain an L2VNI is routed in; pe-plan supports L3VNIs."""

    type: Literal["L3VNI"]
    l3vni: L3VniRef | None = None
    UNSUPPORTED: ClassVar[Mapping[str, str]] = {
        "type=L3VPN": "L3VPN routing domains are not supported by pe-plan",
        "l3vpn": "L3VPN routing domains are not supported by pe-plan",
    }


class LinuxBridge(Model, kw_only=True):
    """A Linux host bridge: `Managed` (`br-hs-<vni>`, created) or `External` (`name`)."""

    lifecycle: Literal["Managed", "External"]
    name: Name | None = None


class HostMaster(Model, rename="camel", kw_only=True):
    """The host bridge of an L2VNI."""

    type: Literal["LinuxBridge"]
    linux_bridge: LinuxBridge | None = None
    UNSUPPORTED: ClassVar[Mapping[str, str]] = {
        "type=OVSBridge": "OVS bridges are not supported by pe-plan; use `type: LinuxBridge`",
        "ovsBridge": "OVS bridges are not supported by pe-plan; use `type: LinuxBridge`",
    }
    RENAMED: ClassVar[Mapping[str, str]] = {
        "autocreate": "`linuxBridge.lifecycle: Managed`",
        "name": "`linuxBridge.name`",
    }


class L2VniSpec(Model, rename="camel", kw_only=True):
    """A layer-2 VNI stretched between nodes, optionally routed in an L3VNI's VRF."""

    vni: Vni
    vxlan_port: Port = DEFAULT_VXLAN_PORT
    routing_domain: RoutingDomain | None = None
    gateway_ips: (
        Annotated[
            list[Cidr],
            msgspec.Meta(max_length=2, description="at most one IPv4 and one IPv6 gateway"),
        ]
        | None
    ) = msgspec.field(name="gatewayIPs", default=None)
    host_master: HostMaster | None = None
    UNSUPPORTED: ClassVar[Mapping[str, str]] = {
        "nodeSelector": NODE_SELECTOR,
        "underlayAddressFamily": "underlayAddressFamily is not supported by pe-plan; "
        "VXLAN runs over the IPv4 tunnel endpoint",
    }
    RENAMED: ClassVar[Mapping[str, str]] = {
        "vrf": "`routingDomain: {type: L3VNI, l3vni: {name: <L3VNI name>}}`",
        "l2gatewayip": "`gatewayIPs`",
        "l2gatewayips": "`gatewayIPs`",
        "hostmaster": "`hostMaster`",
        "vxlanport": "`vxlanPort`",
    }


class CurrentUnderlay(Model, tag_field="kind", tag="Underlay", kw_only=True):
    """An Underlay in the current dialect."""

    api_version: Literal["network.openperouter.io/v1alpha1"] = msgspec.field(name="apiVersion")
    metadata: Metadata
    spec: UnderlaySpec


class CurrentL3Vni(Model, tag_field="kind", tag="L3VNI", kw_only=True):
    """An L3VNI in the current dialect."""

    api_version: Literal["network.openperouter.io/v1alpha1"] = msgspec.field(name="apiVersion")
    metadata: Metadata
    spec: L3VniSpec


class CurrentL2Vni(Model, tag_field="kind", tag="L2VNI", kw_only=True):
    """An L2VNI in the current dialect."""

    api_version: Literal["network.openperouter.io/v1alpha1"] = msgspec.field(name="apiVersion")
    metadata: Metadata
    spec: L2VniSpec


# The node file.


class NodeIndex(Model, rename="camel", kw_only=True):
    """This node's index, given directly or read from an interface's address."""

    index: Annotated[int, msgspec.Meta(ge=0, description="a node index, 0 or more")] | None = None
    interface_name: LinkName | None = None
    cidr: Cidr | None = None


class FrrSettings(Model, rename="camel", kw_only=True):
    """How FRR runs: started by pe-plan (`managed`) or already running (`external`)."""

    mode: Literal["managed", "external"] = "managed"
    pathspace: NamespaceName | None = None
    vty_socket: Annotated[
        str | None,
        msgspec.Meta(
            description="external mode: the directory of the instance's vty sockets (e.g. "
            "mounted from a router container), instead of a pathspace"
        ),
    ] = None


class NodeFile(Model, rename="camel", kw_only=True):
    """Who this node is and how its router runs."""

    node_index: NodeIndex | None = None
    node_name: ResourceName | None = None
    router_namespace: NamespaceName = "perouter"
    host_namespace: Annotated[
        NamespaceName | None,
        msgspec.Meta(
            description="a named network namespace that plays the host's part (labs and "
            "tests); by default the namespace pe-plan runs in"
        ),
    ] = None
    vtep_device: Annotated[
        Literal["lound", "lo"],
        msgspec.Meta(
            description="where the VTEP address goes: a dummy `lound` (default) or `lo`, "
            "for kernels without the dummy driver"
        ),
    ] = "lound"
    frr: FrrSettings | None = None
    RENAMED: ClassVar[Mapping[str, str]] = {"index": "`nodeIndex: {index: N}`"}


KINDS = ("Underlay", "L3VNI", "L2VNI")
UNSUPPORTED_KINDS = ("L3Passthrough", "L3VPN", "RawFRRConfig")


class Dialect(msgspec.Struct, frozen=True):
    """One apiVersion: its document models by kind and where each config field lives.

    ``paths`` maps ``Kind.field`` of the normalised config to a dotted path template
    (``{i}`` is a list index); ``a|b`` means ``a`` if the document has it, else ``b``.
    """

    api_version: str
    kinds: dict[str, type[Model]]
    paths: dict[str, str]

    @property
    def file_name(self) -> str:
        return self.api_version.replace("/", "-") + ".json"


_COMMON_PATHS = {
    "Underlay.asn": "spec.asn",
    "Underlay.neighbors": "spec.neighbors.{i}",
    "Underlay.neighbors.asn": "spec.neighbors.{i}.asn",
    "Underlay.neighbors.address": "spec.neighbors.{i}.address",
    "Underlay.neighbors.port": "spec.neighbors.{i}.port",
    "Underlay.neighbors.password": "spec.neighbors.{i}.password",
    "L3VNI.vni": "spec.vni",
    "L2VNI.vni": "spec.vni",
}

LEGACY = Dialect(
    api_version=LEGACY_API,
    kinds={"Underlay": LegacyUnderlay, "L3VNI": LegacyL3Vni, "L2VNI": LegacyL2Vni},
    paths={
        **_COMMON_PATHS,
        "Underlay.vtep_cidr": "spec.vtepcidr",
        "Underlay.router_id_cidr": "spec.routeridcidr",
        "Underlay.nics": "spec.nics.{i}",
        "Underlay.neighbors.hold_time": "spec.neighbors.{i}.holdTime",
        "Underlay.neighbors.keepalive_time": "spec.neighbors.{i}.keepaliveTime",
        "Underlay.neighbors.connect_time": "spec.neighbors.{i}.connectTime",
        "L3VNI.vrf": "spec.vrf|metadata.name",
        "L3VNI.asn": "spec.asn",
        "L3VNI.host_asn": "spec.hostasn",
        "L3VNI.local_cidr": "spec.localcidr",
        "L3VNI.local_cidr_ipv4": "spec.localcidr.ipv4",
        "L3VNI.local_cidr_ipv6": "spec.localcidr.ipv6",
        "L3VNI.vxlan_port": "spec.vxlanport",
        "L2VNI.vrf": "spec.vrf",
        "L2VNI.host_master": "spec.hostmaster",
        "L2VNI.host_master.name": "spec.hostmaster.name",
        "L2VNI.gateway_ips": "spec.l2gatewayip",
        "L2VNI.vxlan_port": "spec.vxlanport",
    },
)

CURRENT = Dialect(
    api_version=CURRENT_API,
    kinds={"Underlay": CurrentUnderlay, "L3VNI": CurrentL3Vni, "L2VNI": CurrentL2Vni},
    paths={
        **_COMMON_PATHS,
        "Underlay.vtep_cidr": "spec.tunnelEndpoint.cidrs.0",
        "Underlay.router_id_cidr": "spec.routerIDCIDR",
        "Underlay.nics": "spec.interfaces.{i}.networkDevice.interfaceName",
        "Underlay.neighbors.hold_time": "spec.neighbors.{i}.holdTimeSeconds",
        "Underlay.neighbors.keepalive_time": "spec.neighbors.{i}.keepaliveTimeSeconds",
        "Underlay.neighbors.connect_time": "spec.neighbors.{i}.connectTimeSeconds",
        "L3VNI.vrf": "spec.vrf",
        "L3VNI.asn": "spec.hostSession.asn",
        "L3VNI.host_asn": "spec.hostSession.hostASN",
        "L3VNI.local_cidr": "spec.hostSession.localCIDR",
        "L3VNI.local_cidr_ipv4": "spec.hostSession.localCIDR.ipv4",
        "L3VNI.local_cidr_ipv6": "spec.hostSession.localCIDR.ipv6",
        "L3VNI.vxlan_port": "spec.vxlanPort",
        "L3VNI.export_rts": "spec.exportRTs.{i}",
        "L3VNI.import_rts": "spec.importRTs.{i}",
        "L2VNI.vrf": "spec.routingDomain.l3vni.name",
        "L2VNI.host_master": "spec.hostMaster",
        "L2VNI.host_master.name": "spec.hostMaster.linuxBridge.name",
        "L2VNI.gateway_ips": "spec.gatewayIPs.{i}",
        "L2VNI.vxlan_port": "spec.vxlanPort",
    },
)

DIALECTS = {dialect.api_version: dialect for dialect in (LEGACY, CURRENT)}


def field_path(source: Source, field: str, index: int = 0) -> str:
    """The dotted path, as the source's document spells it, of a normalised config field.

    ``field`` is relative to the source's kind (``vtep_cidr`` for an Underlay,
    ``neighbors.hold_time`` with the neighbor's ``index``). For an unknown apiVersion (a
    hand-made source) the seed dialect's spelling is used.
    """
    dialect = DIALECTS.get(source.api_version, LEGACY)
    choices = [c.format(i=index) for c in dialect.paths[f"{source.kind}.{field}"].split("|")]
    return next((choice for choice in choices if choice in source.fields), choices[0])


# The structural check.

Finding = tuple[str, str]


def check(value: Any, tp: Any, path: str = "") -> list[Finding]:
    """Every way ``value`` (plain YAML data) differs from type ``tp``, as (path, message)."""
    return _check(value, _shape(tp), path)


class _Shape(NamedTuple):
    """How to check a value of one annotation, worked out once per annotation.

    Asking ``typing`` about the same few annotations for every field of 1000 VNIs was a
    third of the validation. ``constrained`` is the annotation with its ``Meta`` only.
    """

    kind: Literal["model", "list", "leaf"]
    base: Any
    meta: msgspec.Meta | None
    optional: bool
    constrained: Any


@functools.cache
def _shape(tp: Any) -> _Shape:
    base, meta = _unwrap(tp)
    optional = _is_optional(base)
    if optional:
        base, meta = _unwrap(next(a for a in typing.get_args(base) if a is not type(None)))
    constrained = Annotated[base, meta] if meta is not None else base
    if isinstance(base, type) and issubclass(base, Model):
        return _Shape("model", base, meta, optional, constrained)
    if typing.get_origin(base) is list:
        return _Shape("list", base, meta, optional, constrained)
    return _Shape("leaf", base, meta, optional, constrained)


def _check(value: Any, shape: _Shape, path: str) -> list[Finding]:
    if value is None and shape.optional:
        return []
    if shape.kind == "model":
        return _check_model(value, shape.base, path)
    if shape.kind == "list":
        return _check_list(value, shape, path)
    return _check_leaf(value, shape, path)


def _check_model(value: Any, model: type[Model], path: str) -> list[Finding]:
    if not isinstance(value, dict):
        return [(path, f"expected a mapping, got {show(value)}")]
    fields = _fields(model)
    tag_field = model.__struct_config__.tag_field
    findings: list[Finding] = []
    for key, item in value.items():
        child = f"{path}.{key}" if path else key
        if key == tag_field:
            continue
        if key in fields:
            unsupported = model.UNSUPPORTED.get(f"{key}={item}") if isinstance(item, str) else None
            if unsupported:
                findings.append((child, unsupported))
            else:
                findings.extend(_check(item, fields[key].shape, child))
        elif key in model.UNSUPPORTED:
            findings.append((child, model.UNSUPPORTED[key]))
        elif key in model.RENAMED:
            findings.append((child, f"unknown field; use {model.RENAMED[key]} here"))
        else:
            findings.append((child, _unknown_field(key, list(fields))))
    findings.extend(
        (f"{path}.{name}" if path else name, "required field is missing")
        for name, field in fields.items()
        if field.required and name not in value
    )
    return findings


class _Field(NamedTuple):
    shape: _Shape
    required: bool


@functools.cache
def _fields(model: type[Model]) -> dict[str, _Field]:
    """A model's fields by their YAML name; cached, because msgspec resolves the string
    annotations anew on every call (about 0.5 ms a model, 2 s for 1000 VNIs)."""
    return {
        f.encode_name: _Field(_shape(f.type), f.required) for f in msgspec.structs.fields(model)
    }


def _check_list(value: Any, shape: _Shape, path: str) -> list[Finding]:
    if not isinstance(value, list):
        return [(path, f"expected a list, got {show(value)}")]
    (item_type,) = typing.get_args(shape.base)
    item_shape = _shape(item_type)
    findings: list[Finding] = []
    for i, item in enumerate(value):
        findings.extend(_check(item, item_shape, f"{path}.{i}"))
    meta = shape.meta
    if meta is not None:
        what = f" ({meta.description})" if meta.description else ""
        if meta.min_length is not None and len(value) < meta.min_length:
            findings.append((path, f"expected at least {_entries(meta.min_length)}{what}"))
        if meta.max_length is not None and len(value) > meta.max_length:
            findings.append(
                (path, f"expected at most {_entries(meta.max_length)}{what}, got {len(value)}")
            )
    return findings


def _check_leaf(value: Any, shape: _Shape, path: str) -> list[Finding]:
    base, meta = shape.base, shape.meta
    secret = bool(meta is not None and meta.extra and meta.extra.get("secret"))
    try:
        msgspec.convert(value, base)
    except msgspec.ValidationError:
        message = f"expected {_expected(base)}, got {show(value, secret=secret)}"
        return [(path, message + _leaf_hint(value, base))]
    if meta is not None:
        try:
            msgspec.convert(value, shape.constrained)
        except msgspec.ValidationError:
            return [(path, f"expected {meta.description}, got {show(value, secret=secret)}")]
    return []


def _leaf_hint(value: Any, base: Any) -> str:
    if typing.get_origin(base) is Literal and isinstance(value, str):
        match = suggest(value, [str(v) for v in typing.get_args(base)])
        return f"; did you mean `{match}`?" if match else ""
    if base is str and isinstance(value, int | float) and not isinstance(value, bool):
        return "; put it in quotes"
    if base is int and isinstance(value, str) and value.strip().isdigit():
        return "; remove the quotes"
    return ""


def suggest(word: str, choices: list[str]) -> str | None:
    """The choice closest to ``word`` (a typo or a case slip), if one is close enough."""
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if match:
        return match[0]
    lowered = {choice.lower(): choice for choice in choices}
    return lowered.get(word.lower())


def _unknown_field(key: str, known: list[str]) -> str:
    match = suggest(key, known)
    if match:
        return f"unknown field; did you mean `{match}`?"
    if not known:
        return "unknown field; this mapping takes no fields"
    return "unknown field; valid fields here: " + ", ".join(f"`{k}`" for k in known)


def _unwrap(tp: Any) -> tuple[Any, msgspec.Meta | None]:
    if typing.get_origin(tp) is Annotated:
        base, *extras = typing.get_args(tp)
        metas = [e for e in extras if isinstance(e, msgspec.Meta)]
        return base, metas[0] if metas else None
    return tp, None


def _is_optional(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _expected(base: Any) -> str:
    if typing.get_origin(base) is Literal:
        return "one of " + ", ".join(f"`{v}`" for v in typing.get_args(base))
    if typing.get_origin(base) is dict:
        return "a mapping of strings"
    names = {int: "an integer", str: "a string", bool: "true or false"}
    return names.get(base, str(base))


def show(value: Any, *, secret: bool = False) -> str:
    """A value as the user wrote it; only its kind for a secret or a collection."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if secret:
        return "a string" if isinstance(value, str) else "a number"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, date):
        return f"a date ({value.isoformat()})"
    return str(value)


def _entries(count: int) -> str:
    return f"{count} {'entry' if count == 1 else 'entries'}"


# JSON Schemas.


def dialect_schema(dialect: Dialect) -> dict[str, Any]:
    """A JSON Schema accepting any document of ``dialect``."""
    refs, components = msgspec.json.schema_components(
        tuple(dialect.kinds.values()), ref_template="#/$defs/{name}"
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"pe-plan input documents, apiVersion {dialect.api_version}",
        "anyOf": list(refs),
        "$defs": components,
    }


def node_file_schema() -> dict[str, Any]:
    """A JSON Schema of the node file."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pe-plan node file",
        **msgspec.json.schema(NodeFile),
    }


def render(schema: dict[str, Any]) -> str:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    return json.dumps(schema, sort_keys=True, indent=2) + "\n"


def schema_files() -> dict[str, str]:
    """File name → content of every schema pe-plan publishes."""
    files = {d.file_name: render(dialect_schema(d)) for d in DIALECTS.values()}
    files["node-file.json"] = render(node_file_schema())
    return files


def write_schemas(directory: Path) -> list[Path]:
    """Write every schema into ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_files().items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    """``python -m pe_plan.schema [DIRECTORY]``: regenerate the schemas (default ``schemas``)."""
    directory = Path(argv[0]) if argv else Path("schemas")
    for path in write_schemas(directory):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

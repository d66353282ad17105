"""Derive: the per-node values that follow from the node index (SPEC section 4).

Every node shares one config; what differs per node (VTEP IP, BGP router-id, the host side
of each L3VNI veth) is computed here from the node index, exactly as OpenPERouter's IPAM
does. An index that does not fit a CIDR is a validation problem that points at the CIDR.
"""

from __future__ import annotations

import ipaddress

import msgspec

from pe_plan.config import Config, L3Vni, Source
from pe_plan.errors import Position, Problem, ValidationError
from pe_plan.schema import field_path


class L3Addresses(msgspec.Struct, frozen=True, kw_only=True):
    """Interface addresses (``ip/prefixlen``) of one L3VNI veth, per family."""

    pe_ipv4: str | None = None
    host_ipv4: str | None = None
    pe_ipv6: str | None = None
    host_ipv6: str | None = None

    @property
    def host_ips(self) -> tuple[str, ...]:
        return tuple(a for a in (self.host_ipv4, self.host_ipv6) if a)

    @property
    def pe_ips(self) -> tuple[str, ...]:
        return tuple(a for a in (self.pe_ipv4, self.pe_ipv6) if a)


class Derived(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    vtep_ip: str | None
    router_id: str
    l3: dict[str, L3Addresses]


def host(cidr: str, offset: int) -> str | None:
    """The ``offset``-th address of the network, or ``None`` when it does not fit.

    For IPv4 networks larger than /31 the broadcast address does not count as a host.
    """
    network = ipaddress.ip_network(cidr, strict=False)
    usable = network.num_addresses
    if network.version == 4 and network.prefixlen < 31:  # noqa: PLR2004
        usable -= 1
    if offset < 0 or offset >= usable:
        return None
    return str(network.network_address + offset)


def l3_offsets(cidr: str, index: int) -> tuple[int, int]:
    """Offsets of the PE side and of this node's host side in a local CIDR.

    The PE side is the network's first address unless that ends in a zero byte (``.0`` or
    ``::``), in which case both sides move up by one: ``/24`` gives ``.1`` and ``.2+i``.
    """
    network = ipaddress.ip_network(cidr, strict=False)
    shift = 1 if network.network_address.packed[-1] == 0 else 0
    return shift, index + 1 + shift


def derive(config: Config, index: int) -> Derived:
    """Per-node values; raises :class:`ValidationError` when the index does not fit."""
    problems = derive_problems(config, index)
    if problems:
        raise ValidationError(problems)
    underlay = config.underlay
    vtep = host(underlay.vtep_cidr, index) if underlay and underlay.vtep_cidr else None
    router_id_cidr = underlay.router_id_cidr if underlay else "10.0.0.0/24"
    router_id = host(router_id_cidr, index + 1)
    assert router_id is not None  # noqa: S101 - derive_problems checked it
    return Derived(
        index=index,
        vtep_ip=vtep,
        router_id=router_id,
        l3={l3.name: _l3_addresses(l3, index) for l3 in config.l3vnis},
    )


def _l3_addresses(l3: L3Vni, index: int) -> L3Addresses:
    values: dict[str, str | None] = {}
    for family, cidr in (("ipv4", l3.local_cidr_ipv4), ("ipv6", l3.local_cidr_ipv6)):
        if cidr is None:
            continue
        prefix = ipaddress.ip_network(cidr, strict=False).prefixlen
        pe_offset, host_offset = l3_offsets(cidr, index)
        values[f"pe_{family}"] = f"{host(cidr, pe_offset)}/{prefix}"
        values[f"host_{family}"] = f"{host(cidr, host_offset)}/{prefix}"
    return msgspec.convert(values, L3Addresses)


def derive_problems(config: Config, index: int) -> list[Problem]:
    """Every CIDR that has no address for this node index, at its path in either dialect."""
    problems: list[Problem] = []

    def source_of(kind: str, name: str) -> Source:
        # A config built in code has no sources; its problems point at the config as a whole.
        unknown = Source(kind=kind, name=name, position=Position(file="<config>", line=1))
        return config.sources.get(f"{kind}/{name}", unknown)

    def check(source: Source, field: str, cidr: str, offset: int, what: str) -> None:
        if host(cidr, offset) is not None:
            return
        path = field_path(source, field)
        size = ipaddress.ip_network(cidr, strict=False).num_addresses
        problems.append(
            Problem(
                position=source.at(path),
                resource=source.resource,
                field=path,
                message=(
                    f"node index {index} does not fit {cidr}: the {what} would be address "
                    f"number {offset} of a network of {size}; use a larger CIDR or a smaller "
                    "node index"
                ),
            )
        )

    underlay = config.underlay
    if underlay is not None:
        source = source_of("Underlay", underlay.name)
        if underlay.vtep_cidr:
            check(source, "vtep_cidr", underlay.vtep_cidr, index, "VTEP IP")
        check(source, "router_id_cidr", underlay.router_id_cidr, index + 1, "router-id")
    for l3 in config.l3vnis:
        source = source_of("L3VNI", l3.name)
        for family, cidr in (("ipv4", l3.local_cidr_ipv4), ("ipv6", l3.local_cidr_ipv6)):
            if cidr is not None:
                _, host_offset = l3_offsets(cidr, index)
                check(source, f"local_cidr_{family}", cidr, host_offset, "host-side IP")
    return problems

"""Validate: loaded documents in either dialect become one normalised, checked :class:`Config`.

Each document is first identified (``apiVersion``, ``kind``) and checked against its model
in :mod:`pe_plan.schema`; a document with structural problems goes no further, but the
others still get every semantic rule of SPEC section 3, so the user sees all problems at
once. A broken resource still counts for the cross-resource rules that would otherwise
report it as missing (a broken Underlay is not "no Underlay"). Rules are written once
against the normalised model; :func:`pe_plan.schema.field_path` turns a normalised field
back into the path the user wrote in their dialect. The node file (SPEC section 2) is
validated here too, and :func:`index_from_addresses` resolves ``nodeIndex.interfaceName``
from addresses the caller reads from the system.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import msgspec

from pe_plan import schema
from pe_plan.config import (
    Config,
    HostMaster,
    L2Vni,
    L3Vni,
    Neighbor,
    NodeSettings,
    Source,
    Underlay,
)
from pe_plan.errors import InputError, Problem, ValidationError
from pe_plan.load import Document, load_file

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MIN_HOLD_TIME = 3
MAX_RT_SMALL = 65535
MAX_RT_LARGE = 4_294_967_295


class _Problems:
    """Collects problems, each placed at the line of the field it is about."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, source: Source, path: str, message: str) -> None:
        resource = source.resource if source.kind and source.name else source.kind
        self.items.append(
            Problem(
                position=source.at(path),
                resource=_printable(resource),
                field=_printable(path),
                message=_printable(message),
            )
        )

    def on(self, source: Source, field: str, message: str, index: int = 0) -> None:
        """A problem with a field of the normalised config, at its path in the document."""
        self.add(source, schema.field_path(source, field, index), message)


def _printable(text: str) -> str:
    """``text`` with control and other invisible characters escaped (``\\n``, ``\\u202e``).

    Names and keys come from the user's YAML as they are: a newline in one would split a
    problem over two lines of the report, or forge a line of its own.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class _Read(msgspec.Struct, frozen=True):
    """A document that was identified; ``document`` is ``None`` when its structure is broken."""

    source: Source
    document: schema.Model | None
    data: dict[str, Any]


class _L2Draft(msgspec.Struct, frozen=True):
    """An L2VNI before its routing domain is resolved to a VRF."""

    l2: L2Vni
    source: Source
    # A VRF name (seed dialect) or an L3VNI name (current dialect), or None when not routed.
    reference: str | None


def validate(documents: list[Document]) -> Config:
    """The normalised config, or :class:`ValidationError` listing every problem."""
    problems = _Problems()
    reads = _unique(
        [read for document in documents if (read := _read(document, problems))], problems
    )
    good = [read for read in reads if read.document is not None]
    underlays = [(_underlay(r, problems), r.source) for r in good if r.source.kind == "Underlay"]
    underlay = underlays[0][0] if underlays else None
    l3s = [(_l3vni(r, underlay, problems), r.source) for r in good if r.source.kind == "L3VNI"]
    drafts = [_l2vni(r, problems) for r in good if r.source.kind == "L2VNI"]
    for item, source in underlays:
        _check_underlay(item, source, problems)
    for l3, source in l3s:
        _check_l3vni(l3, source, problems)
    for draft in drafts:
        _check_gateways(draft.l2, draft.source, problems)
    _check_underlay_count(reads, problems)
    if underlays:
        _check_vtep_needed(underlays[0], reads, problems)
    _check_vnis(l3s, [(d.l2, d.source) for d in drafts], problems)
    _check_vrfs(l3s, problems)
    l2s = _resolve_domains(drafts, l3s, [r for r in reads if r.document is None], problems)
    _check_local_cidrs(l3s, problems)
    _check_vrf_subnets(l3s, l2s, problems)
    if problems.items:
        raise ValidationError(problems.items)
    return Config(
        underlay=underlay,
        l3vnis=tuple(l3 for l3, _ in l3s),
        l2vnis=tuple(l2 for l2, _ in l2s),
        sources={read.source.resource: read.source for read in good},
    )


# Identification and structure.


def _read(document: Document, problems: _Problems) -> _Read | None:
    data = document.data
    api_version, kind = data.get("apiVersion"), data.get("kind")
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    source = Source(
        kind=kind if isinstance(kind, str) else "",
        name=name if isinstance(name, str) else "",
        position=document.position,
        fields=document.positions,
        api_version=api_version if isinstance(api_version, str) else "",
    )
    if api_version is None and kind is None and "nodeIndex" in data:
        problems.add(
            source,
            "",
            "this is a node file, not a config document; give it with --node-file, not -f",
        )
        return None
    dialect = schema.DIALECTS.get(source.api_version)
    if dialect is None:
        expected = " or ".join(f"`{api}`" for api in schema.DIALECTS)
        problems.add(source, "apiVersion", _missing_or_unknown(api_version, expected))
    if kind not in schema.KINDS:
        problems.add(source, "kind", _kind_problem(kind))
    if dialect is None or kind not in schema.KINDS:
        return None
    model = dialect.kinds[source.kind]
    findings = schema.check(data, model)
    for path, message in findings:
        problems.add(source, path, message)
    document_model = None if findings else msgspec.convert(data, model)
    return _Read(source=source, document=document_model, data=data)


def _missing_or_unknown(value: Any, expected: str) -> str:
    if value is None:
        return f"required field is missing; expected {expected}"
    return f"unknown value {schema.show(value)}; expected {expected}"


def _kind_problem(kind: Any) -> str:
    supported = ", ".join(f"`{k}`" for k in schema.KINDS)
    if kind is None:
        return f"required field is missing; expected one of {supported}"
    if kind in schema.UNSUPPORTED_KINDS:
        return f"kind {kind} is not supported by pe-plan; supported kinds: {supported}"
    match = schema.suggest(kind, list(schema.KINDS)) if isinstance(kind, str) else None
    if match:
        return f"unknown kind {schema.show(kind)}; did you mean `{match}`?"
    return f"unknown kind {schema.show(kind)}; expected one of {supported}"


def _unique(reads: list[_Read], problems: _Problems) -> list[_Read]:
    """Drop (and report) a second resource with the name of an earlier one of its kind."""
    first: dict[str, Source] = {}
    kept: list[_Read] = []
    for read in reads:
        source = read.source
        if not source.name:
            kept.append(read)
            continue
        earlier = first.setdefault(source.resource, source)
        if earlier is source:
            kept.append(read)
        else:
            problems.add(
                source,
                "metadata.name",
                f"duplicate {source.kind} name {json.dumps(source.name)}: "
                f"already declared at {earlier.at('metadata.name')}",
            )
    return kept


# Normalisation, with the rules that only one dialect can break.


def _underlay(read: _Read, problems: _Problems) -> Underlay:
    document, source = read.document, read.source
    if isinstance(document, schema.LegacyUnderlay):
        spec = document.spec
        return Underlay(
            name=source.name,
            asn=spec.asn,
            vtep_cidr=spec.vtepcidr,
            nics=tuple(spec.nics),
            router_id_cidr=spec.routeridcidr,
            neighbors=tuple(
                Neighbor(
                    asn=n.asn,
                    address=n.address,
                    port=n.port,
                    password=n.password,
                    hold_time=n.hold_time,
                    keepalive_time=n.keepalive_time,
                    connect_time=n.connect_time,
                    ebgp_multihop=n.ebgp_multi_hop,
                    bfd=n.bfd,
                )
                for n in spec.neighbors
            ),
        )
    assert isinstance(document, schema.CurrentUnderlay)  # noqa: S101 - kind is Underlay
    current = document.spec
    devices = [interface.network_device for interface in current.interfaces]
    for i, device in enumerate(devices):
        if device is None:
            problems.add(
                source,
                f"spec.interfaces.{i}",
                "type/config mismatch: networkDevice must be set if and only if type is "
                "'NetworkDevice'",
            )
    # Only complete interfaces keep their list positions, which later problems point at.
    nics = [] if None in devices else [d.interface_name for d in devices if d is not None]
    endpoint = current.tunnel_endpoint
    return Underlay(
        name=source.name,
        asn=current.asn,
        vtep_cidr=endpoint.cidrs[0] if endpoint else None,
        nics=tuple(nics),
        router_id_cidr=current.router_id_cidr,
        neighbors=tuple(
            Neighbor(
                asn=n.asn,
                address=n.address,
                port=n.port,
                password=n.password,
                hold_time=n.hold_time_seconds,
                keepalive_time=n.keepalive_time_seconds,
                connect_time=n.connect_time_seconds,
                ebgp_multihop=any(p.type == "ebgpMultiHop" for p in n.properties or ()),
                bfd=n.bfd is not None,
            )
            for n in current.neighbors
        ),
    )


def _l3vni(read: _Read, underlay: Underlay | None, problems: _Problems) -> L3Vni:
    document, source = read.document, read.source
    if isinstance(document, schema.LegacyL3Vni):
        spec = document.spec
        if spec.vrf is None and not _is_name(source.name):
            problems.add(
                source,
                "metadata.name",
                f"{json.dumps(source.name)} cannot be the VRF name (expected {schema.NAME_RULE}); "
                "set `spec.vrf`",
            )
        if spec.hostasn is not None and spec.localcidr is None:
            problems.on(
                source,
                "host_asn",
                "hostasn needs `localcidr`: the session to the host runs over a veth in it",
            )
        local = spec.localcidr
        _check_local_families(local, source, problems)
        return L3Vni(
            name=source.name,
            asn=spec.asn,
            vni=spec.vni,
            vrf=spec.vrf or source.name,
            host_asn=spec.hostasn,
            local_cidr_ipv4=local.ipv4 if local else None,
            local_cidr_ipv6=local.ipv6 if local else None,
            vxlan_port=spec.vxlanport,
        )
    assert isinstance(document, schema.CurrentL3Vni)  # noqa: S101 - kind is L3VNI
    current = document.spec
    session = current.host_session
    if session is not None:
        _check_local_families(session.local_cidr, source, problems)
    for field, targets in (("export_rts", current.export_rts), ("import_rts", current.import_rts)):
        for i, target in enumerate(targets or ()):
            message = _route_target_problem(target)
            if message:
                problems.on(source, field, message, i)
    return L3Vni(
        name=source.name,
        # Without a host session the VRF's BGP instance runs with the underlay's ASN. No
        # valid Underlay is a problem reported on its own, so 0 never reaches a Config.
        asn=session.asn if session else (underlay.asn if underlay else 0),
        vni=current.vni,
        vrf=current.vrf,
        host_asn=session.host_asn if session else None,
        local_cidr_ipv4=session.local_cidr.ipv4 if session else None,
        local_cidr_ipv6=session.local_cidr.ipv6 if session else None,
        vxlan_port=current.vxlan_port,
        export_rts=tuple(current.export_rts or ()),
        import_rts=tuple(current.import_rts or ()),
    )


def _check_local_families(
    local: schema.LocalCidr | None, source: Source, problems: _Problems
) -> None:
    if local is not None and local.ipv4 is None and local.ipv6 is None:
        problems.on(source, "local_cidr", "at least one of ipv4 or ipv6 must be specified")


def _l2vni(read: _Read, problems: _Problems) -> _L2Draft:
    document, source = read.document, read.source
    if isinstance(document, schema.LegacyL2Vni):
        spec = document.spec
        bridge = spec.hostmaster
        host_master = None
        if bridge is not None:
            if bridge.autocreate and bridge.name is not None:
                problems.on(
                    source,
                    "host_master.name",
                    "`autocreate: true` and `name` are mutually exclusive: pe-plan either "
                    f"creates br-hs-{spec.vni} or attaches to the existing bridge `name`",
                )
            elif not bridge.autocreate and bridge.name is None:
                problems.on(
                    source,
                    "host_master",
                    f"set `autocreate: true` (pe-plan creates br-hs-{spec.vni}) or the `name` "
                    "of an existing bridge",
                )
            host_master = _host_master(spec.vni, managed=bridge.autocreate, name=bridge.name)
        l2 = L2Vni(
            name=source.name,
            vni=spec.vni,
            vxlan_port=spec.vxlanport,
            host_master=host_master,
            gateway_ips=(spec.l2gatewayip,) if spec.l2gatewayip else (),
        )
        return _L2Draft(l2=l2, source=source, reference=spec.vrf)
    assert isinstance(document, schema.CurrentL2Vni)  # noqa: S101 - kind is L2VNI
    current = document.spec
    host_master = None
    if current.host_master is not None:
        linux = current.host_master.linux_bridge
        if linux is None:
            problems.on(
                source,
                "host_master",
                "type/config mismatch: 'LinuxBridge' requires linuxBridge field",
            )
        else:
            managed = linux.lifecycle == "Managed"
            if managed == (linux.name is not None):
                problems.add(
                    source,
                    "spec.hostMaster.linuxBridge.name"
                    if managed
                    else "spec.hostMaster.linuxBridge.lifecycle",
                    "name must be set when lifecycle is External, and must not be set when it "
                    "is Managed",
                )
            host_master = _host_master(current.vni, managed=managed, name=linux.name)
    domain = current.routing_domain
    if domain is not None and domain.l3vni is None:
        problems.add(
            source,
            "spec.routingDomain",
            "type L3VNI requires l3vni to be set and l3vpn to be unset",
        )
    l2 = L2Vni(
        name=source.name,
        vni=current.vni,
        vxlan_port=current.vxlan_port,
        host_master=host_master,
        gateway_ips=tuple(current.gateway_ips or ()),
    )
    reference = domain.l3vni.name if domain and domain.l3vni else None
    return _L2Draft(l2=l2, source=source, reference=reference)


def _host_master(vni: int, *, managed: bool, name: str | None) -> HostMaster | None:
    if managed:
        return HostMaster(managed=True, name=f"br-hs-{vni}")
    return HostMaster(managed=False, name=name) if name else None


# Rules on one resource.


def _check_underlay(underlay: Underlay, source: Source, problems: _Problems) -> None:
    if underlay.vtep_cidr is not None:
        message = _pool_problem(
            underlay.vtep_cidr, 4, "IPv6 VTEPs are not supported by pe-plan; use an IPv4 CIDR"
        )
        if message:
            problems.on(source, "vtep_cidr", message)
    message = _pool_problem(
        underlay.router_id_cidr, 4, "router-ids are IPv4 addresses; use an IPv4 CIDR"
    )
    if message:
        problems.on(source, "router_id_cidr", message)
    seen_nics: set[str] = set()
    for i, nic in enumerate(underlay.nics):
        if nic in seen_nics:
            problems.on(source, "nics", f"duplicate interface {nic}", i)
        seen_nics.add(nic)
    seen: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, int] = {}
    for i, neighbor in enumerate(underlay.neighbors):
        try:
            address = ipaddress.ip_address(neighbor.address)
        except ValueError:
            problems.on(
                source,
                "neighbors.address",
                f"{json.dumps(neighbor.address)} is not a valid IPv4 or IPv6 address",
                i,
            )
        else:
            if address in seen:
                earlier = source.at(schema.field_path(source, "neighbors.address", seen[address]))
                problems.on(
                    source,
                    "neighbors.address",
                    f"duplicate neighbor address {address}: already used at {earlier}",
                    i,
                )
            seen.setdefault(address, i)
        _check_timers(neighbor, i, source, problems)


def _check_timers(neighbor: Neighbor, i: int, source: Source, problems: _Problems) -> None:
    hold_path = schema.field_path(source, "neighbors.hold_time", i)
    keepalive_path = schema.field_path(source, "neighbors.keepalive_time", i)
    hold_name, keepalive_name = hold_path.rpartition(".")[2], keepalive_path.rpartition(".")[2]
    hold, keepalive = neighbor.hold_time, neighbor.keepalive_time
    if hold is None and keepalive is None:
        return
    if hold is None or keepalive is None:
        problems.add(
            source,
            hold_path if hold is not None else keepalive_path,
            f"`{hold_name}` and `{keepalive_name}` must be both set or both unset",
        )
        return
    if 0 < hold < MIN_HOLD_TIME:
        problems.add(source, hold_path, f"must be 0 or at least {MIN_HOLD_TIME}, got {hold}")
    if keepalive > hold:
        problems.add(
            source, keepalive_path, f"must not exceed `{hold_name}` ({hold}), got {keepalive}"
        )


def _check_l3vni(l3: L3Vni, source: Source, problems: _Problems) -> None:
    if l3.host_asn is not None and l3.host_asn == l3.asn:
        host_name = schema.field_path(source, "host_asn").rpartition(".")[2]
        asn_name = schema.field_path(source, "asn").rpartition(".")[2]
        problems.on(source, "host_asn", f"{host_name} must be different from {asn_name} ({l3.asn})")
    for family, cidr in ((4, l3.local_cidr_ipv4), (6, l3.local_cidr_ipv6)):
        if cidr is not None:
            message = _pool_problem(cidr, family, "")
            if message:
                problems.on(source, f"local_cidr_ipv{family}", message)


def _check_gateways(l2: L2Vni, source: Source, problems: _Problems) -> None:
    families: dict[int, str] = {}
    for i, gateway in enumerate(l2.gateway_ips):
        message = _gateway_problem(gateway)
        if message:
            problems.on(source, "gateway_ips", message, i)
            continue
        version = ipaddress.ip_interface(gateway).version
        if version in families:
            problems.on(
                source,
                "gateway_ips",
                f"{gateway} has the same address family as {families[version]}: two gateways "
                "must be one IPv4 and one IPv6 address",
                i,
            )
        families.setdefault(version, gateway)


# Rules across resources.


def _check_underlay_count(reads: list[_Read], problems: _Problems) -> None:
    declared = [r.source for r in reads if r.source.kind == "Underlay"]
    for extra in declared[1:]:
        problems.add(
            extra,
            "",
            "more than one Underlay: a node has exactly one "
            f"(the first is {declared[0].resource} at {declared[0].position})",
        )
    vnis = [r.source for r in reads if r.source.kind in ("L3VNI", "L2VNI")]
    if vnis and not declared:
        problems.add(
            vnis[0],
            "",
            "no Underlay: VNIs need exactly one Underlay, which gives the ASN, the NICs and "
            "the VTEP CIDR",
        )


def _check_vtep_needed(
    underlay: tuple[Underlay, Source], reads: list[_Read], problems: _Problems
) -> None:
    if underlay[0].vtep_cidr is None and any(r.source.kind != "Underlay" for r in reads):
        problems.on(
            underlay[1],
            "vtep_cidr",
            "required when L2VNIs or L3VNIs exist: it gives each node its VTEP address",
        )


def _check_vnis(
    l3s: list[tuple[L3Vni, Source]], l2s: list[tuple[L2Vni, Source]], problems: _Problems
) -> None:
    owners: dict[int, Source] = {}
    for vni, source in [(l3.vni, s) for l3, s in l3s] + [(l2.vni, s) for l2, s in l2s]:
        owner = owners.setdefault(vni, source)
        if owner is not source:
            problems.on(
                source,
                "vni",
                f"duplicate vni {vni}: {owner.resource} already uses it "
                f"({owner.at(schema.field_path(owner, 'vni'))}); VNIs are unique across "
                "L2VNIs and L3VNIs",
            )


def _check_vrfs(l3s: list[tuple[L3Vni, Source]], problems: _Problems) -> None:
    owners: dict[str, Source] = {}
    for l3, source in l3s:
        owner = owners.setdefault(l3.vrf, source)
        if owner is not source:
            problems.on(
                source,
                "vrf",
                f"more than one L3VNI detected in VRF {json.dumps(l3.vrf)}: "
                f"{owner.resource} already exists",
            )


def _resolve_domains(
    drafts: list[_L2Draft],
    l3s: list[tuple[L3Vni, Source]],
    broken: list[_Read],
    problems: _Problems,
) -> list[tuple[L2Vni, Source]]:
    """Each L2VNI with the VRF it is routed in; a reference must name an existing L3VNI."""
    by_vrf = {l3.vrf: l3 for l3, _ in l3s}
    by_name = {l3.name: l3 for l3, _ in l3s}
    # A broken L3VNI is reported already; an L2VNI pointing at it is not a second problem.
    broken_l3 = [r for r in broken if r.source.kind == "L3VNI"]
    broken_vrfs = {_raw_vrf(r) for r in broken_l3}
    broken_names = {r.source.name for r in broken_l3}
    resolved: list[tuple[L2Vni, Source]] = []
    for draft in drafts:
        l2, source = draft.l2, draft.source
        current = source.api_version == schema.CURRENT_API
        target = (
            by_name.get(draft.reference or "") if current else by_vrf.get(draft.reference or "")
        )
        if draft.reference is None:
            if l2.gateway_ips:
                problems.on(source, "gateway_ips", _no_domain_message(current, by_vrf), 0)
        elif target is None and draft.reference not in (broken_names if current else broken_vrfs):
            problems.on(source, "vrf", _unknown_domain_message(current, draft.reference, l3s))
        resolved.append((msgspec.structs.replace(l2, vrf=target.vrf if target else None), source))
    return resolved


def _raw_vrf(read: _Read) -> str:
    spec = read.data.get("spec")
    vrf = spec.get("vrf") if isinstance(spec, dict) else None
    return vrf if isinstance(vrf, str) else read.source.name


def _no_domain_message(current: bool, by_vrf: dict[str, L3Vni]) -> str:
    if current:
        return "gatewayIPs cannot be set without routingDomain"
    vrfs = ", ".join(sorted(by_vrf)) or "none yet"
    return f"a gateway needs a VRF: set `vrf` to the VRF of an L3VNI (VRFs with an L3VNI: {vrfs})"


def _unknown_domain_message(current: bool, reference: str, l3s: list[tuple[L3Vni, Source]]) -> str:
    if current:
        names = ", ".join(l3.name for l3, _ in l3s) or "none"
        return f"referenced L3VNI {json.dumps(reference)} not found (L3VNIs: {names})"
    vrfs = ", ".join(l3.vrf for l3, _ in l3s) or "none"
    return f"VRF {json.dumps(reference)} has no L3VNI (VRFs with an L3VNI: {vrfs})"


def _check_local_cidrs(l3s: list[tuple[L3Vni, Source]], problems: _Problems) -> None:
    for family in (4, 6):
        seen: list[tuple[Network, L3Vni, Source]] = []
        field = f"local_cidr_ipv{family}"
        for l3, source in l3s:
            network = _network(getattr(l3, field))
            if network is None:
                continue
            for other_network, other, other_source in seen:
                if network.overlaps(other_network):
                    problems.on(
                        source,
                        field,
                        f"overlapping cidrs {network} - {other_network} for vnis "
                        f"{l3.name} - {other.name} ({other_source.resource} at "
                        f"{other_source.at(schema.field_path(other_source, field))})",
                    )
            seen.append((network, l3, source))


def _check_vrf_subnets(
    l3s: list[tuple[L3Vni, Source]], l2s: list[tuple[L2Vni, Source]], problems: _Problems
) -> None:
    """Within a VRF, no two of its local CIDRs and gateway subnets overlap."""
    subnets: dict[str, list[tuple[Network, Source, str]]] = {}
    for l3, source in l3s:
        for field in ("local_cidr_ipv4", "local_cidr_ipv6"):
            network = _network(getattr(l3, field))
            if network is not None:
                path = schema.field_path(source, field)
                subnets.setdefault(l3.vrf, []).append((network, source, path))
    for l2, source in l2s:
        for i, gateway in enumerate(l2.gateway_ips if l2.vrf else ()):
            network = _network(gateway, interface=True)
            if network is not None and l2.vrf is not None:
                path = schema.field_path(source, "gateway_ips", i)
                subnets.setdefault(l2.vrf, []).append((network, source, path))
    for vrf, entries in subnets.items():
        for n, (network, source, path) in enumerate(entries):
            for other_network, other_source, _ in entries[:n]:
                if network.overlaps(other_network):
                    problems.add(
                        source,
                        path,
                        f"subnet overlap in VRF {json.dumps(vrf)}: IPNet {network} "
                        f"({source.resource}) overlaps with IPNet {other_network} "
                        f"({other_source.resource})",
                    )


# Addresses.


def _network(text: str | None, *, interface: bool = False) -> Network | None:
    """The network of a CIDR (or of an interface address), ``None`` when it does not parse."""
    if text is None:
        return None
    try:
        if interface:
            return ipaddress.ip_interface(text).network
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _pool_problem(text: str, family: int, other_family: str) -> str | None:
    """What is wrong with a CIDR that addresses are taken from, if anything."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return (
            f"{json.dumps(text)} is not a valid CIDR; expected an address and a prefix length "
            "such as 192.168.10.0/24"
        )
    if network.version != family:
        return other_family or f"expected an IPv{family} CIDR, got {text}"
    if str(network) != text:
        return f"{text} has host bits set; the network is {network}"
    return None


def _gateway_problem(text: str) -> str | None:
    """What is wrong with a gateway address such as 192.170.1.1/24, if anything."""
    try:
        interface = ipaddress.ip_interface(text)
    except ValueError:
        interface = None
    if interface is None or "/" not in text:
        return (
            f"{json.dumps(text)} is not a valid gateway; expected the gateway's address and "
            "the subnet's prefix length, such as 192.170.1.1/24"
        )
    network = interface.network
    # /31, /32 (and /127, /128) have no network or broadcast address to avoid.
    if network.num_addresses <= 2:  # noqa: PLR2004
        return None
    if interface.ip == network.network_address:
        example = f"{network.network_address + 1}/{network.prefixlen}"
        return f"{text} is the network address; a gateway needs a host address such as {example}"
    if network.version == 4 and interface.ip == network.broadcast_address:  # noqa: PLR2004
        return f"{text} is the broadcast address; a gateway needs a host address"
    return None


def _route_target_problem(target: str) -> str | None:
    """The upstream messages for a route target that is neither ASN:MN nor A.B.C.D:MN."""
    head, colon, tail = target.rpartition(":")
    if not colon or ":" in head:
        return (
            f"RT {json.dumps(target)} must have one of the following formats: 'ASN:MN' or "
            "'IPv4Address:MN'"
        )
    if "." in head:
        try:
            ipaddress.IPv4Address(head)
        except ValueError:
            return f"RT format must have A.B.C.D:MN where A.B.C.D is a valid IPv4 address: {target}"
        if not tail.isdigit() or int(tail) > MAX_RT_SMALL:
            return f"RT format must have A.B.C.D:MN where MN <= 65535: {target}"
        return None
    if not head.isdigit() or not tail.isdigit() or int(head) > schema.MAX_ASN:
        return f"RT format must have ASN:MN: {target}"
    if int(head) <= MAX_RT_SMALL and int(tail) > MAX_RT_LARGE:
        return f"RT format with 2-byte ASN must have ASN:MN where MN <= 4294967295: {target}"
    if int(head) > MAX_RT_SMALL and int(tail) > MAX_RT_SMALL:
        return f"RT format with 4-byte ASN must have ASN:MN where MN <= 65535: {target}"
    return None


def _is_name(text: str) -> bool:
    return len(text) <= schema.MAX_NAME and re.fullmatch(schema.NAME_PATTERN, text) is not None


# The node file.


def load_node_file(path: Path) -> NodeSettings:
    """Read and check a node file (``nodeIndex``, ``nodeName``, ``routerNamespace``, ``frr``)."""
    documents = load_file(path)
    if len(documents) > 1:
        raise InputError(
            f"{documents[1].position}: a node file holds one document, found {len(documents)}"
        )
    document = documents[0]
    source = Source(kind="", name="", position=document.position, fields=document.positions)
    problems = _Problems()
    for field_path, message in schema.check(document.data, schema.NodeFile):
        problems.add(source, field_path, message)
    if problems.items:
        raise ValidationError(problems.items)
    node = msgspec.convert(document.data, schema.NodeFile)
    selector = node.node_index
    if selector is not None:
        _check_node_index(selector, source, problems)
    if problems.items:
        raise ValidationError(problems.items)
    frr = node.frr or schema.FrrSettings()
    return NodeSettings(
        index=selector.index if selector else None,
        interface_name=selector.interface_name if selector else None,
        cidr=selector.cidr if selector else None,
        node_name=node.node_name,
        router_namespace=node.router_namespace,
        host_namespace=node.host_namespace,
        vtep_device=node.vtep_device,
        frr_mode=frr.mode,
        frr_pathspace=frr.pathspace,
        frr_vty_socket=frr.vty_socket,
        source=document.position,
    )


def _check_node_index(selector: schema.NodeIndex, source: Source, problems: _Problems) -> None:
    if selector.index is not None and selector.interface_name is not None:
        problems.add(
            source,
            "nodeIndex.interfaceName",
            f"index and interfaceName are mutually exclusive, got index {selector.index} and "
            f"interface {json.dumps(selector.interface_name)}",
        )
    if selector.index is None and selector.interface_name is None and selector.cidr is None:
        problems.add(
            source,
            "nodeIndex",
            "set `index` (this node's number) or `interfaceName` (read it from an address)",
        )
    if selector.cidr is not None:
        if selector.interface_name is None:
            problems.add(
                source,
                "nodeIndex.cidr",
                f"cidr {json.dumps(selector.cidr)} requires interfaceName to be set",
            )
        if _network(selector.cidr) is None:
            problems.add(source, "nodeIndex.cidr", f"invalid cidr {json.dumps(selector.cidr)}")


def index_from_addresses(addresses: list[str], cidr: str | None, interface: str) -> int:
    """The node index from ``interface``'s addresses (``ip/prefixlen``), as upstream does.

    With ``cidr``, the host bits of the first address inside it; otherwise of the first IPv4
    address, or else of the first global unicast IPv6 address.
    """
    interfaces = [ipaddress.ip_interface(address) for address in addresses]
    if cidr is not None:
        network = ipaddress.ip_network(cidr, strict=False)
        matching = [i for i in interfaces if i.version == network.version and i.ip in network]
        if not matching:
            raise InputError(f"no address matching cidr {cidr} found on interface {interface}")
        chosen = matching[0]
    else:
        ipv4 = [i for i in interfaces if i.version == 4]  # noqa: PLR2004
        ipv6 = [
            i
            for i in interfaces
            if i.version == 6  # noqa: PLR2004
            and not (i.is_link_local or i.is_loopback or i.is_multicast or i.is_unspecified)
        ]
        if not ipv4 + ipv6:
            raise InputError(f"no IP address found on interface {interface}")
        chosen = (ipv4 + ipv6)[0]
    return int(chosen.ip) & int(chosen.hostmask)

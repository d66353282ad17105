"""FRR rendering: the whole FRR configuration of one node, and its public form.

The config follows OpenPERouter's rendered shape (reference 3.2): the underlay
``router bgp`` with its neighbors activated in ipv4 unicast and, when VNIs exist, in
l2vpn evpn with ``allowas-in``; the VTEP ``network`` and ``advertise-all-vni``; per L3VNI a
``vrf X / vni N`` stanza and a ``router bgp ASN vrf X`` instance with the host neighbor,
the host /32 (/128) and gateway subnets as ``network`` lines and ``advertise ipv4|ipv6
unicast``. Unlike upstream, a dual-stack L3VNI renders one VRF instance, not two that FRR
merges. Every BGP instance carries the node's own router-id (LAB pitfall 8).

Lines are ordered and spelled the way FRR 8.4.4 prints them in ``show running-config``
(neighbors and networks sorted, ``ebgp-multihop 255``, ``log stdout informational``), so a
rendered config reads back unchanged; this module decides that order, the template
``templates/frr.conf.j2`` only lays it out.

Secrets: :func:`mask_secrets` replaces every password by a salted digest marker; it is
applied to the rendered text and to running configs alike, so their public forms compare
equal exactly when the passwords are equal. :func:`reveal_secrets` puts the real passwords
back into public text (a plan's additions) from the rendered text that holds them.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache

import jinja2
import msgspec

from pe_plan.config import Config, L3Vni, Neighbor, Underlay
from pe_plan.derive import Derived
from pe_plan.errors import PlanError
from pe_plan.model import FrrConfig
from pe_plan.secrets import MARKER_RE, marker

# FRR's own default; `show running-config` hides it, so rendering it would only make
# every reload set it again.
BGP_DEFAULT_PORT = 179
IPV4, IPV6 = 4, 6

# Lines whose last field is a secret, in the spelling FRR prints: BGP neighbor passwords,
# the vty passwords and key-chain keys.
SECRET_LINE_RE = re.compile(
    r"^(?P<head>[ \t]*(?:neighbor\s+\S+\s+password|(?:enable\s+)?password(?:\s+8)?|key-string)"
    r"\s+)(?P<secret>\S(?:.*\S)?)[ \t]*$",
    re.MULTILINE,
)


class _Peer(msgspec.Struct, frozen=True):
    """A neighbor's lines inside one address family."""

    address: str
    allowas_in: bool = False
    route_maps: bool = False


class _Family(msgspec.Struct, frozen=True):
    name: str
    networks: tuple[str, ...] = ()
    peers: tuple[_Peer, ...] = ()
    advertise_all_vni: bool = False
    advertise_unicast: bool = False
    import_rts: tuple[str, ...] = ()
    export_rts: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        # FRR prints no address-family block that has nothing in it.
        return not (
            self.networks
            or self.peers
            or self.advertise_all_vni
            or self.advertise_unicast
            or self.import_rts
            or self.export_rts
        )


class _Neighbor(msgspec.Struct, frozen=True):
    """A neighbor's session lines, already filtered of FRR defaults."""

    address: str
    asn: int
    bfd: bool = False
    password: str | None = None
    port: int | None = None
    ebgp_multihop: bool = False
    timers: str | None = None
    connect_time: int | None = None
    extended_nexthop: bool = False


class _Instance(msgspec.Struct, frozen=True):
    asn: int
    vrf: str | None
    router_id: str
    neighbors: tuple[_Neighbor, ...]
    families: tuple[_Family, ...]


class _Vrf(msgspec.Struct, frozen=True):
    name: str
    vni: int


def render_frr(config: Config, derived: Derived, *, hostname: str, secret_salt: str) -> FrrConfig:
    """The FRR config of the node; ``public`` has every password masked with the salt."""
    l3vnis = sorted(config.l3vnis, key=lambda l3: l3.vrf)
    instances: list[_Instance] = []
    if config.underlay is not None:
        has_vnis = bool(config.l3vnis or config.l2vnis)
        instances.append(_underlay_instance(config.underlay, derived, has_vnis=has_vnis))
        instances.extend(_vrf_instance(config, l3, derived) for l3 in l3vnis)
    text = _template().render(
        hostname=hostname,
        vrfs=[_Vrf(name=l3.vrf, vni=l3.vni) for l3 in l3vnis],
        instances=instances,
    )
    return FrrConfig(text=text, public=mask_secrets(text, secret_salt))


def mask_secrets(text: str, salt: str) -> str:
    """``text`` with every secret replaced by its salted digest marker.

    Works on any FRR config text (rendered or running); values that are already markers
    are left alone, so masking twice changes nothing.
    """

    def mask(match: re.Match[str]) -> str:
        secret = match["secret"]
        if MARKER_RE.fullmatch(secret):
            return match[0]
        return f"{match['head']}{marker(secret, salt)}"

    return SECRET_LINE_RE.sub(mask, text)


def reveal_secrets(text: str, source: str, salt: str) -> str:
    """Public ``text`` with each marker replaced by the secret of ``source`` it stands for.

    ``source`` is a real config text (the rendered config); a marker none of its secrets
    produces means the config changed since the public text was made.
    """
    secrets = {marker(m["secret"], salt): m["secret"] for m in SECRET_LINE_RE.finditer(source)}

    def reveal(match: re.Match[str]) -> str:
        if match[0] not in secrets:
            raise PlanError(
                "the FRR change needs a password that the configuration no longer has",
                hint="the configuration changed since the plan was made; run pe-plan plan again",
            )
        return secrets[match[0]]

    return MARKER_RE.sub(reveal, text)


@cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("pe_plan", "templates"),
        # FRR config, not HTML: escaping would corrupt it.
        autoescape=False,  # noqa: S701
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return environment.get_template("frr.conf.j2")


def _underlay_instance(underlay: Underlay, derived: Derived, *, has_vnis: bool) -> _Instance:
    neighbors = sorted(underlay.neighbors, key=lambda n: _address_key(n.address))
    ebgp = [
        _Peer(address=n.address, allowas_in=n.asn != underlay.asn)  # LAB pitfall 7
        for n in neighbors
    ]
    vtep = ipaddress.ip_address(derived.vtep_ip) if derived.vtep_ip else None
    families = (
        # Every neighbor carries ipv4 unicast (the VTEP route); IPv6 neighbors also carry
        # their own family.
        _Family(
            name="ipv4 unicast",
            networks=(f"{vtep}/32",) if vtep and vtep.version == IPV4 else (),
            peers=tuple(ebgp),
        ),
        _Family(
            name="ipv6 unicast",
            networks=(f"{vtep}/128",) if vtep and vtep.version == IPV6 else (),
            peers=tuple(p for p in ebgp if _version(p.address) == IPV6),
        ),
        _Family(
            name="l2vpn evpn",
            peers=tuple(ebgp) if has_vnis else (),
            advertise_all_vni=vtep is not None,
        ),
    )
    return _Instance(
        asn=underlay.asn,
        vrf=None,
        router_id=derived.router_id,
        neighbors=tuple(_session(n) for n in neighbors),
        families=tuple(f for f in families if not f.empty),
    )


def _session(neighbor: Neighbor) -> _Neighbor:
    timers = None
    if neighbor.keepalive_time is not None and neighbor.hold_time is not None:
        timers = f"{neighbor.keepalive_time} {neighbor.hold_time}"
    return _Neighbor(
        address=neighbor.address,
        asn=neighbor.asn,
        bfd=neighbor.bfd,
        password=neighbor.password,
        port=neighbor.port if neighbor.port != BGP_DEFAULT_PORT else None,
        ebgp_multihop=neighbor.ebgp_multihop,
        timers=timers,
        connect_time=neighbor.connect_time,
        # An IPv6 session carrying ipv4 unicast needs IPv4 next hops (reference 3.1).
        extended_nexthop=_version(neighbor.address) == IPV6,
    )


def _vrf_instance(config: Config, l3: L3Vni, derived: Derived) -> _Instance:
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    neighbors: list[_Neighbor] = []
    if l3.host_asn is not None:
        # The host side of the veth exists only with a host session (as upstream).
        for cidr in derived.l3[l3.name].host_ips:
            host = ipaddress.ip_interface(cidr).ip
            networks.append(ipaddress.ip_network(host))
            neighbors.append(_Neighbor(address=str(host), asn=l3.host_asn))
    for l2 in config.l2vnis:
        if l2.vrf == l3.vrf:
            networks.extend(ipaddress.ip_interface(g).network for g in l2.gateway_ips)
    neighbors.sort(key=lambda n: _address_key(n.address))
    # Like upstream, each host neighbor is activated in both unicast families.
    peers = tuple(_Peer(address=n.address, route_maps=True) for n in neighbors)
    # FRR's network order: by address, a covering prefix before the ones it covers.
    unique = sorted(set(networks), key=lambda n: (n.version, n.network_address, n.prefixlen))
    families = (
        _Family(
            name="ipv4 unicast",
            networks=tuple(str(n) for n in unique if n.version == IPV4),
            peers=peers,
        ),
        _Family(
            name="ipv6 unicast",
            networks=tuple(str(n) for n in unique if n.version == IPV6),
            peers=peers,
        ),
        _Family(
            name="l2vpn evpn",
            advertise_unicast=True,
            # FRR keeps route targets sorted as text.
            import_rts=tuple(sorted(l3.import_rts)),
            export_rts=tuple(sorted(l3.export_rts)),
        ),
    )
    return _Instance(
        asn=l3.asn,
        vrf=l3.vrf,
        router_id=derived.router_id,
        neighbors=tuple(neighbors),
        families=tuple(f for f in families if not f.empty),
    )


def _version(address: str) -> int:
    return ipaddress.ip_address(address).version


def _address_key(address: str) -> tuple[int, bytes]:
    """FRR's neighbor order: IPv4 before IPv6, then by address."""
    ip = ipaddress.ip_address(address)
    return ip.version, ip.packed

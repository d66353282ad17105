"""The baseline's ``ip`` scripts, written from pe-plan's own desired state, and their check.

Someone doing pe-plan's work by hand with iproute2 would create the same objects with
``ip -batch``. The scripts here are not hand-written per scenario: they are transliterated
object by object from the node's desired state (``pe_plan.desired.desired_node``), so that
both sides of the benchmark build the same node whatever the config, and :func:`differences`
checks it on what the kernel holds afterwards. Per object, the lines do what pe-plan's
requests do:

* a link is created with its MTU, MAC and master, and ``up`` when nothing follows; the IPv6
  address generation mode and the bridge-port flags can only be set on a link that exists
  (and the mode before the link goes up, or a link-local is made), so they follow on lines
  of their own and ``up`` comes last;
* a veth is created from its first leg, with the other leg's name, MTU and namespace; that
  one then joins its master and goes up where it is (a master is named in its namespace);
* the underlay NIC is moved with ``link set … netns``, which drops its addresses and brings
  it down: they are added again and it is brought up.

The lines go into one ``ip -batch`` file per namespace and stage, the stages following the
dependencies: the namespace, its sysctls and the NIC; the router's links and their
addresses (VTEP, VRFs, PE bridges, gateways); the host's (host bridges, first legs of the
veths and their addresses); the router legs of the veths and their addresses; the VXLANs
last, after FRR when FRR is started by hand (as pe-plan does, see ``bench.scenario``).
Deleting is one line per link that the kernel does not delete along with another (a veth
leg takes its peer, a link its addresses), host first, then the NIC goes back with its
addresses and the namespace is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import msgspec

from bench.scenario import Script
from pe_plan.model import (
    Address,
    FrrInstance,
    Link,
    Netns,
    NodeState,
    Object,
    Role,
    Sysctl,
    link_address,
)


class Creation(NamedTuple):
    """``ip`` scripts that build the node, in order; FRR, if it runs, starts before vxlans."""

    namespace: Script
    links: Script
    vxlans: Script


class Node(NamedTuple):
    """Where the scripts act: the real names of the two namespaces and the NIC addresses."""

    namespaces: Mapping[Role, str]
    nic_addresses: Mapping[str, Sequence[str]]  # per underlay NIC, as it has them in the host
    work: Path  # where the batch files go

    def batch(self, role: Role, stage: str, lines: list[str]) -> list[str]:
        """The ``ip`` command line that runs ``lines`` in the namespace of ``role``."""
        path = self.work / f"{stage}-{role}.batch"
        path.write_text("\n".join(lines) + "\n")
        return ["-n", self.namespaces[role], "-batch", str(path)]

    def move(self, link: Link, source: Role, target: Role) -> Script:
        """Move a NIC with its addresses and admin state, as pe-plan does."""
        there = self.namespaces[target]
        script = [["-n", self.namespaces[source], "link", "set", link.name, "netns", there]]
        script += [
            ["-n", there, "address", "add", cidr, "dev", link.name]
            for cidr in self.nic_addresses[link.name]
        ]
        if link.up:
            script.append(["-n", there, "link", "set", link.name, "up"])
        return script


# Batch stages in the order they run (see the module docstring).
ROUTER, HOST, PORTS, VXLANS = "router", "host", "ports", "vxlans"


def creation(desired: NodeState, node: Node) -> Creation:
    """What ``pe-plan apply`` does to an empty node, as ``ip`` scripts."""
    objects = desired.objects.values()
    first_legs = _first_legs(objects)
    namespace: Script = []
    setup: Script = []
    sysctls: dict[Role, list[str]] = {}
    batches: dict[tuple[str, Role], list[str]] = {}
    link_stages: dict[str, str] = {}
    for obj in objects:
        match obj:
            case Netns():
                router = node.namespaces["router"]
                namespace += [["netns", "add", router], ["-n", router, "link", "set", "lo", "up"]]
            case FrrInstance():
                continue  # the FRR-by-hand baseline starts it (bench.scenario.start_frr)
            case Sysctl(namespace=role, key=key, value=value):
                sysctls.setdefault(role, []).append(f"{key}={value}")
            case Link(moved_from=source) if source is not None:
                setup += node.move(obj, source, obj.namespace)
            case Link():
                stage, lines = _link_lines(obj, node.namespaces, desired.objects, first_legs)
                link_stages[obj.address] = stage
                batches.setdefault((stage, obj.namespace), []).extend(lines)
            case Address(namespace=role, link=link, cidr=cidr):
                # With its link; a link pe-plan does not create (lo) is there from the start.
                stage = link_stages.get(
                    link_address(role, link), HOST if role == "host" else ROUTER
                )
                batches.setdefault((stage, role), []).append(f"address add {cidr} dev {link}")
    setup[:0] = [
        ["netns", "exec", node.namespaces[role], "sysctl", "-qw", *values]
        for role, values in sysctls.items()
    ]
    scripts: dict[str, Script] = {stage: [] for stage in (ROUTER, HOST, PORTS, VXLANS)}
    for (stage, role), lines in batches.items():
        scripts[stage].append(node.batch(role, stage, lines))
    return Creation(
        namespace=namespace,
        links=setup + scripts[ROUTER] + scripts[HOST] + scripts[PORTS],
        vxlans=scripts[VXLANS],
    )


def deletion(desired: NodeState, node: Node) -> Script:
    """What ``pe-plan destroy`` does, as ``ip`` scripts: the links, the NIC, the namespace."""
    objects = desired.objects.values()
    first_legs = _first_legs(objects)
    created = {o.address for o in objects if isinstance(o, Link) and o.moved_from is None}
    lines: dict[Role, list[str]] = {"host": [], "router": []}
    teardown: Script = []
    for obj in reversed(objects):
        match obj:
            case Netns():
                teardown.append(["netns", "del", node.namespaces["router"]])
            case Link(moved_from=source) if source is not None:
                teardown += node.move(obj, obj.namespace, source)
            case Link(kind=kind) if kind != "veth" or obj.address in first_legs:
                lines[obj.namespace].append(f"link del {obj.name}")
            case Address(namespace=role, link=link, cidr=cidr) if (
                link_address(role, link) not in created
            ):
                lines[role].append(f"address del {cidr} dev {link}")
    batches = [node.batch(role, "delete", found) for role, found in lines.items() if found]
    return batches + teardown


def _first_legs(objects: Iterable[Object]) -> set[str]:
    """The veth legs that create their pair: those met before their peer, as pe-plan does."""
    seen: set[str] = set()
    first: set[str] = set()
    for obj in objects:
        if isinstance(obj, Link) and obj.kind == "veth":
            seen.add(obj.address)
            if _peer_address(obj) not in seen:
                first.add(obj.address)
    return first


def _peer_address(link: Link) -> str:
    return link_address(link.peer_namespace or link.namespace, link.peer or "")


def _link_lines(
    link: Link,
    namespaces: Mapping[Role, str],
    objects: Mapping[str, Object],
    first_legs: set[str],
) -> tuple[str, list[str]]:
    """The stage and the batch lines of one link."""
    if link.group is not None:
        raise ValueError(f"{link.address}: link groups are not written for iproute2")
    if link.kind == "veth" and link.address not in first_legs:
        # The other leg of a pair made with its MTU: the rest is set where it is.
        return PORTS, _configure(link, ["link", "set", link.name, *_master(link)], [])
    kind: list[str] = ["type", link.kind]
    if link.kind == "vrf":
        kind += ["table", str(link.vrf_table)]
    elif link.kind == "vxlan" and link.vxlan is not None:
        vxlan = link.vxlan
        kind += ["id", str(vxlan.vni), "local", vxlan.local, "dstport", str(vxlan.port)]
        kind += ["learning" if vxlan.learning else "nolearning"]
        kind += ["dev", vxlan.dev] if vxlan.dev else []
    elif link.kind == "veth":
        peer = objects[_peer_address(link)]
        assert isinstance(peer, Link)
        peer_role = link.peer_namespace or link.namespace
        kind += ["peer", "name", peer.name, *_own_attributes(peer)]
        kind += ["netns", namespaces[peer_role]] if peer_role != link.namespace else []
    stage = VXLANS if link.kind == "vxlan" else ROUTER if link.namespace == "router" else HOST
    adding = ["link", "add", link.name, *_own_attributes(link), *_master(link)]
    return stage, _configure(link, adding, kind)


def _own_attributes(link: Link) -> list[str]:
    """What a link is created with, even as the peer of a veth made in another namespace."""
    words = ["mtu", str(link.mtu)] if link.mtu is not None else []
    return words + (["address", link.mac] if link.mac is not None else [])


def _master(link: Link) -> list[str]:
    """A link's master, which can only be named in the link's own namespace."""
    return ["master", link.master] if link.master is not None else []


def _configure(link: Link, first: list[str], kind: list[str]) -> list[str]:
    """``first`` + ``kind`` as one line, then the attributes that need the link to exist."""
    later = []
    if link.addrgenmode is not None:
        later.append(f"link set {link.name} addrgenmode {link.addrgenmode}")
    port = link.bridge_port
    if port is not None and (port.neigh_suppress is not None or port.learning is not None):
        flags = [
            f"{flag} {'on' if value else 'off'}"
            for flag, value in (
                ("neigh_suppress", port.neigh_suppress),
                ("learning", port.learning),
            )
            if value is not None
        ]
        later.append(f"link set {link.name} type bridge_slave {' '.join(flags)}")
    if not later:
        return [" ".join(first + (["up"] if link.up else []) + kind)]
    if link.up:
        later.append(f"link set {link.name} up")
    return [" ".join(first + kind), *later]


def comparable(observed: NodeState, desired: NodeState) -> dict[str, Object]:
    """An observed node as any build of ``desired`` must have it, whatever its names.

    The router namespace is named by its role, and MAC addresses are left out but for those
    the config fixes (the gateways'): the kernel picks the others at random.
    """
    same: dict[str, Object] = {}
    for address, obj in observed.objects.items():
        match obj:
            case Netns():
                same["netns.router"] = Netns(name="router")
            case Link():
                wanted = desired.objects.get(address)
                fixed = isinstance(wanted, Link) and wanted.mac is not None
                same[address] = obj if fixed else msgspec.structs.replace(obj, mac=None)
            case _:
                same[address] = obj
    return same


def differences(pe_plan: Mapping[str, Object], iproute2: Mapping[str, Object]) -> list[str]:
    """What differs between two :func:`comparable` nodes, one line per object."""
    lines = [f"only pe-plan's: {a}" for a in sorted(pe_plan.keys() - iproute2.keys())]
    lines += [f"only iproute2's: {a}" for a in sorted(iproute2.keys() - pe_plan.keys())]
    lines += [
        f"{a}: pe-plan's {pe_plan[a]}, iproute2's {iproute2[a]}"
        for a in sorted(pe_plan.keys() & iproute2.keys())
        if pe_plan[a] != iproute2[a]
    ]
    return lines

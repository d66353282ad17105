"""TEST-ONLY stand-in for pe-plan: sets up a node's router side by hand.

It exists only to prove the lab harness and its topology while pe-plan's ``apply`` is being
built; ``python -m tests.lab demo --router-setup=manual`` selects it, nothing else does. It
follows the upstream OpenPERouter layout for the Layer 2 example (reference section 2.10),
with this project's names (SPEC section 5): router namespace, underlay NIC moved in with its
address re-added, the VTEP on a dummy ``lound``, VRF red with ``br-pe-100``/``vni100`` and
the veth ``host-100``/``pe-100``, ``br-pe-110``/``vni110`` with the gateway and its fixed MAC,
the veth ``host-110``/``pe-110`` and the host bridge ``br-hs-110``, MTU 1450 on the veths;
FRR (zebra and bgpd) in the router namespace with the namespace as pathspace, configured as
reference section 3.2 (c) renders it. Values are the seed's, hard-coded: it reads no config.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from tests.lab.shell import CommandError, Completed, Shell, in_netns
from tests.lab.topology import (
    FRR_LOG_DIR,
    L2VNI,
    L3VNI,
    LEAF_ASN,
    LEAF_IP,
    NODE_ASN,
    Node,
    frr_pids,
    start_frr,
)

VRF = "red"
VRF_TABLE = 1
HOST_ASN = 64515
VETH_MTU = 1500 - 50  # the underlay veth's MTU minus the VXLAN overhead
GATEWAY = "192.170.1.1/24"
GATEWAY_SUBNET = "192.170.1.0/24"
GATEWAY_MAC = f"00:f3:{(L2VNI + 1).to_bytes(4, 'big').hex(':')}"
PE_IP = "192.169.10.1/24"
FRR_STOP_TIMEOUT = 10.0


def host_ip(node: Node) -> str:
    """The host leg of the L3VNI veth: host index+2 of localcidr 192.169.10.0/24."""
    return f"192.169.10.{node.index + 2}"


def router_id(node: Node) -> str:
    """Host index+1 of the default routerIDCIDR 10.0.0.0/24."""
    return f"10.0.0.{node.index + 1}"


def frr_config(node: Node) -> str:
    """Reference section 3.2 (c) for this node, with allowas-in and the per-node router-id."""
    return f"""frr defaults traditional
hostname {node.host_ns}
log file {FRR_LOG_DIR / f"{node.router_ns}.log"}
log timestamp precision 3
vrf {VRF}
 vni {L3VNI}
exit-vrf
route-map allowall permit 1
router bgp {NODE_ASN}
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 bgp router-id {router_id(node)}
 neighbor {LEAF_IP} remote-as {LEAF_ASN}
 address-family ipv4 unicast
  neighbor {LEAF_IP} activate
  neighbor {LEAF_IP} allowas-in
  network {node.vtep}/32
 exit-address-family
 address-family l2vpn evpn
  neighbor {LEAF_IP} activate
  neighbor {LEAF_IP} allowas-in
  advertise-all-vni
 exit-address-family
exit
router bgp {NODE_ASN} vrf {VRF}
 no bgp ebgp-requires-policy
 no bgp network import-check
 no bgp default ipv4-unicast
 bgp router-id {router_id(node)}
 neighbor {host_ip(node)} remote-as {HOST_ASN}
 address-family ipv4 unicast
  network {host_ip(node)}/32
  network {GATEWAY_SUBNET}
  neighbor {host_ip(node)} activate
  neighbor {host_ip(node)} route-map allowall in
  neighbor {host_ip(node)} route-map allowall out
 exit-address-family
 address-family l2vpn evpn
  advertise ipv4 unicast
 exit-address-family
exit
"""


class ManualRouters:
    """TEST-ONLY: the router side of each node by ``ip``/``bridge``/vtysh, no pe-plan."""

    name = "manual"

    def __init__(self, shell: Shell, work: Path) -> None:
        self._shell = shell
        self._work = work

    def apply(self, node: Node) -> Completed:
        return self._step(node, "apply", self._apply)

    def plan(self, node: Node, config: Path | None = None) -> Completed | None:  # noqa: ARG002
        return None  # a hand-made setup has no plan

    def destroy(self, node: Node) -> Completed:
        return self._step(node, "destroy", self._destroy)

    def _step(self, node: Node, verb: str, action: Callable[[Node], None]) -> Completed:
        started = time.monotonic()
        try:
            action(node)
        except CommandError as err:
            return Completed(
                ("manual", verb, node.host_ns), 1, str(err), time.monotonic() - started
            )
        return Completed(("manual", verb, node.host_ns), 0, "", time.monotonic() - started)

    def _apply(self, node: Node) -> None:
        sh, rns = self._shell, node.router_ns
        sh.ip_batch(None, [f"netns add {rns}"])
        sh.run(
            in_netns(
                rns,
                [
                    "sysctl", "-q", "-w",
                    "net.ipv4.conf.all.forwarding=1",
                    "net.ipv6.conf.all.forwarding=1",
                    "net.ipv4.conf.all.arp_accept=1",
                    "net.ipv4.conf.default.arp_accept=1",
                ],
            )
        )  # fmt: skip
        # FRR before the VXLANs (bgpd crashes when a VXLAN appears before the EVPN instance).
        start_frr(self._shell, rns, frr_config(node), self._work)
        sh.ip_batch(
            node.host_ns,
            [
                f"link set toswitch netns {rns}",
                f"link add host-{L3VNI} type veth peer name pe-{L3VNI} netns {rns}",
                f"link add host-{L2VNI} type veth peer name pe-{L2VNI} netns {rns}",
                f"link set host-{L3VNI} mtu {VETH_MTU} up",
                f"addr add {host_ip(node)}/24 dev host-{L3VNI}",
                f"link set host-{L2VNI} mtu {VETH_MTU} up",
                f"link add br-hs-{L2VNI} type bridge",
                f"link set host-{L2VNI} master br-hs-{L2VNI}",
                f"link set br-hs-{L2VNI} up",
            ],
        )
        sh.ip_batch(
            rns,
            [
                "link set lo up",
                # Moving the NIC dropped its address.
                f"addr add {node.underlay_ip}/24 dev toswitch",
                "link set toswitch up",
                "link add lound type dummy",
                f"addr add {node.vtep}/32 dev lound",
                "link set lound up",
                f"link add {VRF} type vrf table {VRF_TABLE}",
                f"link set {VRF} up",
                *_evpn_bridge(L3VNI, node, master=VRF),
                # Into the VRF before the address: enslaving drops addresses.
                f"link set pe-{L3VNI} mtu {VETH_MTU} master {VRF}",
                f"addr add {PE_IP} dev pe-{L3VNI}",
                f"link set pe-{L3VNI} up",
                *_evpn_bridge(L2VNI, node, master=VRF),
                f"link set br-pe-{L2VNI} address {GATEWAY_MAC}",
                f"addr add {GATEWAY} dev br-pe-{L2VNI}",
                f"link set pe-{L2VNI} mtu {VETH_MTU} master br-pe-{L2VNI} up",
            ],
        )
        sh.bridge_batch(rns, [f"link set dev vni{vni} neigh_suppress on" for vni in (L3VNI, L2VNI)])

    def _destroy(self, node: Node) -> None:
        sh, rns = self._shell, node.router_ns
        _stop_frr(rns)
        sh.ip_batch(rns, [f"link set toswitch netns {node.host_ns}"])
        sh.ip_batch(
            node.host_ns,
            [
                f"addr add {node.underlay_ip}/24 dev toswitch",
                "link set toswitch up",
                f"link del host-{L3VNI}",
                f"link del host-{L2VNI}",
                f"link del br-hs-{L2VNI}",
            ],
        )
        sh.ip_batch(None, [f"netns delete {rns}"])


def _evpn_bridge(vni: int, node: Node, *, master: str) -> list[str]:
    """``br-pe-<vni>`` in ``master`` and ``vni<vni>`` in it, without IPv6 link-locals."""
    return [
        f"link add br-pe-{vni} type bridge",
        f"link set br-pe-{vni} master {master} addrgenmode none",
        f"link set br-pe-{vni} up",
        f"link add vni{vni} type vxlan id {vni} local {node.vtep} dstport 4789 nolearning",
        f"link set vni{vni} master br-pe-{vni} addrgenmode none",
        f"link set vni{vni} up",
    ]


def _stop_frr(pathspace: str) -> None:
    """Stop the FRR daemons of ``pathspace`` and wait until they are gone."""
    for pid in frr_pids(pathspace):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + FRR_STOP_TIMEOUT
    while frr_pids(pathspace) and time.monotonic() < deadline:
        time.sleep(0.2)

"""The seed's Layer 2 topology without Kubernetes, built inside the lab guest.

::

    exthost 192.168.20.2 ── (VRF red) leaf 192.168.11.2, VTEP 100.64.0.1, FRR AS 64512
                                         │ swp1
                                   switch (bridge)
                             sw-node0 │          │ sw-node1
                   node0: toswitch 192.168.11.3      node1: toswitch 192.168.11.4
                   (pe-plan moves it into perouter0, (… into perouter1)
                    creates br-hs-110 here)
                   pod0: net1 192.170.1.3 (macvlan    pod1: net1 192.170.1.4
                         on node0's br-hs-110)

The leaf, the external host, the switch and the pods are the lab's; each node's router side
(its router namespace, the VNIs, FRR) is not: pe-plan builds it (see :mod:`tests.lab.routers`).
Named network namespaces are global in the guest, so the two nodes' router namespaces are
``perouter0`` and ``perouter1`` (set through each node's node file).
"""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.lab.shell import CommandError, Shell, in_netns

SWITCH_NS = "switch"
LEAF_NS = "leaf"
EXTHOST_NS = "exthost"
LEAF_ASN = 64512
NODE_ASN = 64514  # the seed's Underlay asn
LEAF_IP = "192.168.11.2"
LEAF_VTEP = "100.64.0.1"
LEAF_VRF = "red"
LEAF_VRF_TABLE = 1100
L3VNI = 100
L2VNI = 110
EXTHOST_IP = "192.168.20.2"
EXTHOST_GATEWAY = "192.168.20.1"
EXTHOST_SUBNET = "192.168.20.0/24"
POD_GATEWAY = "192.170.1.1"
HTTP_PORT = 8090
UNDERLAY_PREFIXLEN = 24
FRR_DIR = Path("/usr/lib/frr")
FRR_LOG_DIR = Path("/var/log/frr")  # a private tmpfs in the guest, writable by user frr
READY_TIMEOUT = 30.0


@dataclass(frozen=True)
class Node:
    """One node of the lab and the addresses the seed gives it."""

    index: int

    @property
    def host_ns(self) -> str:
        return f"node{self.index}"

    @property
    def router_ns(self) -> str:
        return f"perouter{self.index}"

    @property
    def pod_ns(self) -> str:
        return f"pod{self.index}"

    @property
    def underlay_ip(self) -> str:
        return f"192.168.11.{3 + self.index}"

    @property
    def switch_port(self) -> str:
        return f"sw-node{self.index}"

    @property
    def vtep(self) -> str:
        """Host ``index`` of the seed's vtepcidr 100.65.0.0/24."""
        return f"100.65.0.{self.index}"

    @property
    def pod_ip(self) -> str:
        return f"192.170.1.{3 + self.index}"


NODES = (Node(0), Node(1))


def leaf_frr_config() -> str:
    """The leaf's FRR config: eBGP to both nodes (ipv4 + EVPN) and VRF red as a type-5 source.

    Explicit neighbors with ``timers connect 5``: with ``frr defaults traditional`` a refused
    first connection (the node's FRR is not up yet) is otherwise retried only after 120 s.
    """
    neighbors = "".join(
        f" neighbor {ip} remote-as {NODE_ASN}\n neighbor {ip} timers connect 5\n"
        for ip in (n.underlay_ip for n in NODES)
    )
    activate = "".join(f"  neighbor {n.underlay_ip} activate\n" for n in NODES)
    return f"""frr defaults traditional
hostname leaf
log file {FRR_LOG_DIR / "leaf.log"}
log timestamp precision 3
vrf {LEAF_VRF}
 vni {L3VNI}
exit-vrf
router bgp {LEAF_ASN}
 bgp router-id {LEAF_IP}
 bgp log-neighbor-changes
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
{neighbors} address-family ipv4 unicast
{activate}  network {LEAF_VTEP}/32
 exit-address-family
 address-family l2vpn evpn
{activate}  advertise-all-vni
 exit-address-family
exit
router bgp {LEAF_ASN} vrf {LEAF_VRF}
 bgp router-id {LEAF_IP}
 no bgp ebgp-requires-policy
 address-family ipv4 unicast
  redistribute connected
 exit-address-family
 address-family l2vpn evpn
  advertise ipv4 unicast
 exit-address-family
exit
"""


def build_fabric(shell: Shell, work: Path) -> None:
    """Namespaces, switch, leaf (datapath and FRR), external host and the nodes' host side."""
    namespaces = [SWITCH_NS, LEAF_NS, EXTHOST_NS]
    namespaces += [ns for n in NODES for ns in (n.host_ns, n.pod_ns)]
    shell.ip_batch(None, [f"netns add {ns}" for ns in namespaces])
    switch = ["link set lo up", "link add switch type bridge", "link set switch up"]
    switch += ["link add sw-leaf type veth peer name swp1 netns leaf"]
    switch += [
        f"link add {n.switch_port} type veth peer name toswitch netns {n.host_ns}" for n in NODES
    ]
    switch += [
        f"link set {port} master switch up" for port in ["sw-leaf", *(n.switch_port for n in NODES)]
    ]
    shell.ip_batch(SWITCH_NS, switch)
    _build_leaf(shell)
    shell.ip_batch(
        EXTHOST_NS,
        [
            "link set lo up",
            "link set eth0 up",
            f"addr add {EXTHOST_IP}/24 dev eth0",
            f"route add default via {EXTHOST_GATEWAY}",
        ],
    )
    for node in NODES:
        shell.ip_batch(
            node.host_ns,
            [
                "link set lo up",
                f"addr add {node.underlay_ip}/{UNDERLAY_PREFIXLEN} dev toswitch",
                "link set toswitch up",
            ],
        )
    start_frr(shell, LEAF_NS, leaf_frr_config(), work)
    start_clientip(shell, EXTHOST_NS, work)


def _build_leaf(shell: Shell) -> None:
    shell.ip_batch(
        LEAF_NS,
        [
            "link set lo up",
            f"addr add {LEAF_VTEP}/32 dev lo",
            f"addr add {LEAF_IP}/{UNDERLAY_PREFIXLEN} dev swp1",
            "link set swp1 up",
            f"link add {LEAF_VRF} type vrf table {LEAF_VRF_TABLE}",
            f"link set {LEAF_VRF} up",
            # addrgenmode none, as on the nodes: no link-locals on the EVPN bridge and VXLAN.
            f"link add br{L3VNI} type bridge",
            f"link set br{L3VNI} master {LEAF_VRF} addrgenmode none",
            f"link set br{L3VNI} up",
            f"link add vni{L3VNI} type vxlan id {L3VNI} local {LEAF_VTEP} dstport 4789 nolearning",
            f"link set vni{L3VNI} master br{L3VNI} addrgenmode none",
            f"link set vni{L3VNI} up",
            f"link add ext0 type veth peer name eth0 netns {EXTHOST_NS}",
            f"link set ext0 master {LEAF_VRF}",
            f"addr add {EXTHOST_GATEWAY}/24 dev ext0",
            "link set ext0 up",
        ],
    )
    shell.bridge_batch(LEAF_NS, [f"link set dev vni{L3VNI} neigh_suppress on"])
    # A new namespace in the guest starts with forwarding off; the leaf routes VRF red.
    shell.run(in_netns(LEAF_NS, ["sysctl", "-q", "-w", "net.ipv4.conf.all.forwarding=1"]))


def start_frr(shell: Shell, namespace: str, config: str, work: Path) -> None:
    """Start zebra and bgpd in ``namespace`` (pathspace = its name) and load ``config``.

    The daemons start empty (``-f /dev/null``) and vtysh loads the integrated config: fed to
    each daemon with ``-f``, the same file logs many "No such command" lines.
    """
    for daemon in ("zebra", "bgpd"):
        shell.run(
            in_netns(
                namespace,
                [
                    str(FRR_DIR / daemon),
                    "-N",
                    namespace,
                    "-d",
                    "-A",
                    "127.0.0.1",
                    "-P",
                    "0",
                    "-f",
                    "/dev/null",
                ],
            )
        )
    config_file = work / f"frr-{namespace}.conf"
    config_file.write_text(config)
    shell.run(["vtysh", "-N", namespace, "-f", str(config_file)])


def frr_pids(pathspace: str) -> list[int]:
    """Live FRR processes (any binary under /usr/lib/frr) running with this pathspace."""
    wanted = {f"-N{pathspace}", f"--pathspace={pathspace}"}
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            # A zombie or a vanished process has no exe link: it does not count.
            exe = (proc / "exe").readlink()
            args = [
                a.decode(errors="replace") for a in (proc / "cmdline").read_bytes().split(b"\0")
            ]
        except OSError:
            continue
        if not exe.is_relative_to(FRR_DIR):
            continue
        joined = {a + b for a, b in itertools.pairwise(args) if a == "-N"}
        joined |= {f"{a}={b}" for a, b in itertools.pairwise(args) if a == "--pathspace"}
        if wanted & (joined | set(args)):
            pids.append(int(proc.name))
    return pids


def add_pod(shell: Shell, node: Node, work: Path) -> None:
    """A pod on ``node``: a macvlan (bridge mode) on br-hs-110, like the seed's Multus NAD.

    The macvlan is created in the node's host namespace, where pe-plan made br-hs-110, and
    moved into the pod; it inherits br-hs-110's MTU (the underlay's minus the VXLAN overhead).
    """
    link = f"macvlan{node.index}"
    shell.ip_batch(
        node.host_ns,
        [
            f"link add {link} link br-hs-{L2VNI} type macvlan mode bridge",
            f"link set {link} netns {node.pod_ns}",
        ],
    )
    shell.ip_batch(
        node.pod_ns,
        [
            "link set lo up",
            f"link set {link} name net1",
            f"addr add {node.pod_ip}/24 dev net1",
            "link set net1 up",
            f"route add default via {POD_GATEWAY}",
        ],
    )
    start_clientip(shell, node.pod_ns, work)


def start_clientip(shell: Shell, namespace: str, work: Path) -> None:
    """Start the ``/clientip`` server in ``namespace`` and wait until it listens."""
    log = work / f"clientip-{namespace}.log"
    shell.spawn(
        in_netns(namespace, [sys.executable, "-m", "tests.lab.clientip", str(HTTP_PORT)]), log
    )
    if not wait_for_text(log, "listening", READY_TIMEOUT):
        raise CommandError(f"the /clientip server in {namespace} did not start:\n{log.read_text()}")


def wait_for_text(path: Path, text: str, timeout: float) -> bool:
    """Wait until ``path`` contains ``text`` (reading a file costs no process in the guest)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return True
        time.sleep(0.2)
    return False

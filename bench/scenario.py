"""The benchmark's node: N L2VNIs, the throwaway namespaces, the iproute2 twin, clean-up.

The host kernel has no VRF, so the scenario is N L2VNIs without a gateway (VNIs 100 to
99 + N): per VNI pe-plan builds ``br-pe-<vni>`` (addrgenmode none) and ``vni<vni>`` in it
(nolearning, neigh_suppress on, learning off, addrgenmode none) in the router namespace, a
veth ``host-<vni>`` / ``pe-<vni>`` (MTU 1450, ``pe-`` in the PE bridge) and a host bridge
``br-hs-<vni>`` holding ``host-<vni>``: five links per VNI, no addresses. The node moves its
underlay NIC ``toswitch`` (a veth in the throwaway host namespace) into the router
namespace, sets four sysctls there and puts the VTEP address on ``lo``.

:func:`ip_create` and :func:`ip_delete` are the same work written as ``ip -batch`` files,
as someone would do it by hand with iproute2: the same namespaces, addrgenmode none where
pe-plan sets it (the kernel takes it only after the link exists, so it is its own line, as
pe-plan sends it in its own request), the same MTUs, masters and port flags.
"""

from __future__ import annotations

import shlex
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from pe_plan.backends.frr import RUN_DIR, LocalHost, ManagedFrr
from pe_plan.desired import ROUTER_SYSCTLS, VXLAN_OVERHEAD

FIRST_VNI = 100
NIC = "toswitch"
NIC_CIDR = "192.168.11.3/24"
NIC_MTU = 1500
VTEP = "100.65.0.0"  # node index 0 of the vtepcidr below
VETH_MTU = NIC_MTU - VXLAN_OVERHEAD
LINKS_PER_VNI = 5

_UNDERLAY = f"""\
apiVersion: openpe.openperouter.github.io/v1alpha1
kind: Underlay
metadata:
  name: underlay
spec:
  asn: 64514
  vtepcidr: {VTEP}/24
  nics:
    - {NIC}
  neighbors:
    - asn: 64512
      address: 192.168.11.2
"""

_L2VNI = """\
apiVersion: openpe.openperouter.github.io/v1alpha1
kind: L2VNI
metadata:
  name: l2-{vni}
spec:
  vni: {vni}
  hostmaster:
    type: bridge
    autocreate: true
"""


def vnis(count: int) -> range:
    return range(FIRST_VNI, FIRST_VNI + count)


def config_text(count: int) -> str:
    """The config of ``count`` L2VNIs in the seed's dialect, one document per resource."""
    return "---\n".join([_UNDERLAY, *(_L2VNI.format(vni=vni) for vni in vnis(count))])


def node_file_text(host: str, router: str) -> str:
    return (
        "nodeIndex: {index: 0}\n"
        "nodeName: bench\n"
        f"routerNamespace: {router}\n"
        f"hostNamespace: {host}\n"
        "vtepDevice: lo\n"
        "frr: {mode: managed}\n"
    )


def ip(*argv: str) -> None:
    """Run ``ip``; its error output becomes the exception's message."""
    result = subprocess.run(["ip", *argv], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip {shlex.join(argv)}: {result.stderr.strip()}")


def netns_exists(name: str) -> bool:
    return (Path("/var/run/netns") / name).exists()


def make_host(name: str) -> None:
    """A throwaway namespace playing the host: the underlay NIC (a veth) with its address."""
    ip("netns", "add", name)
    ip("-n", name, "link", "add", NIC, "mtu", str(NIC_MTU), "type", "veth", "peer", "name", "sw")
    ip("-n", name, "address", "add", NIC_CIDR, "dev", NIC)
    ip("-n", name, "link", "set", NIC, "up")
    ip("-n", name, "link", "set", "sw", "up")


def remove_node(host: str, router: str) -> None:
    """Whatever a run left behind: FRR daemons (by their pid files), namespaces, run dir."""
    # ManagedFrr finds its daemons by pid file and checks each pid's command line.
    ManagedFrr(LocalHost(), namespace=router).stop()
    for name in (router, host):
        if netns_exists(name):
            ip("netns", "del", name)
    frr_dir = RUN_DIR / router
    if frr_dir.is_dir():
        for leftover in frr_dir.iterdir():
            leftover.unlink()
        frr_dir.rmdir()


def _batch_file(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines) + "\n")
    return str(path)


Script = list[list[str]]
"""``ip`` command lines (argv without ``ip``), run in order."""


class Creation(NamedTuple):
    """``ip`` scripts that build the node, in order; FRR, if it runs, starts before vxlans."""

    namespace: Script
    links: Script
    vxlans: Script


def ip_create(count: int, host: str, router: str, work: Path) -> Creation:
    """What ``pe-plan apply`` does to an empty node, written for iproute2, in its order."""
    router_lines = [f"address add {VTEP}/32 dev lo"]
    host_lines = []
    port_lines = []
    vxlan_lines = []
    for vni in vnis(count):
        router_lines += [
            f"link add br-pe-{vni} type bridge",
            f"link set br-pe-{vni} addrgenmode none",
            f"link set br-pe-{vni} up",
        ]
        host_lines += [
            f"link add br-hs-{vni} up type bridge",
            (
                f"link add host-{vni} mtu {VETH_MTU} master br-hs-{vni} up type veth "
                f"peer name pe-{vni} mtu {VETH_MTU} netns {router}"
            ),
        ]
        port_lines.append(f"link set pe-{vni} master br-pe-{vni} up")
        vxlan_lines += [
            (
                f"link add vni{vni} master br-pe-{vni} type vxlan id {vni} local {VTEP} "
                "dstport 4789 nolearning"
            ),
            f"link set vni{vni} addrgenmode none",
            f"link set vni{vni} type bridge_slave neigh_suppress on learning off",
            f"link set vni{vni} up",
        ]
    sysctls = [f"{key}=1" for key in ROUTER_SYSCTLS]
    return Creation(
        namespace=[["netns", "add", router]],
        links=[
            ["netns", "exec", router, "sysctl", "-qw", *sysctls],
            ["-n", router, "link", "set", "lo", "up"],
            ["-n", host, "link", "set", NIC, "netns", router],
            ["-n", router, "address", "add", NIC_CIDR, "dev", NIC],
            ["-n", router, "link", "set", NIC, "up"],
            ["-n", router, "-batch", _batch_file(work / "router.batch", router_lines)],
            ["-n", host, "-batch", _batch_file(work / "host.batch", host_lines)],
            ["-n", router, "-batch", _batch_file(work / "ports.batch", port_lines)],
        ],
        vxlans=[["-n", router, "-batch", _batch_file(work / "vxlans.batch", vxlan_lines)]],
    )


def start_frr(router: str, config: str, work: Path) -> None:
    """FRR started by hand in the router namespace, as pe-plan does, and given ``config``."""
    # The daemons are started with the commands pe-plan uses (see ManagedFrr.start_command).
    ManagedFrr(LocalHost(), namespace=router).start()
    path = work / "frr.conf"
    path.write_text(config)
    result = subprocess.run(
        ["vtysh", "-N", router, "-f", str(path)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"vtysh -f {path}: {result.stderr.strip() or result.stdout.strip()}")


def ip_delete(count: int, host: str, router: str, work: Path) -> Script:
    """What ``pe-plan destroy`` does, written for iproute2: object by object, then the netns.

    Deleting ``host-<vni>`` takes its peer ``pe-<vni>`` along, as it does for pe-plan.
    """
    host_lines = []
    router_lines = []
    for vni in vnis(count):
        host_lines += [f"link del host-{vni}", f"link del br-hs-{vni}"]
        router_lines += [f"link del vni{vni}", f"link del br-pe-{vni}"]
    return [
        ["-n", host, "-batch", _batch_file(work / "host-del.batch", host_lines)],
        ["-n", router, "-batch", _batch_file(work / "router-del.batch", router_lines)],
        ["-n", router, "address", "del", f"{VTEP}/32", "dev", "lo"],
        ["-n", router, "link", "set", NIC, "netns", host],
        ["-n", host, "address", "add", NIC_CIDR, "dev", NIC],
        ["-n", host, "link", "set", NIC, "up"],
        ["netns", "del", router],
    ]


def ip_reads(host: str, router: str) -> Script:
    """What a refresh reads, for iproute2: links with details and addresses, both netns."""
    return [
        argv
        for ns in (host, router)
        for argv in (["-n", ns, "-j", "-d", "link", "show"], ["-n", ns, "-j", "address", "show"])
    ]


def run_script(script: Script) -> None:
    for argv in script:
        ip(*argv)


def wait_for_dad(*namespaces: str, timeout: float = 300) -> None:
    """Wait until no IPv6 address is tentative: a table that changes interrupts dumps."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [
            subprocess.run(
                ["ip", "-n", ns, "-6", "address", "show", "tentative"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            for ns in namespaces
            if netns_exists(ns)
        ]
        if not any(pending):
            return
        time.sleep(0.2)


class Names:
    """The namespaces of one benchmark: pe-plan's pair, iproute2's pair and a probe."""

    def __init__(self) -> None:
        suffix = uuid.uuid4().hex[:6]
        self.pe_host = f"pebench-h-{suffix}"
        self.pe_router = f"pebench-r-{suffix}"
        self.ip_host = f"pebench-ih-{suffix}"
        self.ip_router = f"pebench-ir-{suffix}"
        self.probe = f"pebench-p-{suffix}"

    def remove_all(self) -> None:
        remove_node(self.pe_host, self.pe_router)
        remove_node(self.ip_host, self.ip_router)
        if netns_exists(self.probe):
            ip("netns", "del", self.probe)


@contextmanager
def throwaway_namespaces() -> Iterator[Names]:
    """Names for this run's namespaces; whatever exists of them at the end is removed."""
    names = Names()
    try:
        ip("netns", "add", names.probe)
        yield names
    finally:
        names.remove_all()


def wait_until_idle(probe: str, *, quiet_ms: float = 15, timeout: float = 600) -> float:
    """Seconds until the kernel's RTNL lock is free again; the time it took is returned.

    ``ip netns del`` returns at once; the kernel then deletes the namespace's links in the
    background holding RTNL (some 20 s for 1000 VNIs), which stalls every later netlink
    write. A no-op write to ``lo`` in the probe namespace needs that lock: three quick ones
    in a row mean the clean-up is over.
    """
    started = time.perf_counter()
    quick = 0
    while quick < 3 and time.perf_counter() - started < timeout:
        probe_started = time.perf_counter()
        ip("-n", probe, "link", "set", "lo", "up")
        quick = quick + 1 if (time.perf_counter() - probe_started) * 1000 < quiet_ms else 0
    return time.perf_counter() - started

"""The benchmark's nodes, the throwaway namespaces, FRR started by hand, clean-up.

Two nodes, both node index 0 with managed FRR, in the seed's dialect (VNIs 100 to 99 + N):

* :data:`L2_NODE`, for the host kernel, which has no VRF: N L2VNIs without a gateway. Per
  VNI pe-plan builds ``br-pe-<vni>`` (addrgenmode none) and ``vni<vni>`` in it (nolearning,
  neigh_suppress on, learning off, addrgenmode none) in the router namespace, a veth
  ``host-<vni>`` / ``pe-<vni>`` (MTU 1450, ``pe-`` in the PE bridge) and a host bridge
  ``br-hs-<vni>`` holding ``host-<vni>``: five links per VNI, no addresses. The VTEP
  address goes on ``lo``.
* :data:`VRF_NODE`, for the User-Mode Linux lab (``bench.lab``): the first half of the VNIs
  are L3VNIs, each its own VRF ``vrf<vni>`` with a host session (``hostasn``, an IPv4
  ``localcidr`` of its own: the veth ``host-<vni>`` / ``pe-<vni>`` with an address on each
  leg, ``pe-`` in the VRF); the second half are L2VNIs routed in those VRFs, one each, with
  a gateway (its own subnet, on ``br-pe-<vni>`` with the fixed gateway MAC) and a host
  bridge. Five links per VNI here too, plus the VTEP's dummy ``lound``, pe-plan's default:
  the lab's kernel has the dummy driver, so the node is the one pe-plan builds by default.

Either node moves its underlay NIC ``toswitch`` (a veth in the throwaway host namespace)
into the router namespace and sets four sysctls there. The ``ip`` scripts of the baseline
are written from pe-plan's desired state of the node (:mod:`bench.iproute2`).
"""

from __future__ import annotations

import os
import shlex
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, NamedTuple

from pe_plan.backends.frr import RUN_DIR, LocalHost, ManagedFrr

FIRST_VNI = 100
NIC = "toswitch"
NIC_CIDR = "192.168.11.3/24"
NIC_MTU = 1500
VTEP = "100.65.0.0"  # node index 0 of the vtepcidr below
QUIET_MS = 15  # a probe of the RTNL lock quicker than this found it free (on the host)
CALIBRATION_PROBES = 5

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

_L3VNI = """\
apiVersion: openpe.openperouter.github.io/v1alpha1
kind: L3VNI
metadata:
  name: vrf{vni}
spec:
  asn: 64514
  vni: {vni}
  hostasn: 64515
  localcidr:
    ipv4: 192.169.{index}.0/24
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
{routing}"""

_ROUTING = """\
  vrf: vrf{l3vni}
  l2gatewayip: 192.170.{index}.1/24
"""


def vnis(count: int) -> range:
    return range(FIRST_VNI, FIRST_VNI + count)


def config_text(count: int) -> str:
    """``count`` L2VNIs without a gateway, one document per resource."""
    l2vnis = (_L2VNI.format(vni=vni, routing="") for vni in vnis(count))
    return "---\n".join([_UNDERLAY, *l2vnis])


def vrf_config_text(count: int) -> str:
    """``count // 2`` L3VNIs with host sessions, then L2VNIs routed in their VRFs in turn."""
    half = count // 2
    l3vnis = vnis(half)
    l2vnis = range(FIRST_VNI + half, FIRST_VNI + count)
    documents = [_L3VNI.format(vni=vni, index=i) for i, vni in enumerate(l3vnis)]
    documents += [
        _L2VNI.format(
            vni=vni, routing=_ROUTING.format(l3vni=l3vnis[i % half], index=i) if half else ""
        )
        for i, vni in enumerate(l2vnis)
    ]
    return "---\n".join([_UNDERLAY, *documents])


class Node(NamedTuple):
    """A benchmark node: its config for N VNIs and the device of its VTEP address."""

    config_text: Callable[[int], str]
    vtep_device: Literal["lound", "lo"]

    def node_file_text(self, host: str, router: str) -> str:
        return (
            "nodeIndex: {index: 0}\n"
            "nodeName: bench\n"
            f"routerNamespace: {router}\n"
            f"hostNamespace: {host}\n"
            f"vtepDevice: {self.vtep_device}\n"
            "frr: {mode: managed}\n"
        )


L2_NODE = Node(config_text, vtep_device="lo")
VRF_NODE = Node(vrf_config_text, vtep_device="lound")


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


Script = list[list[str]]
"""``ip`` command lines (argv without ``ip``), run in order."""


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


FRR_BUSY_SHARE = 0.1  # of one core: below it FRR is taken to be at rest


def wait_until_frr_settles(router: str, *, window: float = 2.0, timeout: float = 180) -> float:
    """Wait until the FRR daemons of ``router`` use under a tenth of a core; the seconds waited.

    After an apply, zebra and bgpd take in every new VNI: a thousand keep them busy for
    tens of seconds, on the same two cores. A no-op plan is what runs later, on a node at
    rest; reads taken meanwhile would measure FRR's convergence as much as the reads (a
    no-op plan at 1000 VNIs took 0.92 s just after the apply, 0.57 s a minute later).
    Gives up after ``timeout`` and measures the node as it is then.
    """
    hertz = os.sysconf("SC_CLK_TCK")
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = _frr_cpu_ticks(router)
        time.sleep(window)
        if (_frr_cpu_ticks(router) - before) / hertz / window < FRR_BUSY_SHARE:
            break
    return time.monotonic() - started


def _frr_cpu_ticks(router: str) -> int:
    """User and system time of the FRR daemons of ``router`` so far, found by their pid files."""
    ticks = 0
    for pid_file in (RUN_DIR / router).glob("*.pid"):
        try:
            stat = Path(f"/proc/{int(pid_file.read_text())}/stat").read_text()
        except (OSError, ValueError):
            continue  # a daemon gone, or its pid file being written
        # The command name may hold spaces: count the fields after its ')'.
        fields = stat.rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])  # utime and stime, fields 14 and 15
    return ticks


class Names:
    """The namespaces of one benchmark: pe-plan's pair, iproute2's pair and a probe."""

    def __init__(self) -> None:
        suffix = uuid.uuid4().hex[:6]
        self.pe_host = f"pebench-h-{suffix}"
        self.pe_router = f"pebench-r-{suffix}"
        self.ip_host = f"pebench-ih-{suffix}"
        self.ip_router = f"pebench-ir-{suffix}"
        self.probe = f"pebench-p-{suffix}"
        self.quiet_ms: float = QUIET_MS

    def wait_until_idle(self) -> float:
        """:func:`wait_until_idle`, with the probe's quick time on this machine."""
        return wait_until_idle(self.probe, quiet_ms=self.quiet_ms)

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
        # Starting a process takes some 30 ms in User-Mode Linux: quick is relative.
        idle = statistics.median(_probe_ms(names.probe) for _ in range(CALIBRATION_PROBES))
        names.quiet_ms = max(QUIET_MS, 2 * idle)
        yield names
    finally:
        names.remove_all()


def wait_until_idle(probe: str, *, quiet_ms: float, timeout: float = 600) -> float:
    """Seconds until the kernel's RTNL lock is free again; the time it took is returned.

    ``ip netns del`` returns at once; the kernel then deletes the namespace's links in the
    background holding RTNL (some 20 s for 1000 VNIs), which stalls every later netlink
    write. A no-op write to ``lo`` in the probe namespace needs that lock: three quick ones
    in a row mean the clean-up is over.
    """
    started = time.perf_counter()
    quick = 0
    while quick < 3 and time.perf_counter() - started < timeout:
        quick = quick + 1 if _probe_ms(probe) < quiet_ms else 0
    return time.perf_counter() - started


def _probe_ms(probe: str) -> float:
    started = time.perf_counter()
    ip("-n", probe, "link", "set", "lo", "up")
    return (time.perf_counter() - started) * 1000

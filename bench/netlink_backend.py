"""Time the netlink backend against iproute2 on N VNIs in throwaway namespaces (root only).

A VNI here is what pe-plan builds for an L2VNI: ``br-pe-<n>`` (addrgenmode none, MAC, up)
and ``vni<n>`` in it (nolearning, neigh_suppress on, learning off, addrgenmode none, up) in the
router namespace, a veth ``host-<n>`` (host) / ``pe-<n>`` (router, in the bridge, up) and one
IPv4 address on the bridge. The backend creates them in one batch per dependency level; iproute2
with one ``ip -batch`` per namespace. Then both namespaces are read back: the backend's dump
plus observe (in process, and in a fresh Python process with its imports), against
``ip -j -d link show`` and ``ip -j address show`` in each namespace (the processes only).

    python -m bench.netlink_backend [N]

Leave a minute between runs: the kernel removes the previous run's namespaces in the
background after ``ip netns del`` returns, holding the RTNL lock for some 20 s, which stalls
the next run's first requests.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from pe_plan.backends.netlink import NetlinkBackend
from pe_plan.desired import ROUTER_SYSCTLS
from pe_plan.model import Address, BridgePort, Link, Vxlan
from pe_plan.observe import observe

VTEP = "100.65.0.1"


def _timed(label: str, action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    print(f"  {label:<44} {seconds:7.3f} s")
    return seconds


def _ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


def _bridge(n: int) -> Link:
    mac = f"00:f3:{(n + 1) >> 24 & 255:02x}:{(n + 1) >> 16 & 255:02x}:"
    mac += f"{(n + 1) >> 8 & 255:02x}:{(n + 1) & 255:02x}"
    return Link(
        namespace="router", name=f"br-pe-{n}", kind="bridge", up=True, addrgenmode="none", mac=mac
    )


def _vxlan(n: int) -> Link:
    return Link(
        namespace="router",
        name=f"vni{n}",
        kind="vxlan",
        up=True,
        master=f"br-pe-{n}",
        addrgenmode="none",
        vxlan=Vxlan(vni=n, local=VTEP),
        bridge_port=BridgePort(neigh_suppress=True, learning=False),
    )


def _veth(n: int) -> tuple[Link, Link]:
    host = Link(
        namespace="host",
        name=f"host-{n}",
        kind="veth",
        up=True,
        mtu=1450,
        peer=f"pe-{n}",
        peer_namespace="router",
    )
    pe = Link(
        namespace="router", name=f"pe-{n}", kind="veth", up=True, mtu=1450, master=f"br-pe-{n}"
    )
    return host, pe


def _address(n: int) -> Address:
    return Address(namespace="router", link=f"br-pe-{n}", cidr=f"10.{n >> 8 & 255}.{n & 255}.1/24")


def build_with_backend(backend: NetlinkBackend, vnis: range) -> float:
    """One batch per dependency level, as the apply stage would send them."""

    def level(make: Callable[[int], object]) -> Callable[[], None]:
        def run() -> None:
            with backend.batch():
                for n in vnis:
                    make(n)

        return run

    return math.fsum(
        (
            _timed("bridges", level(lambda n: backend.add_link(_bridge(n)))),
            _timed("vxlans in the bridges", level(lambda n: backend.add_link(_vxlan(n)))),
            _timed("veth pairs", level(lambda n: backend.add_link(_veth(n)[0]))),
            _timed("PE legs into the bridges", level(lambda n: backend.update_link(_veth(n)[1]))),
            _timed("addresses", level(lambda n: backend.add_address(_address(n)))),
        )
    )


def build_with_ip(host: str, router: str, vnis: range, work: Path) -> float:
    router_lines = []
    host_lines = []
    for n in vnis:
        bridge = _bridge(n)
        router_lines += [
            f"link add br-pe-{n} address {bridge.mac} type bridge",
            f"link set br-pe-{n} addrgenmode none",
            f"link set br-pe-{n} up",
            (
                f"link add vni{n} master br-pe-{n} type vxlan id {n} local {VTEP} dstport 4789 "
                "nolearning"
            ),
            f"link set vni{n} addrgenmode none",
            f"link set vni{n} type bridge_slave neigh_suppress on learning off",
            f"link set vni{n} up",
        ]
        host_lines.append(
            f"link add host-{n} mtu 1450 up type veth peer name pe-{n} netns {router}"
        )
    second = [f"link set pe-{n} mtu 1450 master br-pe-{n} up" for n in vnis]
    second += [f"address add {_address(n).cidr} dev br-pe-{n}" for n in vnis]
    files = {}
    for name, lines in (("router", router_lines), ("host", host_lines), ("second", second)):
        files[name] = work / f"{name}.batch"
        files[name].write_text("\n".join(lines) + "\n")
    return math.fsum(
        (
            _timed(
                "ip -batch router (bridges, vxlans)",
                lambda: _ip("-n", router, "-batch", str(files["router"])),
            ),
            _timed(
                "ip -batch host (veth pairs)", lambda: _ip("-n", host, "-batch", str(files["host"]))
            ),
            _timed(
                "ip -batch router (PE legs, addresses)",
                lambda: _ip("-n", router, "-batch", str(files["second"])),
            ),
        )
    )


COLD_READ = """
import sys
from pe_plan.backends.netlink import NetlinkBackend
from pe_plan.desired import ROUTER_SYSCTLS
from pe_plan.desired import ROUTER_SYSCTLS
from pe_plan.observe import observe
with NetlinkBackend(host_netns=sys.argv[1], router_netns=sys.argv[2]) as backend:
    host = backend.dump("host")
    assert host is not None
    observe(host, backend.dump("router", ROUTER_SYSCTLS), sys.argv[2])
"""


def _settle(*namespaces: str) -> None:
    """Wait for IPv6 duplicate address detection: a table that changes interrupts dumps."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tentative = [
            subprocess.run(
                ["ip", "-n", ns, "-6", "address", "show", "tentative"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            for ns in namespaces
        ]
        if not any(tentative):
            return
        time.sleep(0.5)


def read_back(backend: NetlinkBackend, host: str, router: str, rounds: int = 5) -> None:
    """Median of interleaved rounds, so that a busy machine affects every method alike."""
    _settle(host, router)

    def in_process() -> None:
        dumps = backend.dump("host"), backend.dump("router", ROUTER_SYSCTLS)
        assert dumps[0] is not None
        observe(dumps[0], dumps[1], router)

    def cold_process() -> None:
        subprocess.run([sys.executable, "-c", COLD_READ, host, router], check=True)

    def ip_reads() -> None:
        for ns in (host, router):
            _ip("-n", ns, "-j", "-d", "link", "show")
            _ip("-n", ns, "-j", "address", "show")

    def import_only() -> None:
        subprocess.run([sys.executable, "-c", "import pe_plan.backends.netlink"], check=True)

    methods = {
        "backend dump + observe, in process": in_process,
        "python start + imports + dump + observe": cold_process,
        "  of which python start + imports": import_only,
        "ip -j -d link + ip -j address (4 processes)": ip_reads,
    }
    times: dict[str, list[float]] = {label: [] for label in methods}
    for _ in range(rounds):
        for label, method in methods.items():
            started = time.perf_counter()
            method()
            times[label].append(time.perf_counter() - started)
    for label, values in times.items():
        print(f"  {label:<44} {statistics.median(values):7.3f} s (median of {rounds})")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    vnis = range(100, 100 + count)
    suffix = uuid.uuid4().hex[:6]
    names = {k: f"pebench-{k}-{suffix}" for k in ("h1", "r1", "h2", "r2")}
    try:
        for ns in names.values():
            _ip("netns", "add", ns)
        print(f"{count} VNIs with the backend (one batch per level):")
        with NetlinkBackend(host_netns=names["h1"], router_netns=names["r1"]) as backend:
            total = build_with_backend(backend, vnis)
            print(f"  {'total':<44} {total:7.3f} s")
            print("read back:")
            read_back(backend, names["h1"], names["r1"])
        print(f"{count} VNIs with iproute2:")
        with tempfile.TemporaryDirectory() as work:
            total = build_with_ip(names["h2"], names["r2"], vnis, Path(work))
        print(f"  {'total':<44} {total:7.3f} s")
    finally:
        for ns in names.values():
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


if __name__ == "__main__":
    main()

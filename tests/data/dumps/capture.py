"""Regenerate the namespace dumps that ``tests/unit/test_observe.py`` parses (root only).

Each scenario is built with plain ``ip`` and ``bridge`` commands (not with pe-plan's write
path) in new namespaces, read back with :meth:`NetlinkBackend.dump`, and written here as
``<scenario>.json``: ``{"host": NamespaceDump, "router": NamespaceDump}``.

* ``node``: node 0 of the seed after an apply: the underlay NIC ``toswitch`` (a veth whose
  other end lives in a third namespace) in the router namespace with IPv4 and IPv6 addresses,
  the VTEP /32 on the dummy ``lound``, VRF ``red`` (table 1), L3VNI 100 (``br-pe-100``,
  ``vni100``, the veth ``host-100``/``pe-100`` with addresses of both families) and L2VNI 110
  (``br-pe-110`` with the gateway address and MAC, ``vni110``, ``host-110``/``pe-110``,
  ``br-hs-110``), VXLANs with nolearning, neigh_suppress on and learning off, the sysctls.
* ``busy``: the same plus objects pe-plan does not own: a bridge with a macvlan and a veth
  pair inside the host, a tun, an IPv6 VXLAN on a device with learning on, a link in group 7,
  a stray bridge and dummy in the router, a second address on the router's ``lo``.

Every MAC is given and the namespaces are new, so names, ifindexes and MACs come out the same
on every run. The scenarios need dummy, vrf and tun links, which the host kernel of these
machines lacks, so boot the lab guest to capture them::

    .venv/bin/python -m tests.data.dumps.capture --in-lab

or run it as root on a kernel that has them (``--out DIR`` writes elsewhere)::

    .venv/bin/python -m tests.data.dumps.capture
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import msgspec

from pe_plan.backends.netlink import NetlinkBackend
from pe_plan.desired import ROUTER_SYSCTLS

HERE = Path(__file__).resolve().parent
HOST, ROUTER, WIRE = "pecap-host", "pecap-router", "pecap-wire"
VXLAN_PORT_FLAGS = "neigh_suppress on learning off"

NODE_ROUTER_FIRST = [
    "link set lo up",
    "link add lound address 02:00:00:00:00:01 type dummy",
    "link set lound up",
    "address add 100.65.0.0/32 dev lound",
    (
        f"link add toswitch address 02:00:00:00:01:01 type veth peer name leaf-port "
        f"address 02:00:00:00:01:02 netns {WIRE}"
    ),
    "link set toswitch up",
    "address add 192.168.11.3/24 dev toswitch",
    "address add 2001:db8:11::3/64 dev toswitch nodad",
    "link add red address 02:00:00:00:02:01 type vrf table 1",
    "link set red up",
    "link add br-pe-100 address 02:00:00:00:64:01 type bridge",
    "link set br-pe-100 master red addrgenmode none up",
    (
        "link add vni100 address 02:00:00:00:64:02 type vxlan id 100 local 100.65.0.0 "
        "dstport 4789 nolearning"
    ),
    "link set vni100 master br-pe-100 addrgenmode none",
    "link add br-pe-110 address 00:f3:00:00:00:6f type bridge",
    "link set br-pe-110 master red addrgenmode none up",
    "address add 192.170.1.1/24 dev br-pe-110",
    (
        "link add vni110 address 02:00:00:00:6e:02 type vxlan id 110 local 100.65.0.0 "
        "dstport 4789 nolearning"
    ),
    "link set vni110 master br-pe-110 addrgenmode none",
]
NODE_ROUTER_PORTS = [f"link set dev vni{vni} {VXLAN_PORT_FLAGS}" for vni in (100, 110)]
NODE_HOST = [
    (
        "link add host-100 address 02:00:00:01:64:01 mtu 1450 type veth peer name pe-100 "
        f"address 02:00:00:01:64:02 mtu 1450 netns {ROUTER}"
    ),
    "link set host-100 up",
    "address add 192.169.10.2/24 dev host-100",
    "address add 2001:db8:10::2/64 dev host-100 nodad",
    "link add br-hs-110 address 02:00:00:01:6e:03 type bridge",
    "link set br-hs-110 up",
    (
        "link add host-110 address 02:00:00:01:6e:01 mtu 1450 type veth peer name pe-110 "
        f"address 02:00:00:01:6e:02 mtu 1450 netns {ROUTER}"
    ),
    "link set host-110 master br-hs-110 up",
]
NODE_ROUTER_LAST = [
    "link set vni100 up",
    "link set vni110 up",
    "link set pe-100 master red up",
    "address add 192.169.10.1/24 dev pe-100",
    "address add 2001:db8:10::1/64 dev pe-100 nodad",
    "link set pe-110 master br-pe-110 up",
]
BUSY_HOST = [
    "link add extra-br0 address 02:00:00:02:00:01 type bridge",
    "link set extra-br0 up",
    "address add 172.17.0.1/16 dev extra-br0",
    "link add mv0 link extra-br0 address 02:00:00:02:00:02 type macvlan mode bridge",
    "tuntap add tun0 mode tun",
    (
        "link add veth-a address 02:00:00:02:00:03 type veth peer name veth-b "
        "address 02:00:00:02:00:04"
    ),
    "link set veth-a master extra-br0",
    "link set veth-b group 7 up",
    (
        "link add vx-v6 address 02:00:00:02:00:05 type vxlan id 4242 local 2001:db8::1 "
        "dev extra-br0 dstport 4790"
    ),
]
BUSY_ROUTER = [
    "link add br-pe-999 address 02:00:00:03:00:01 type bridge",
    "link add stray0 address 02:00:00:03:00:02 mtu 9000 type dummy",
    "address add 100.65.0.9/32 dev lo",
]


def _run(argv: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{stdin or ''}\n{done.stderr}")


def _ip_batch(namespace: str, lines: list[str]) -> None:
    _run(["ip", "-n", namespace, "-batch", "-"], "\n".join(lines) + "\n")


def _bridge_batch(namespace: str, lines: list[str]) -> None:
    _run(["bridge", "-n", namespace, "-batch", "-"], "\n".join(lines) + "\n")


def _build_node() -> None:
    for key in ROUTER_SYSCTLS:
        _run(["ip", "netns", "exec", ROUTER, "sysctl", "-qw", f"{key}=1"])
    _ip_batch(ROUTER, NODE_ROUTER_FIRST)
    _bridge_batch(ROUTER, NODE_ROUTER_PORTS)
    _ip_batch(HOST, NODE_HOST)
    _ip_batch(ROUTER, NODE_ROUTER_LAST)


def _build_busy() -> None:
    _build_node()
    _ip_batch(HOST, BUSY_HOST)
    _ip_batch(ROUTER, BUSY_ROUTER)


def _capture(build: str) -> bytes:
    for namespace in (HOST, ROUTER, WIRE):
        _run(["ip", "netns", "add", namespace])
    try:
        {"node": _build_node, "busy": _build_busy}[build]()
        with NetlinkBackend(host_netns=HOST, router_netns=ROUTER) as backend:
            dumps = {
                "host": backend.dump("host"),
                "router": backend.dump("router", ROUTER_SYSCTLS),
            }
        return msgspec.json.format(msgspec.json.encode(dumps), indent=2) + b"\n"
    finally:
        for namespace in (HOST, ROUTER, WIRE):
            subprocess.run(["ip", "netns", "del", namespace], check=False, capture_output=True)


def _capture_in_lab(out: Path) -> None:
    from tests.lab.guest import Guest, unavailable_reason  # noqa: PLC0415 - only this mode

    reason = unavailable_reason()
    if reason is not None:
        sys.exit(reason)
    # The guest loads the lab's modules; tun is only needed here.
    command = (
        'modprobe -d "$LAB_OUT/../modules" tun && '
        f'{sys.executable} -m tests.data.dumps.capture --out "$LAB_OUT"'
    )
    run = Guest(timeout=300).run_shell(command)
    if run.status != 0:
        sys.exit(f"the capture failed in the guest:\n{run.output}\n{run.console_tail}")
    for name, content in run.files.items():
        if name.endswith(".json"):
            (out / name).write_bytes(content)
            print(f"wrote {out / name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--in-lab", action="store_true", help="capture inside the UML guest")
    args = parser.parse_args()
    if args.in_lab:
        _capture_in_lab(args.out)
        return
    for scenario in ("node", "busy"):
        path = args.out / f"{scenario}.json"
        path.write_bytes(_capture(scenario))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

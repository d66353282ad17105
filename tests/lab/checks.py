"""The seed's validation as named checks, run inside the lab guest.

Each check records PASS, FAIL or SKIP with a detail in the :class:`~tests.lab.report.Report`.
Waits are bounded and cheap: BGP sessions are awaited in the leaf's FRR log (a file read),
EVPN routes by a vtysh query every few seconds (each costs about half a second in UML), and
end-to-end requests retry a few times because the first packet towards a new destination
can be lost while EVPN learns the pod's MAC/IP route.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.lab.report import Report
from tests.lab.shell import CommandError, Completed, Shell, in_netns
from tests.lab.topology import (
    EXTHOST_SUBNET,
    FRR_LOG_DIR,
    HTTP_PORT,
    L2VNI,
    L3VNI,
    LEAF_NS,
    LEAF_VTEP,
    NODES,
    POD_GATEWAY,
    SWITCH_NS,
    UNDERLAY_PREFIXLEN,
    Node,
    frr_pids,
    wait_for_text,
)

BGP_TIMEOUT = 90.0
EVPN_TIMEOUT = 90.0
EVPN_POLL = 3.0
REQUEST_ATTEMPTS = 6
CAPTURE_LINES = 4
CAPTURE_START_TIMEOUT = 30.0
VETH_MTU = 1450
ICMP_IP_OVERHEAD = 28
_ADJ_UP = re.compile(
    r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)?) .*ADJCHANGE: neighbor ([\d.]+)\S* .*\bUp\b"
)
_VXLAN = re.compile(r"IP ([\d.]+)\.\d+ > ([\d.]+)\.4789: VXLAN.* vni (\d+)")


def tail(text: str, lines: int = 15) -> str:
    """The last ``lines`` lines of ``text`` (details stay readable)."""
    return "\n".join(text.strip().splitlines()[-lines:])


def bgp_sessions(shell: Shell, report: Report, applied_at: dict[Node, float]) -> None:
    """Both nodes Established on the leaf, in ipv4 unicast and l2vpn evpn.

    Waits for the ADJCHANGE lines in the leaf's log, then asks FRR once. The convergence
    time recorded per node is from the log's own timestamps, relative to the end of that
    node's router setup (``applied_at``, wall clock).
    """
    log = FRR_LOG_DIR / "leaf.log"
    wanted = {n.underlay_ip for n in NODES}
    up: dict[str, float] = {}
    deadline = time.monotonic() + BGP_TIMEOUT
    while time.monotonic() < deadline and set(up) != wanted:
        time.sleep(0.5)
        up = _sessions_up(log) if log.exists() else {}
    for node, at in applied_at.items():
        if node.underlay_ip in up:
            report.timings[f"bgp up after router setup {node.host_ns}"] = up[node.underlay_ip] - at
    summary = shell.vtysh_json(LEAF_NS, "show bgp summary json")
    states = {
        f"{family} {peer}": str(
            summary.get(family, {}).get("peers", {}).get(peer, {}).get("state", "absent")
        )
        for family in ("ipv4Unicast", "l2VpnEvpn")
        for peer in sorted(wanted)
    }
    report.add(
        "bgp-sessions",
        "BGP sessions up (leaf sees both nodes Established)",
        all(state == "Established" for state in states.values()),
        ", ".join(f"{key}: {state}" for key, state in states.items()),
    )


def _sessions_up(log: Path) -> dict[str, float]:
    """Neighbor → time of its last "Up" in an FRR log with ``log timestamp precision``."""
    up = {}
    for line in log.read_text(errors="replace").splitlines():
        match = _ADJ_UP.search(line)
        if match:
            stamp = match.group(1)
            layout = "%Y/%m/%d %H:%M:%S.%f" if "." in stamp else "%Y/%m/%d %H:%M:%S"
            up[match.group(2)] = datetime.strptime(stamp, layout).astimezone().timestamp()
    return up


def evpn_prefixes(table: Any) -> set[str]:
    """Every EVPN prefix (``[2]:…``, ``[3]:…``, ``[5]:…``) anywhere in vtysh's JSON answer.

    The table nests routes under route distinguishers; walking it all avoids depending on
    the exact layout of one FRR version.
    """

    def walk(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and key.startswith("["):
                    yield key
                yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)

    return set(walk(table))


def pod_mac(shell: Shell, node: Node) -> str:
    links = shell.ip_json(node.pod_ns, "link", "show", "dev", "net1")
    return str(links[0]["address"]) if links else "?"


def warm_up_pods(shell: Shell) -> None:
    """One ping from each pod to its gateway: the router learns the pod's MAC and IP from it.

    A silent pod has no type-2 route; the seed's pods talk at once (the curl), the lab's too.
    """
    for node in NODES:
        shell.run(
            in_netns(node.pod_ns, ["ping", "-c", "2", "-i", "0.5", "-W", "2", POD_GATEWAY]),
            check=False,
        )


def evpn_routes(shell: Shell, report: Report) -> None:
    """Type-2 MAC/IP of both pods and type-3 of both VTEPs on the leaf; type-5 on the nodes."""
    macs = {node: pod_mac(shell, node) for node in NODES}
    type2 = {f"[2]:[0]:[48]:[{macs[n]}]:[32]:[{n.pod_ip}]" for n in NODES}
    type3 = {f"[3]:[0]:[32]:[{n.vtep}]" for n in NODES}
    type5 = f"[5]:[0]:[24]:[{EXTHOST_SUBNET.split('/')[0]}]"
    started = time.monotonic()
    leaf: set[str] = set()
    while time.monotonic() - started < EVPN_TIMEOUT:
        leaf = evpn_prefixes(shell.vtysh_json(LEAF_NS, "show bgp l2vpn evpn json"))
        if type2 | type3 <= leaf:
            break
        time.sleep(EVPN_POLL)
    report.timings["evpn type-2/3 on the leaf"] = time.monotonic() - started
    report.add(
        "evpn-type2",
        "EVPN type-2 MAC/IP routes for both pods on the leaf",
        type2 <= leaf,
        _presence(type2, leaf),
    )
    report.add(
        "evpn-type3",
        "EVPN type-3 routes from both VTEPs on the leaf",
        type3 <= leaf,
        _presence(type3, leaf),
    )
    for node in NODES:
        node_table: set[str] = set()
        routes: list[Any] = []
        deadline = time.monotonic() + EVPN_TIMEOUT
        while time.monotonic() < deadline:
            node_table = evpn_prefixes(shell.vtysh_json(node.router_ns, "show bgp l2vpn evpn json"))
            routes = shell.ip_json(node.router_ns, "route", "show", "vrf", "red", EXTHOST_SUBNET)
            if type5 in node_table and routes:
                break
            time.sleep(EVPN_POLL)
        report.add(
            f"evpn-type5-{node.host_ns}",
            f"EVPN type-5 {EXTHOST_SUBNET} on {node.host_ns} (BGP table and VRF red route)",
            type5 in node_table and bool(routes),
            f"{_presence({type5}, node_table)}; VRF red route: "
            + (
                ", ".join(
                    f"{r.get('dst')} via {r.get('gateway', '?')} dev {r.get('dev', '?')}"
                    for r in routes
                )
                or "none"
            ),
        )


def _presence(wanted: set[str], table: set[str]) -> str:
    return "; ".join(
        f"{prefix} {'present' if prefix in table else 'MISSING'}" for prefix in sorted(wanted)
    )


def client_ip(
    shell: Shell, report: Report, source: Node, target_ip: str, *, check_id: str, title: str
) -> None:
    """``curl http://target:8090/clientip`` from a pod answers the pod's own ``ip:port``."""
    url = f"http://{target_ip}:{HTTP_PORT}/clientip"
    answer, attempts = "", 0
    pattern = re.compile(rf"^{re.escape(source.pod_ip)}:\d+$")
    while attempts < REQUEST_ATTEMPTS:
        attempts += 1
        done = shell.run(
            in_netns(
                source.pod_ns, ["curl", "-sS", "--connect-timeout", "3", "--max-time", "5", url]
            ),
            check=False,
        )
        answer = done.output.strip()
        if done.status == 0 and pattern.match(answer):
            break
        time.sleep(1)
    report.answers[f"{source.pod_ns} -> {url}"] = answer
    report.add(
        check_id,
        title,
        bool(pattern.match(answer)),
        f"answer {answer!r} after {attempts} attempt(s)",
    )


def full_mtu_ping(shell: Shell, report: Report, source: Node, target: Node) -> None:
    """A ping of the full veth MTU, DF set, crosses the overlay (VXLAN overhead accounted for)."""
    size = VETH_MTU - ICMP_IP_OVERHEAD
    done = shell.run(
        in_netns(
            source.pod_ns,
            ["ping", "-c", "2", "-i", "0.5", "-W", "2", "-M", "do", "-s", str(size), target.pod_ip],
        ),
        check=False,
    )
    report.add(
        "pod-mtu",
        f"{source.pod_ns} -> {target.pod_ns} ping of {VETH_MTU} bytes with DF (inherited MTU)",
        done.status == 0,
        next(
            (line for line in done.output.splitlines() if "transmitted" in line),
            tail(done.output, 3),
        ),
    )


class Capture:
    """tcpdump of VXLAN on the switch port towards node0 (the seed captures on ``toswitch``)."""

    def __init__(self, shell: Shell, work: Path) -> None:
        self._shell = shell
        self.log = work / "tcpdump.txt"
        port = NODES[0].switch_port
        self._process = shell.spawn(
            in_netns(
                SWITCH_NS,
                ["tcpdump", "-n", "-l", "--immediate-mode", "-i", port, "udp", "port", "4789"],
            ),
            self.log,
        )
        if not wait_for_text(self.log, "listening on", CAPTURE_START_TIMEOUT):
            raise CommandError(f"tcpdump did not start:\n{self.log.read_text()}")

    def stop(self) -> list[str]:
        time.sleep(0.5)  # let the last replies through before tcpdump is stopped
        self._shell.stop(self._process)
        return self.log.read_text(errors="replace").splitlines()


def vxlan_lines(lines: list[str], vni: int) -> list[str]:
    """The VXLAN lines for ``vni``, each followed by its inner packet line, as the seed shows."""
    picked = []
    for index, line in enumerate(lines):
        match = _VXLAN.search(line)
        if match and int(match.group(3)) == vni:
            picked.append(line)
            if index + 1 < len(lines) and not _VXLAN.search(lines[index + 1]):
                picked.append(lines[index + 1])
    return picked


def capture_checks(report: Report, lines: list[str]) -> None:
    """vni 110 between the two VTEPs, vni 100 between node0's VTEP and the leaf's."""
    expectations = (
        (L2VNI, {NODES[0].vtep, NODES[1].vtep}, "vxlan-vni110", "between the nodes' VTEPs"),
        (L3VNI, {NODES[0].vtep, LEAF_VTEP}, "vxlan-vni100", "between node0's VTEP and the leaf"),
    )
    for vni, ends, check_id, where in expectations:
        matching = [
            line
            for line in vxlan_lines(lines, vni)
            if (m := _VXLAN.search(line)) and {m.group(1), m.group(2)} == ends
        ]
        report.capture[f"vni {vni}"] = vxlan_lines(lines, vni)[:CAPTURE_LINES]
        report.add(
            check_id,
            f"capture shows VXLAN vni {vni} {where}",
            bool(matching),
            matching[0]
            if matching
            else f"no vni {vni} packet between {' and '.join(sorted(ends))}",
        )


def replan(report: Report, node: Node, plan: Completed | None) -> None:
    """After apply, a fresh plan finds nothing to do (None: the setup has no plan)."""
    check_id, title = f"replan-{node.host_ns}", f"re-plan on {node.host_ns} prints 'No changes.'"
    if plan is None:
        report.add(check_id, title, None, "the manual stand-in has no plan")
        return
    clean = plan.status == 0 and "No changes." in plan.output
    report.add(check_id, title, clean, f"exit {plan.status}\n{tail(plan.output, 5)}")


def destroyed(shell: Shell, report: Report, node: Node) -> None:
    """After destroy: router namespace and FRR gone, NIC back with its address, host side clean."""
    problems = []
    if Path(f"/run/netns/{node.router_ns}").exists():
        problems.append(f"namespace {node.router_ns} still exists")
    addresses = shell.ip_json(node.host_ns, "addr", "show")
    links = {link["ifname"]: link for link in addresses}
    nic = links.get("toswitch")
    if nic is None:
        problems.append(f"toswitch is not back in {node.host_ns}")
    else:
        ips = {
            f"{a['local']}/{a['prefixlen']}"
            for a in nic.get("addr_info", [])
            if a.get("family") == "inet"
        }
        wanted = f"{node.underlay_ip}/{UNDERLAY_PREFIXLEN}"
        if wanted not in ips:
            problems.append(f"toswitch has {sorted(ips)}, not {wanted}")
        if "UP" not in nic.get("flags", []):
            problems.append("toswitch is down")
    leftovers = sorted(
        name for name in links if name in {f"host-{L3VNI}", f"host-{L2VNI}", f"br-hs-{L2VNI}"}
    )
    if leftovers:
        problems.append(f"left in {node.host_ns}: {', '.join(leftovers)}")
    pids = frr_pids(node.router_ns)
    if pids:
        problems.append(f"FRR processes still running for {node.router_ns}: {pids}")
    report.add(
        f"destroyed-{node.host_ns}",
        f"{node.host_ns} after destroy: no router namespace, no FRR, toswitch back, host clean",
        not problems,
        "; ".join(problems) or "clean",
    )

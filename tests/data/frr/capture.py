"""Re-capture the FRR 8.4.4 running configs in this folder (root, Debian frr installed).

Each ``*.running.conf`` is what ``vtysh -c 'show running-config'`` printed after the
example's rendered config was applied to a fresh managed instance in a throwaway namespace;
``layer2-node0-extra`` adds lines pe-plan does not manage and defaults that FRR hides.

    sudo .venv/bin/python tests/data/frr/capture.py
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from pe_plan.backends.frr import LocalHost, ManagedFrr, Vtysh
from pe_plan.derive import derive
from pe_plan.frr_diff import diff_frr
from pe_plan.frr_render import render_frr
from pe_plan.load import load_paths
from pe_plan.validate import validate

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[2] / "examples"
NAMESPACE = "pe-frr-capture"
SALT = "capture"
CAPTURES = (("layer2", 0), ("red-blue", 1), ("dual-stack", 0))
UNMANAGED = """\
log syslog informational
ip route 10.99.0.0/16 blackhole
interface eth9
 description not managed by pe-plan
exit
router bgp 64514
 bgp log-neighbor-changes
 bgp graceful-restart restart-time 120
 neighbor 192.168.11.50 remote-as 64999
 neighbor 192.168.11.50 description lab peer
 neighbor 192.168.11.2 port 179
 address-family ipv4 unicast
  network 10.98.0.0/16
  neighbor 192.168.11.50 activate
 exit-address-family
exit
route-map extra permit 10
 set metric 10
exit
"""


def rendered(example: str, index: int) -> str:
    config = validate(load_paths([EXAMPLES / example / "openpe.yaml"]))
    derived = derive(config, index)
    return render_frr(config, derived, hostname=f"node{index}", secret_salt=SALT).text


def main() -> None:
    host = LocalHost()
    subprocess.run(["ip", "netns", "add", NAMESPACE], check=True)
    frr = ManagedFrr(host, namespace=NAMESPACE)
    vtysh = Vtysh(host, pathspace=NAMESPACE)

    def fresh(example: str, index: int) -> None:
        frr.stop()
        frr.start()
        vtysh.apply(diff_frr(vtysh.running_config(), rendered(example, index)))

    try:
        frr.start()
        (HERE / "empty.running.conf").write_text(vtysh.running_config())
        for example, index in CAPTURES:
            fresh(example, index)
            (HERE / f"{example}-node{index}.running.conf").write_text(vtysh.running_config())
        fresh("layer2", 0)
        host.run(["vtysh", "-N", NAMESPACE, "-f", "/proc/self/fd/0"], stdin=UNMANAGED, timeout=30)
        (HERE / "layer2-node0-extra.running.conf").write_text(vtysh.running_config())
    finally:
        frr.stop()
        subprocess.run(["ip", "netns", "del", NAMESPACE], check=True)


if __name__ == "__main__":
    main()

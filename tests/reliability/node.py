"""The reliability tests' view of a throwaway node: what remains of it, and configs for it.

The node is the integration tests' (:class:`tests.integration.conftest.HostNode`: a host
namespace holding ``toswitch``, a node file naming it, a state path), judged with the
shared fault tools (:func:`tests.faults.picture` before and after a fault,
:func:`tests.faults.leftovers`). Added here: :func:`remains` is what is left of a node that
should be gone (after destroy, or the rollback of a first apply): those leftovers, the
router namespace and links in the host namespace; :func:`nothing_left` records them in the
report and requires them to be none; :func:`changes` is what a rollback failed to give back;
:func:`pe_plan` runs the real CLI as a process; :func:`stretch_config` writes the L2-only
example (the host kernel has no VRFs) with the changes the tests need.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pe_plan.backends.netlink import NETNS_DIR
from tests.conftest import REPO
from tests.faults import Picture, difference, leftovers, picture
from tests.integration.conftest import HostNode, ip

CLI_TIMEOUT = 300.0
HOST_LINKS = frozenset({"lo", "toswitch"})  # what the host namespace holds before pe-plan
STRETCH = REPO / "examples" / "l2-stretch" / "openpe.yaml"
FIRST_NEIGHBOR = "      address: 192.168.11.2\n"


def stretch_config(
    directory: Path, name: str, *, password: str | None = None, neighbors: int = 1
) -> Path:
    """examples/l2-stretch with ``neighbors`` underlay neighbors (a second one gives a second
    apply FRR lines to add), the last with ``password``."""
    extra = "".join(
        f"    - asn: 64513\n      address: 192.168.11.{9 + i}\n" for i in range(neighbors - 1)
    )
    extra += f"      password: {password}\n" if password else ""
    path = directory / name
    path.write_text(STRETCH.read_text().replace(FIRST_NEIGHBOR, FIRST_NEIGHBOR + extra))
    return path


def pe_plan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``pe-plan ARGS`` as a user runs it; ``env`` replaces the environment."""
    return subprocess.run(
        [sys.executable, "-m", "pe_plan", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=CLI_TIMEOUT,
        cwd=REPO,
        env=env,
    )


def apply(
    node: HostNode, config: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return pe_plan("apply", "-f", str(config), *node.node_args, "--auto-approve", env=env)


def destroy(node: HostNode) -> subprocess.CompletedProcess[str]:
    return pe_plan("destroy", *node.node_args, "--auto-approve")


def remains(node: HostNode) -> list[str]:
    """What is left of a node that should be gone: no router namespace, no links pe-plan
    made in the host namespace, and none of :func:`tests.faults.leftovers`."""
    found = [f"namespace {node.router_ns}"] if (NETNS_DIR / node.router_ns).exists() else []
    found += leftovers(node)
    if (NETNS_DIR / node.host_ns).exists():
        links = {link["ifname"] for link in json.loads(ip("-n", node.host_ns, "-j", "link"))}
        found += [f"link {name} in {node.host_ns}" for name in sorted(links - HOST_LINKS)]
    return found


def changes(node: HostNode, before: Picture) -> list[str]:
    """What a rollback failed to give back (see :func:`tests.faults.picture`), and what no
    finished command may leave."""
    now = picture(node)
    found = [] if now == before else [f"the node differs: {difference(before, now)}"]
    return found + leftovers(node)


def nothing_left(
    record: Callable[[Sequence[str]], None], node: HostNode, found: Sequence[str] = ()
) -> None:
    """Record what the fault or crash left (``found`` and :func:`remains`): nothing."""
    left = [*found, *remains(node)]
    record(left)
    assert left == []

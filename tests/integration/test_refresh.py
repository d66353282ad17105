"""Refresh of a node built by hand with ``ip`` reads back exactly what the config asks for.

The L2-only example (l2-stretch) is built with iproute2 commands in throwaway namespaces on
the host kernel, the way an operator would by hand; refresh (netlink dump + observe) must
then give objects that the desired state of the same config matches one for one, so the
plan has nothing to do for any of them.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest

from pe_plan.backends.netlink import NetlinkBackend
from pe_plan.config import NodeSettings
from pe_plan.desired import ROUTER_SYSCTLS, desired_node
from pe_plan.load import load_paths
from pe_plan.model import NodeState
from pe_plan.plan import Action, Plan, make_plan
from pe_plan.refresh import node_facts, refresh
from pe_plan.validate import validate
from tests.conftest import REPO
from tests.integration.conftest import require, root_missing

pytestmark = pytest.mark.netns


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True, text=True)


@pytest.fixture
def names() -> Iterator[tuple[str, str]]:
    require(root_missing())
    suffix = uuid.uuid4().hex[:8]
    host, router = f"rf-h-{suffix}", f"rf-r-{suffix}"
    try:
        ip("netns", "add", host)
        yield host, router
    finally:
        for name in (host, router):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def build_by_hand(host: str, router: str) -> None:
    """l2-stretch, node 0, VTEP on lo: what pe-plan would build, typed by an operator."""
    r, h = ("-n", router), ("-n", host)
    ip("netns", "add", router)
    ip(*r, "link", "set", "lo", "up")
    for key in ROUTER_SYSCTLS:
        subprocess.run(["ip", "netns", "exec", router, "sysctl", "-qw", f"{key}=1"], check=True)
    ip(*h, "link", "add", "toswitch", "mtu", "9000", "type", "veth", "peer", "name", "wire")
    ip(*h, "link", "set", "toswitch", "netns", router)
    ip(*r, "addr", "add", "192.168.11.3/24", "dev", "toswitch")
    ip(*r, "link", "set", "toswitch", "up")
    ip(*r, "addr", "add", "100.65.0.0/32", "dev", "lo")
    ip(*r, "link", "add", "br-pe-210", "type", "bridge")
    ip(*r, "link", "set", "br-pe-210", "addrgenmode", "none", "up")
    ip(
        *r,
        "link",
        "add",
        "vni210",
        "type",
        "vxlan",
        "id",
        "210",
        "local",
        "100.65.0.0",
        "dstport",
        "4789",
        "nolearning",
    )
    ip(*r, "link", "set", "vni210", "master", "br-pe-210", "addrgenmode", "none")
    subprocess.run(
        ["bridge", *r, "link", "set", "dev", "vni210", "neigh_suppress", "on", "learning", "off"],
        check=True,
    )
    ip(*r, "link", "set", "vni210", "up")
    ip(*h, "link", "add", "br-hs-210", "type", "bridge")
    ip(*h, "link", "set", "br-hs-210", "up")
    ip(
        *h,
        "link",
        "add",
        "host-210",
        "mtu",
        "8950",
        "type",
        "veth",
        "peer",
        "name",
        "pe-210",
        "mtu",
        "8950",
        "netns",
        router,
    )
    ip(*h, "link", "set", "host-210", "master", "br-hs-210", "up")
    ip(*r, "link", "set", "pe-210", "master", "br-pe-210", "up")


def survey(host: str, router: str) -> tuple[NodeState, NodeState]:
    """Refresh the hand-built node; the desired state of l2-stretch for it."""
    config = validate(load_paths([REPO / "examples" / "l2-stretch"]))
    settings = NodeSettings(
        index=0,
        router_namespace=router,
        host_namespace=host,
        vtep_device="lo",
        frr_mode="external",  # FRR is not part of this comparison
    )
    with NetlinkBackend(router_netns=router, host_netns=host) as kernel:
        observed = refresh(kernel, None, router_netns=router, secret_salt="salt")
    facts = node_facts(observed, ("toswitch",))
    desired = desired_node(config, settings, 0, facts, hostname="n0", secret_salt="salt")
    return observed, desired


def plan_owning_everything(observed: NodeState, desired: NodeState) -> Plan:
    """Everything desired counts as owned: any difference is an update or a replace."""
    owned = NodeState(objects=desired.objects, depends_on=desired.depends_on)
    return make_plan(desired, observed, owned, frr_delta=None)


def test_refresh_of_a_hand_built_node_matches_the_desired_state(
    names: tuple[str, str],
) -> None:
    build_by_hand(*names)
    observed, desired = survey(*names)
    assert node_facts(observed, ("toswitch",)).underlay_mtu == 9000
    plan = plan_owning_everything(observed, desired)
    assert plan.actions == ()
    assert plan.drift == ()
    assert set(desired.objects) <= set(observed.objects)


def test_a_hand_made_difference_is_seen(names: tuple[str, str]) -> None:
    host, router = names
    build_by_hand(host, router)
    ip("-n", router, "link", "set", "pe-210", "mtu", "1400")
    plan = plan_owning_everything(*survey(host, router))
    (step,) = plan.actions
    assert isinstance(step, Action)
    assert (step.action, step.address) == ("update", "link.router.pe-210")

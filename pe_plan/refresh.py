"""Refresh: read what is really on the node (netlink and FRR) into the shared model.

The dumps come from the kernel backend, the running FRR config from vtysh; the pure
:func:`pe_plan.observe.observe` turns them into a :class:`~pe_plan.model.NodeState`. Two
facts the desired state needs are read off the result: the underlay MTU and the route
tables of VRFs that already exist.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from pe_plan.backends.kernel import KernelBackend
from pe_plan.desired import DEFAULT_UNDERLAY_MTU, ROUTER_SYSCTLS, NodeFacts
from pe_plan.errors import BackendError
from pe_plan.frr_render import mask_secrets
from pe_plan.model import FrrConfig, FrrInstance, Link, NodeState, Role, link_address
from pe_plan.observe import observe


class FrrReader(Protocol):
    """Where the running FRR config comes from (``backends.frr.Vtysh``)."""

    def running_config(self) -> str: ...


def refresh(
    kernel: KernelBackend,
    frr: FrrReader | None,
    *,
    router_netns: str,
    secret_salt: str,
    managed_frr: FrrInstance | None = None,
) -> NodeState:
    """The node as it is.

    ``frr`` is None when no FRR instance is running to be read; ``managed_frr`` is the
    managed FRR instance when its daemons run (it then is an object of the node).
    """
    # Three reads at once: the router's namespace in a child process, the host's here, and
    # FRR's config by vtysh, which mostly waits on the daemons.
    with (
        kernel.dump_in_child("router", ROUTER_SYSCTLS) as router_dump,
        ThreadPoolExecutor(max_workers=1) as reader,
    ):
        reading = None
        if frr is not None and kernel.namespace_exists("router"):
            reading = reader.submit(frr.running_config)
        host = kernel.dump("host")
        router = router_dump()
        text = reading.result() if reading is not None and router is not None else None
    if host is None:
        raise BackendError("cannot read the host network namespace")
    running = None if text is None else FrrConfig(text=text, public=mask_secrets(text, secret_salt))
    observed = observe(host, router, router_netns, running)
    if managed_frr is None:
        return observed
    objects = {**observed.objects, managed_frr.address: managed_frr}
    return NodeState(objects=objects, frr=observed.frr)


def node_facts(observed: NodeState, nics: tuple[str, ...]) -> NodeFacts:
    """Underlay MTU (smallest of the underlay NICs, wherever they are) and VRF tables."""
    mtus = []
    for nic in nics:
        roles: tuple[Role, ...] = ("router", "host")
        for role in roles:
            link = observed.objects.get(link_address(role, nic))
            if isinstance(link, Link) and link.mtu is not None:
                mtus.append(link.mtu)
                break
    tables = {
        obj.name: obj.vrf_table
        for obj in observed.objects.values()
        if isinstance(obj, Link)
        and obj.namespace == "router"
        and obj.kind == "vrf"
        and obj.vrf_table is not None
    }
    return NodeFacts(underlay_mtu=min(mtus, default=DEFAULT_UNDERLAY_MTU), vrf_tables=tables)

"""The netlink backend against a real kernel, in throwaway namespaces (root only).

Objects are written with the backend, read back with dump + observe, and compared with the
same objects built by ``ip`` and ``bridge`` commands. Every test uses namespaces with a random
suffix and removes them, whatever happens. Without root the tests are skipped, unless
``CI=true``, where a skip would hide that they never ran. Dummy and VRF links are tested
only on kernels that have them (the UML lab guest does; the host kernel of these machines
has neither).
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from pe_plan.backends.kernel import KernelBackend
from pe_plan.backends.netlink import NetlinkBackend
from pe_plan.desired import ROUTER_SYSCTLS
from pe_plan.errors import BackendError
from pe_plan.model import (
    Address,
    BridgePort,
    Link,
    Netns,
    NodeState,
    Object,
    Role,
    Sysctl,
    Vxlan,
)
from pe_plan.observe import observe
from tests.integration.conftest import require, root_missing

pytestmark = pytest.mark.netns

ROUTER_LABEL = "perouter"  # the name observe gives the router namespace in every test
VXLAN_PORT = BridgePort(neigh_suppress=True, learning=False)

HOST_BRIDGE = Link(
    namespace="host", name="br-hs-110", kind="bridge", up=True, mac="02:00:00:00:01:01"
)
BRIDGE_110 = Link(
    namespace="router",
    name="br-pe-110",
    kind="bridge",
    up=True,
    mac="00:f3:00:00:00:6f",
    addrgenmode="none",
)
BRIDGE_100 = Link(
    namespace="router",
    name="br-pe-100",
    kind="bridge",
    up=True,
    mac="02:00:00:00:02:01",
    addrgenmode="none",
    group=3,
)
VXLAN_110 = Link(
    namespace="router",
    name="vni110",
    kind="vxlan",
    up=True,
    master="br-pe-110",
    mac="02:00:00:00:02:02",
    addrgenmode="none",
    vxlan=Vxlan(vni=110, local="100.65.0.0", port=4789, learning=False),
    bridge_port=VXLAN_PORT,
)
VXLAN_100 = Link(
    namespace="router",
    name="vni100",
    kind="vxlan",
    up=True,
    mtu=1400,
    master="br-pe-100",
    mac="02:00:00:00:02:03",
    addrgenmode="none",
    vxlan=Vxlan(vni=100, local="100.65.0.0", port=4790, learning=False),
    bridge_port=VXLAN_PORT,
)
HOST_110 = Link(
    namespace="host",
    name="host-110",
    kind="veth",
    up=True,
    mtu=1450,
    master="br-hs-110",
    mac="02:00:00:00:01:02",
    peer="pe-110",
    peer_namespace="router",
)
PE_110 = Link(
    namespace="router",
    name="pe-110",
    kind="veth",
    up=True,
    mtu=1450,
    master="br-pe-110",
    mac="02:00:00:00:02:04",
    peer="host-110",
    peer_namespace="host",
)
HOST_100 = Link(
    namespace="host",
    name="host-100",
    kind="veth",
    up=True,
    mtu=1450,
    mac="02:00:00:00:01:03",
    peer="pe-100",
    peer_namespace="router",
)
PE_100 = Link(
    namespace="router",
    name="pe-100",
    kind="veth",
    up=True,
    mtu=1450,
    mac="02:00:00:00:02:05",
    peer="host-100",
    peer_namespace="host",
)
ADDRESSES = [
    Address(namespace="router", link="br-pe-110", cidr="192.170.1.1/24"),
    Address(namespace="host", link="host-100", cidr="192.169.10.2/24"),
    Address(namespace="host", link="host-100", cidr="2001:db8:10::2/64"),
    Address(namespace="router", link="pe-100", cidr="192.169.10.1/24"),
    Address(namespace="router", link="pe-100", cidr="2001:db8:10::1/64"),
]
# The objects above in dependency levels, as the apply stage batches them.
CREATED_LEVELS = [
    [HOST_BRIDGE, BRIDGE_110, BRIDGE_100],
    [VXLAN_110, VXLAN_100],
    [HOST_110, HOST_100],
]
PEER_LEGS = [PE_110, PE_100]
LINKS = [link for level in CREATED_LEVELS for link in level] + PEER_LEGS


def _same_with_ip(host: str, router: str) -> list[list[str]]:
    """The commands that build the objects above, in order."""
    r, h, b = f"ip -n {router}", f"ip -n {host}", f"bridge -n {router}"
    lines = [
        f"{r} link set lo up",
        *(f"ip netns exec {router} sysctl -qw {key}=1" for key in ROUTER_SYSCTLS),
        f"{h} link add br-hs-110 address 02:00:00:00:01:01 type bridge",
        f"{h} link set br-hs-110 up",
        f"{r} link add br-pe-110 address 00:f3:00:00:00:6f type bridge",
        f"{r} link set br-pe-110 addrgenmode none up",
        f"{r} link add br-pe-100 address 02:00:00:00:02:01 type bridge",
        f"{r} link set br-pe-100 group 3 addrgenmode none up",
        (
            f"{r} link add vni110 address 02:00:00:00:02:02 type vxlan id 110 local 100.65.0.0 "
            "dstport 4789 nolearning"
        ),
        (
            f"{r} link add vni100 address 02:00:00:00:02:03 mtu 1400 type vxlan id 100 "
            "local 100.65.0.0 dstport 4790 nolearning"
        ),
        *(
            line
            for vni in (110, 100)
            for line in (
                f"{r} link set vni{vni} master br-pe-{vni} addrgenmode none",
                f"{b} link set dev vni{vni} neigh_suppress on learning off",
                f"{r} link set vni{vni} up",
            )
        ),
        (
            f"{h} link add host-110 address 02:00:00:00:01:02 mtu 1450 type veth peer name pe-110 "
            f"address 02:00:00:00:02:04 mtu 1450 netns {router}"
        ),
        f"{h} link set host-110 master br-hs-110 up",
        (
            f"{h} link add host-100 address 02:00:00:00:01:03 mtu 1450 type veth peer name pe-100 "
            f"address 02:00:00:00:02:05 mtu 1450 netns {router}"
        ),
        f"{h} link set host-100 up",
        f"{r} link set pe-110 master br-pe-110 up",
        f"{r} link set pe-100 up",
        *(
            f"{r if a.namespace == 'router' else h} address add {a.cidr} dev {a.link}"
            for a in ADDRESSES
        ),
    ]
    return [line.split() for line in lines]


def _ip(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture(autouse=True)
def _root() -> None:
    require(root_missing())


@dataclass(frozen=True)
class Names:
    host: str
    router: str  # not created: the backend creates it
    wire: str  # the far end of the stand-in underlay NIC


@pytest.fixture
def names() -> Iterator[Names]:
    suffix = uuid.uuid4().hex[:8]
    made = Names(host=f"pe-h-{suffix}", router=f"pe-r-{suffix}", wire=f"pe-w-{suffix}")
    try:
        _ip("ip", "netns", "add", made.host)
        _ip("ip", "netns", "add", made.wire)
        yield made
    finally:
        for name in (made.host, made.router, made.wire):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@pytest.fixture
def backend(names: Names) -> Iterator[NetlinkBackend]:
    with NetlinkBackend(host_netns=names.host, router_netns=names.router) as opened:
        yield opened


def _kernel_has(kind: str, names: Names) -> bool:
    extra = ["table", "99"] if kind == "vrf" else []
    probe = ["ip", "-n", names.wire, "link", "add", "probe0", "type", kind, *extra]
    return subprocess.run(probe, check=False, capture_output=True).returncode == 0


def _refresh(backend: KernelBackend) -> NodeState:
    host = backend.dump("host")
    assert host is not None
    return observe(host, backend.dump("router", ROUTER_SYSCTLS), ROUTER_LABEL)


def _build(backend: KernelBackend, router: str) -> None:
    assert backend.create_netns(router)
    for key in ROUTER_SYSCTLS:
        backend.set_sysctl("router", key, "1")
    for level in CREATED_LEVELS:
        with backend.batch():
            for link in level:
                backend.add_link(link)
    with backend.batch():
        for link in PEER_LEGS:
            assert backend.update_link(link)
    with backend.batch():
        for address in ADDRESSES:
            backend.add_address(address)


def _mismatches(desired: list[Link], state: NodeState) -> list[str]:
    """Every attribute that a desired link sets and the observed one does not have."""
    found = []
    for link in desired:
        observed = state.objects.get(link.address)
        if observed is None:
            found.append(f"{link.address} is missing")
            continue
        for field, value in msgspec.structs.asdict(link).items():
            if value is not None and getattr(observed, field) != value:
                found.append(f"{link.address}.{field}: {getattr(observed, field)!r} != {value!r}")
    return found


def test_written_objects_read_back_exactly(backend: NetlinkBackend, names: Names) -> None:
    _build(backend, names.router)
    state = _refresh(backend)
    assert _mismatches(LINKS, state) == []
    expected: list[Object] = [
        Netns(name=ROUTER_LABEL),
        *(Sysctl(namespace="router", key=key, value="1") for key in ROUTER_SYSCTLS),
        *LINKS,
        *ADDRESSES,
    ]
    assert {o.address for o in state.objects.values()} == {o.address for o in expected}
    assert all(state.objects[o.address] == o for o in expected if not isinstance(o, Link))
    # The router's lo is up: create_netns brought it up.
    lo = backend.get_link("router", "lo")
    assert lo is not None
    assert lo.flags & 1


def test_backend_and_iproute2_build_the_same_node(backend: NetlinkBackend, names: Names) -> None:
    _build(backend, names.router)
    twin = Names(host=f"{names.host}-ip", router=f"{names.router}-ip", wire=names.wire)
    try:
        for name in (twin.host, twin.router):
            _ip("ip", "netns", "add", name)
        for argv in _same_with_ip(twin.host, twin.router):
            _ip(*argv)
        with NetlinkBackend(host_netns=twin.host, router_netns=twin.router) as other:
            assert _refresh(other) == _refresh(backend)
    finally:
        for name in (twin.host, twin.router):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def test_second_write_of_equal_values_changes_nothing(
    backend: NetlinkBackend, names: Names
) -> None:
    _build(backend, names.router)
    before = _refresh(backend)
    assert not backend.create_netns(names.router)
    assert not any(backend.set_sysctl("router", key, "1") for key in ROUTER_SYSCTLS)
    assert not any(backend.update_link(link) for link in LINKS)
    assert not any(
        backend.update_link(o, exact=True) for o in before.objects.values() if isinstance(o, Link)
    )
    for address in ADDRESSES:
        backend.add_address(address)
    assert _refresh(backend) == before


def test_update_writes_only_what_differs_and_exact_detaches(
    backend: NetlinkBackend, names: Names
) -> None:
    _build(backend, names.router)
    changed = msgspec.structs.replace(PE_110, up=False, mtu=1400, group=9)
    assert backend.update_link(changed)
    assert _mismatches([changed], _refresh(backend)) == []
    # A desired link leaves an unset master alone; an observed (exact) one means "none".
    loose = msgspec.structs.replace(changed, master=None)
    assert not backend.update_link(loose)
    assert backend.update_link(loose, exact=True)
    observed = _refresh(backend).objects[PE_110.address]
    assert isinstance(observed, Link)
    assert (observed.master, observed.bridge_port) == (None, None)
    assert not backend.update_link(VXLAN_110)
    unsuppressed = msgspec.structs.replace(VXLAN_110, bridge_port=BridgePort(neigh_suppress=False))
    assert backend.update_link(unsuppressed)
    observed = _refresh(backend).objects[VXLAN_110.address]
    assert isinstance(observed, Link)
    assert observed.bridge_port == BridgePort(neigh_suppress=False, learning=False)


def test_move_link_keeps_addresses_and_admin_state(backend: NetlinkBackend, names: Names) -> None:
    backend.create_netns(names.router)
    # The underlay NIC's stand-in: a veth whose other end is in a namespace of its own.
    nic = ["ip", "-n", names.host, "link"]
    _ip(*nic, "add", "toswitch", "type", "veth", "peer", "name", "leaf", "netns", names.wire)
    kept = {"192.168.11.3/24", "2001:db8:11::3/64"}
    for cidr in kept:
        _ip("ip", "-n", names.host, "address", "add", cidr, "dev", "toswitch")
    _ip(*nic, "set", "toswitch", "up")

    def seen(role: Role) -> tuple[bool | None, set[str]]:
        state = _refresh(backend)
        link = state.objects.get(f"link.{role}.toswitch")
        cidrs = {
            o.cidr
            for o in state.objects.values()
            if isinstance(o, Address) and (o.namespace, o.link) == (role, "toswitch")
        }
        return (link.up if isinstance(link, Link) else None), cidrs

    assert seen("host") == (True, kept)
    assert backend.move_link("toswitch", "host", "router")
    assert (seen("router"), seen("host")) == ((True, kept), (None, set()))
    assert not backend.move_link("toswitch", "host", "router")
    _ip("ip", "-n", names.router, "link", "set", "toswitch", "down")
    # Going down drops IPv6 addresses (keep_addr_on_down=0); the move keeps what is left.
    before = seen("router")
    assert before == (False, {"192.168.11.3/24"})
    assert backend.move_link("toswitch", "router", "host")
    assert seen("host") == before
    with pytest.raises(BackendError) as raised:
        backend.move_link("nope", "host", "router")
    assert raised.value.message == (
        f"cannot move nope from namespace {names.host} to namespace {names.router}: No such device"
    )


def test_errors_name_the_object_the_operation_and_the_namespace(
    backend: NetlinkBackend, names: Names
) -> None:
    where = f"namespace {names.router}"
    with pytest.raises(BackendError, match=rf"^{where} does not exist$"):
        backend.add_link(BRIDGE_110)
    backend.create_netns(names.router)
    backend.add_link(BRIDGE_110)
    with pytest.raises(BackendError) as raised:
        backend.add_link(BRIDGE_110)
    assert raised.value.message == f"cannot create bridge br-pe-110 in {where}: File exists"
    assert raised.value.hint is not None
    assert "pe-plan plan" in raised.value.hint

    def clashing_batch() -> None:
        with backend.batch():
            backend.add_link(BRIDGE_110)
            backend.add_link(msgspec.structs.replace(BRIDGE_110, addrgenmode=None, up=False))
            backend.add_link(BRIDGE_100)

    with pytest.raises(BackendError) as raised:
        clashing_batch()
    assert raised.value.message == (
        f"cannot create bridge br-pe-110 in {where}: File exists (and 1 more failed requests)"
    )
    assert backend.get_link("router", "br-pe-100") is not None  # the kernel ran the rest
    with pytest.raises(
        BackendError, match=rf"^cannot update veth pe-9 in {where}: No such device$"
    ):
        backend.update_link(msgspec.structs.replace(PE_110, name="pe-9"))
    with pytest.raises(BackendError, match=rf"^cannot find link br-pe-9 in {where}$"):
        backend.add_link(msgspec.structs.replace(VXLAN_110, master="br-pe-9"))
    with pytest.raises(BackendError, match=rf"^cannot find link nope in {where}$"):
        backend.add_address(Address(namespace="router", link="nope", cidr="10.0.0.1/24"))
    with pytest.raises(BackendError) as raised:
        backend.add_link(
            msgspec.structs.replace(
                BRIDGE_110, kind="vxlan", vxlan=Vxlan(vni=1, local="100.65.0.0")
            ),
            exist_ok=True,
        )
    assert raised.value.message == (
        f"cannot create vxlan br-pe-110 in {where}: a bridge of that name exists"
    )


def test_exist_ok_takes_over_a_link_of_the_same_kind(backend: NetlinkBackend, names: Names) -> None:
    backend.create_netns(names.router)
    backend.add_link(msgspec.structs.replace(BRIDGE_110, up=False, mac=None, addrgenmode=None))
    backend.add_link(BRIDGE_110, exist_ok=True)
    assert _mismatches([BRIDGE_110], _refresh(backend)) == []


def test_deletes_are_idempotent(backend: NetlinkBackend, names: Names) -> None:
    _build(backend, names.router)
    backend.delete_link("host", "host-110")  # takes pe-110 along
    backend.delete_link("host", "host-110")
    backend.delete_address(ADDRESSES[0])
    backend.delete_address(ADDRESSES[0])
    backend.delete_address(Address(namespace="router", link="gone", cidr="10.0.0.1/24"))
    state = _refresh(backend)
    gone = {HOST_110.address, PE_110.address, ADDRESSES[0].address}
    assert gone.isdisjoint(state.objects)
    assert backend.delete_netns(names.router)
    assert not backend.delete_netns(names.router)
    assert backend.dump("router") is None
    assert not backend.namespace_exists("router")


def test_batch_reads_and_dependent_writes_see_queued_writes(
    backend: NetlinkBackend, names: Names
) -> None:
    backend.create_netns(names.router)
    with backend.batch() as batch:
        batch.add_link(BRIDGE_110)
        assert batch.get_link("router", "br-pe-110") is not None
        batch.add_link(VXLAN_110)  # needs the bridge's ifindex
        batch.add_address(ADDRESSES[0])
    assert _mismatches([BRIDGE_110, VXLAN_110], _refresh(backend)) == []
    assert ADDRESSES[0].address in _refresh(backend).objects


def test_a_failing_block_sends_nothing(backend: NetlinkBackend, names: Names) -> None:
    backend.create_netns(names.router)

    def interrupted() -> None:
        with backend.batch():
            backend.add_link(BRIDGE_110)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert backend.get_link("router", "br-pe-110") is None


def test_dummy_with_a_vtep_address(backend: NetlinkBackend, names: Names) -> None:
    if not _kernel_has("dummy", names):
        pytest.skip("this kernel has no dummy links (the lab guest has)")
    backend.create_netns(names.router)
    lound = Link(namespace="router", name="lound", kind="dummy", up=True, mac="02:00:00:00:00:09")
    vtep = Address(namespace="router", link="lound", cidr="100.65.0.0/32")
    backend.add_link(lound)
    backend.add_address(vtep)
    state = _refresh(backend)
    assert _mismatches([lound], state) == []
    assert state.objects[vtep.address] == vtep


def test_vrf_with_its_table_and_members(backend: NetlinkBackend, names: Names) -> None:
    backend.create_netns(names.router)
    red = Link(namespace="router", name="red", kind="vrf", up=True, vrf_table=7)
    if not _kernel_has("vrf", names):
        with pytest.raises(BackendError) as raised:
            backend.add_link(red)
        assert raised.value.message == (
            f"cannot create vrf red in namespace {names.router}: "
            "Operation not supported (Unknown device type)"
        )
        assert raised.value.hint is not None
        assert "modprobe vrf" in raised.value.hint
        pytest.skip("this kernel has no VRFs (the lab guest has); checked the error instead")
    backend.add_link(red)
    backend.add_link(msgspec.structs.replace(BRIDGE_100, master="red"))
    assert (
        _mismatches([red, msgspec.structs.replace(BRIDGE_100, master="red")], _refresh(backend))
        == []
    )


def test_a_dump_in_a_child_process_is_the_dump(backend: NetlinkBackend, names: Names) -> None:
    _build(backend, names.router)
    with backend.dump_in_child("router", ROUTER_SYSCTLS) as router_dump:
        host = backend.dump("host")
        from_child = router_dump()
    assert from_child is not None
    assert from_child == backend.dump("router", ROUTER_SYSCTLS)
    assert len(from_child.links) == len([link for link in LINKS if link.namespace == "router"]) + 1
    assert host == backend.dump("host")
    # The parent's own socket in that namespace still answers after the child is gone.
    assert backend.get_link("router", BRIDGE_110.name) is not None


def test_a_dump_in_a_child_process_of_a_missing_namespace_is_none(
    backend: NetlinkBackend,
) -> None:
    with backend.dump_in_child("router") as router_dump:
        assert router_dump() is None


def test_a_child_process_failure_is_raised_in_the_parent(
    backend: NetlinkBackend, names: Names
) -> None:
    assert backend.create_netns(names.router)
    # A directory, not a sysctl: reading it fails in the child with a BackendError.
    with (
        pytest.raises(BackendError, match=rf"net\.ipv4\.conf in namespace {names.router}"),
        backend.dump_in_child("router", ["net.ipv4.conf"]) as router_dump,
    ):
        router_dump()
    # Any other exception ends the child too, and is reported, without a traceback.
    with (
        pytest.raises(BackendError, match=r"failed in a child process \(exit status 1\)"),
        backend.dump_in_child("router", ["not a key"]) as router_dump,
    ):
        router_dump()


def _children() -> set[str]:
    tasks = Path("/proc/self/task").iterdir()
    return {pid for task in tasks for pid in (task / "children").read_text().split()}


def test_leaving_the_block_without_the_result_stops_the_child(backend: NetlinkBackend) -> None:
    before = _children()
    with backend.dump_in_child("host"):
        assert len(_children() - before) == 1
    assert _children() == before  # killed and reaped: not even a zombie is left

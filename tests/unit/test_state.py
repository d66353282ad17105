"""The state file: conversion, deterministic JSON, serial/lineage, atomic writes, refusals."""

from __future__ import annotations

import errno
import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pe_plan import __version__
from pe_plan.config import Config, HostMaster, L2Vni
from pe_plan.errors import StateError
from pe_plan.model import (
    Address,
    BridgePort,
    FrrConfig,
    FrrInstance,
    Link,
    Netns,
    NodeState,
    Object,
    Sysctl,
    Vxlan,
    index_objects,
)
from pe_plan.secrets import marker
from pe_plan.state import (
    NodeInfo,
    State,
    StateFile,
    adopted_addresses,
    build_outputs,
    decode_state,
    depends_on_from_state,
    encode_state,
    new_state,
    record,
    render_state_json,
    render_state_text,
    resources_from_state,
    resources_to_state,
    write_atomic,
)
from pe_plan.state_lock import LockHolder, StateLock, lock_path
from tests.conftest import REPO
from tests.golden_support import Golden

GOLDEN = REPO / "tests" / "golden" / "state"
NODE = NodeInfo(name="pe-kind-worker", index=1, router_namespace="perouter")
SECRET = "s3cret-bgp-password"  # noqa: S105 - must never reach the state

SALT = "00112233445566778899aabbccddeeff"

LAYER2 = L2Vni(
    name="layer2",
    vni=110,
    vrf="red",
    host_master=HostMaster(managed=True, name="br-hs-110"),
    gateway_ips=("192.170.1.1/24",),
)


def seed_node_state() -> NodeState:
    """The seed's L2VNI on node 1, enough to exercise every object type and nesting."""
    objects: list[Object] = [
        Netns(name="perouter"),
        Sysctl(namespace="router", key="net.ipv4.ip_forward", value="1"),
        Link(namespace="router", name="toswitch", kind="device", up=True, moved_from="host"),
        Link(namespace="router", name="lound", kind="dummy", up=True),
        Address(namespace="router", link="lound", cidr="100.65.0.1/32"),
        Link(namespace="router", name="red", kind="vrf", up=True, vrf_table=1000),
        Link(
            namespace="router",
            name="br-pe-110",
            kind="bridge",
            up=True,
            master="red",
            mac="00:f3:00:00:00:6f",
        ),
        Address(namespace="router", link="br-pe-110", cidr="192.170.1.1/24"),
        Link(
            namespace="router",
            name="vni110",
            kind="vxlan",
            up=True,
            master="br-pe-110",
            addrgenmode="none",
            vxlan=Vxlan(vni=110, local="100.65.0.1"),
            bridge_port=BridgePort(neigh_suppress=True, learning=False),
        ),
        Link(
            namespace="router",
            name="pe-110",
            kind="veth",
            up=True,
            master="br-pe-110",
            mtu=1450,
            peer="host-110",
            peer_namespace="host",
        ),
        Link(namespace="host", name="host-110", kind="veth", up=True, master="br-hs-110"),
        Link(namespace="host", name="br-hs-110", kind="bridge", up=True),
        FrrInstance(pathspace="perouter"),
    ]
    return NodeState(
        objects=index_objects(objects),
        depends_on={
            "link.router.vni110": ("link.router.lound", "link.router.br-pe-110"),
            "link.router.br-pe-110": ("link.router.red",),
            "link.host.host-110": ("link.host.br-hs-110", "link.router.pe-110"),
            "address.router.br-pe-110.192.170.1.1/24": ("link.router.br-pe-110",),
        },
        frr=FrrConfig(
            text=f"router bgp 64514\n neighbor 192.168.11.2 password {SECRET}\n",
            public=f"router bgp 64514\n neighbor 192.168.11.2 password {marker(SECRET, SALT)}\n",
        ),
    )


def seed_state(serial: int = 0) -> State:
    """A state with fixed lineage and salt, so that golden files are stable."""
    prior = msgspec.structs.replace(
        new_state(NODE),
        lineage="7d0c6f8e-3a5b-4c1d-9e2f-0a1b2c3d4e5f",
        secret_salt=SALT,
        serial=serial,
    )
    return record(
        prior,
        seed_node_state(),
        node=NODE,
        inputs_digest="sha256:" + "ab" * 32,
        outputs=build_outputs(Config(l2vnis=(LAYER2,))),
        adopted={"link.router.toswitch"},
    )


# --- conversion -------------------------------------------------------------------------


def test_objects_round_trip_through_the_state_file() -> None:
    node_state = seed_node_state()
    state = decode_state(encode_state(seed_state()), "memory")
    assert resources_from_state(state) == node_state.objects
    assert depends_on_from_state(state) == {
        address: tuple(sorted(deps)) for address, deps in node_state.depends_on.items()
    }
    assert adopted_addresses(state) == {"link.router.toswitch"}


def test_resource_keeps_namespace_beside_attributes_without_the_tag() -> None:
    resources = {r.address: r for r in seed_state().resources}
    vxlan = resources["link.router.vni110"]
    assert (vxlan.type, vxlan.namespace) == ("link", "router")
    assert vxlan.attributes["vxlan"] == {"vni": 110, "local": "100.65.0.1"}
    assert "type" not in vxlan.attributes
    assert "namespace" not in vxlan.attributes
    assert "up" in vxlan.attributes
    assert "mtu" not in vxlan.attributes  # None: not managed, so not recorded
    assert resources["netns.perouter"].namespace is None
    assert list(resources) == sorted(resources)


optional_bool = st.none() | st.booleans()
names = st.text("abcdefghij-_.0123456789", min_size=1, max_size=15)


@given(
    link=st.builds(
        Link,
        namespace=st.sampled_from(["host", "router"]),
        name=names,
        kind=st.sampled_from(["bridge", "vxlan", "veth", "vrf", "dummy", "device"]),
        up=optional_bool,
        mtu=st.none() | st.integers(68, 65535),
        master=st.none() | names,
        mac=st.none() | st.just("00:f3:00:00:00:6f"),
        addrgenmode=st.none() | st.sampled_from(["eui64", "none", "stable_secret", "random"]),
        group=st.none() | st.integers(0, 2**32 - 1),
        vrf_table=st.none() | st.integers(1, 2**32 - 1),
        vxlan=st.none()
        | st.builds(
            Vxlan,
            vni=st.integers(1, 2**24 - 1),
            local=st.just("100.65.0.1"),
            port=st.integers(1, 65535),
            learning=st.booleans(),
            dev=st.none() | names,
        ),
        bridge_port=st.none() | st.builds(BridgePort, optional_bool, optional_bool),
        peer=st.none() | names,
        peer_namespace=st.none() | st.sampled_from(["host", "router"]),
        moved_from=st.none() | st.sampled_from(["host", "router"]),
    ),
    adopted=st.booleans(),
)
def test_any_link_round_trips(link: Link, adopted: bool) -> None:
    state = msgspec.structs.replace(
        seed_state(),
        resources=resources_to_state(
            {link.address: link}, {}, {link.address} if adopted else set()
        ),
    )
    decoded = decode_state(encode_state(state), "memory")
    assert resources_from_state(decoded) == {link.address: link}
    assert adopted_addresses(decoded) == ({link.address} if adopted else set())


def test_state_keeps_the_public_frr_text_only_and_show_hides_its_digests() -> None:
    state = seed_state()
    digest = marker(SECRET, SALT)
    assert state.frr == ("router bgp 64514", f" neighbor 192.168.11.2 password {digest}")
    assert SECRET not in encode_state(state).decode()
    text = render_state_text(state)
    assert SECRET not in text
    assert digest not in text
    assert "password (sensitive)" in text


def test_empty_node_state_records_nothing() -> None:
    state = record(seed_state(), NodeState(objects={}), node=NODE, inputs_digest="", outputs={})
    assert (state.resources, state.frr, state.outputs) == ((), None, {})


# --- outputs ------------------------------------------------------------------------------


def test_nad_of_the_seed_l2vni_attaches_to_the_host_bridge_via_the_gateway() -> None:
    output = build_outputs(Config(l2vnis=(LAYER2,)))["layer2"]
    assert output.host_bridge == "br-hs-110"
    assert output.gateway_ips == ("192.170.1.1/24",)
    nad = output.network_attachment_definition
    assert nad is not None
    as_dict = msgspec.to_builtins(nad)
    assert as_dict == {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": "layer2"},
        "spec": {"config": as_dict["spec"]["config"]},
    }
    assert json.loads(nad.spec.config) == {
        "cniVersion": "0.3.0",
        "type": "macvlan",
        "master": "br-hs-110",
        "mode": "bridge",
        "ipam": {"type": "static", "routes": [{"dst": "0.0.0.0/0", "gw": "192.170.1.1"}]},
    }


def test_nad_without_gateway_has_no_route_and_v6_gateway_routes_v6() -> None:
    plain = msgspec.structs.replace(LAYER2, name="plain", gateway_ips=())
    dual = msgspec.structs.replace(
        LAYER2, name="dual", gateway_ips=("192.170.1.1/24", "192.170.2.1/24", "fd00:110::1/64")
    )
    outputs = build_outputs(Config(l2vnis=(plain, dual)))
    plain_nad = outputs["plain"].network_attachment_definition
    dual_nad = outputs["dual"].network_attachment_definition
    assert plain_nad is not None
    assert dual_nad is not None
    assert json.loads(plain_nad.spec.config)["ipam"] == {"type": "static"}
    assert json.loads(dual_nad.spec.config)["ipam"]["routes"] == [
        {"dst": "0.0.0.0/0", "gw": "192.170.1.1"},
        {"dst": "::/0", "gw": "fd00:110::1"},
    ]


def test_l2vni_without_host_bridge_has_no_nad() -> None:
    bare = msgspec.structs.replace(LAYER2, host_master=None)
    output = build_outputs(Config(l2vnis=(bare,)))["layer2"]
    assert (output.host_bridge, output.network_attachment_definition) == (None, None)


# --- encoding and show --------------------------------------------------------------------


def test_encoding_is_sorted_indented_and_ends_with_newline() -> None:
    state = seed_state()
    shuffled = msgspec.structs.replace(state, resources=tuple(reversed(state.resources)))
    data = encode_state(shuffled)
    assert data == encode_state(state)
    assert data.endswith(b"}\n")
    assert data.startswith(b'{\n  "format_version": 1,\n')
    assert list(json.loads(data)) == sorted(json.loads(data))


def test_show_text_and_json_match_golden(golden: Golden) -> None:
    state = seed_state(serial=3)
    golden.check(GOLDEN / "seed" / "show.txt", render_state_text(state))
    golden.check(GOLDEN / "seed" / "state.json", render_state_json(state))


def test_show_text_of_an_empty_state(golden: Golden) -> None:
    state = msgspec.structs.replace(seed_state(), resources=(), frr=None, outputs={})
    golden.check(GOLDEN / "empty" / "show.txt", render_state_text(state))


# --- the file: serial, lineage, backup, mode ---------------------------------------------


def test_first_write_creates_serial_1_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "pe-plan.state.json"
    written = StateFile(path, node=NODE).write(seed_state())
    assert written.serial == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == encode_state(written)
    assert StateFile(path, node=NODE).read() == written
    assert not StateFile(path).backup_path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pe-plan.state.json"]


def test_same_content_twice_is_byte_identical_with_the_same_serial(tmp_path: Path) -> None:
    path = tmp_path / "pe-plan.state.json"
    first = StateFile(path, node=NODE).write(seed_state())
    before = path.read_bytes()
    again = StateFile(path, node=NODE).write(first)
    assert again.serial == first.serial == 1
    assert path.read_bytes() == before
    assert not StateFile(path).backup_path.exists()


def test_changed_content_bumps_serial_keeps_lineage_and_backs_up(tmp_path: Path) -> None:
    path = tmp_path / "pe-plan.state.json"
    first = StateFile(path, node=NODE).write(seed_state())
    first_bytes = path.read_bytes()
    state_file = StateFile(path, node=NODE)
    second = state_file.write(
        msgspec.structs.replace(first, resources=first.resources[1:], inputs_digest="x")
    )
    assert (second.serial, second.lineage) == (2, first.lineage)
    assert second.secret_salt == first.secret_salt
    assert state_file.backup_path.read_bytes() == first_bytes
    assert stat.S_IMODE(state_file.backup_path.stat().st_mode) == 0o600
    # The backup is the state before the command: later writes of it keep it.
    third = state_file.write(msgspec.structs.replace(second, inputs_digest="y"))
    assert third.serial == 3
    assert state_file.backup_path.read_bytes() == first_bytes


def test_write_stamps_this_pe_plan_version(tmp_path: Path) -> None:
    path = tmp_path / "pe-plan.state.json"
    old = msgspec.structs.replace(seed_state(), pe_plan_version="0.0.1")
    assert StateFile(path).write(old).pe_plan_version == __version__


def test_other_lineage_and_stale_serial_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "pe-plan.state.json"
    first = StateFile(path).write(seed_state())
    content = path.read_bytes()
    other = msgspec.structs.replace(first, lineage="another", inputs_digest="x")
    with pytest.raises(StateError, match="different deployments"):
        StateFile(path).write(other)
    stale = msgspec.structs.replace(first, serial=0, inputs_digest="x")
    with pytest.raises(StateError, match=r"changed while this command ran \(serial 1 now"):
        StateFile(path).write(stale)
    assert path.read_bytes() == content


def good_state_json() -> dict[str, object]:
    decoded: dict[str, object] = json.loads(encode_state(seed_state(serial=4)))
    return decoded


def corrupt(case: str) -> bytes:
    data = good_state_json()
    match case:
        case "truncated":
            return encode_state(seed_state(serial=4))[:200]
        case "not json":
            return b"<<<<<<< HEAD\n"
        case "not a state":
            return b"[1, 2]\n"
        case "format_version 2":
            data["format_version"] = 2
            data["pe_plan_version"] = "9.0.0"
        case "unknown top-level field":
            data["pe_plan_version"] = "9.0.0"
            data["checks"] = []
        case "unknown attribute":
            resources = data["resources"]
            assert isinstance(resources, list)
            resources[0]["attributes"]["colour"] = "blue"
        case "unknown type":
            resources = data["resources"]
            assert isinstance(resources, list)
            resources[0]["type"] = "route"
        case "address disagrees":
            resources = data["resources"]
            assert isinstance(resources, list)
            resources[0]["address"] = "address.router.br-pe-110.10.0.0.1/24"
        case "duplicate resource":
            resources = data["resources"]
            assert isinstance(resources, list)
            resources.append(resources[0])
        case "other node":
            data["node"] = {"name": "pe-kind-control-plane", "index": 0, "router_namespace": "x"}
    return json.dumps(data, indent=2).encode()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("truncated", "is not valid JSON (Input data was truncated)"),
        ("not json", "is not valid JSON"),
        ("not a state", "is not a pe-plan state file"),
        ("format_version 2", "has format_version 2, written by pe-plan 9.0.0"),
        ("unknown top-level field", "unknown field `checks`"),
        ("unknown attribute", "does not know: colour"),
        ("unknown type", "unknown type 'route'"),
        ("address disagrees", "address and attributes disagree"),
        ("duplicate resource", "is recorded twice"),
        ("other node", "belongs to node pe-kind-control-plane (index 0), not to node"),
    ],
)
def test_unreadable_state_is_refused_and_never_overwritten(
    tmp_path: Path, case: str, message: str
) -> None:
    path = tmp_path / "pe-plan.state.json"
    path.write_bytes(corrupt(case))
    before = path.read_bytes()
    state_file = StateFile(path, node=NODE)
    with pytest.raises(StateError) as read_error:
        state_file.read()
    assert message in read_error.value.message
    assert str(path) in read_error.value.message
    assert read_error.value.hint
    with pytest.raises(StateError):
        state_file.write(seed_state(serial=4))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pe-plan.state.json"]


def test_newer_pe_plan_is_named_in_the_hint(tmp_path: Path) -> None:
    path = tmp_path / "pe-plan.state.json"
    path.write_bytes(corrupt("unknown top-level field"))
    with pytest.raises(StateError) as error:
        StateFile(path).read()
    assert error.value.hint is not None
    assert "written by pe-plan 9.0.0" in error.value.hint


def test_missing_state_reads_as_none(tmp_path: Path) -> None:
    assert StateFile(tmp_path / "none.json").read() is None


# --- failed writes: the errored file ------------------------------------------------------


class FailingWriter:
    """Writes like :func:`write_atomic` except to the paths it was told to fail."""

    def __init__(self, *failing: Path) -> None:
        self.failing = set(failing)

    def __call__(self, path: Path, data: bytes) -> None:
        if path in self.failing:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        write_atomic(path, data)


def test_failed_write_goes_to_errored_file_beside_the_state(tmp_path: Path) -> None:
    path = tmp_path / "pe-plan.state.json"
    first = StateFile(path).write(seed_state())
    before = path.read_bytes()
    state_file = StateFile(path, writer=FailingWriter(path))
    changed = msgspec.structs.replace(first, inputs_digest="x")
    with pytest.raises(StateError) as error:
        state_file.write(changed)
    errored = tmp_path / "pe-plan.state.json.errored"
    assert f"the new state was saved to {errored}" in error.value.message
    assert "No space left on device" in error.value.message
    assert error.value.hint is not None
    assert f"cp {errored} {path}" in error.value.hint
    assert path.read_bytes() == before
    saved = decode_state(errored.read_bytes(), str(errored))
    assert (saved.serial, saved.inputs_digest) == (2, "x")
    assert stat.S_IMODE(errored.stat().st_mode) == 0o600


def test_when_the_state_directory_is_gone_the_next_errored_dir_is_used(
    tmp_path: Path,
) -> None:
    # A real failure, no injection: the directory vanished between read and write.
    fallback = tmp_path / "fallback"
    fallback.mkdir()
    path = tmp_path / "gone" / "pe-plan.state.json"
    state_file = StateFile(path, errored_dirs=[path.parent, fallback])
    with pytest.raises(StateError) as error:
        state_file.write(seed_state())
    errored = fallback / "pe-plan.state.json.errored"
    assert f"saved to {errored}" in error.value.message
    assert decode_state(errored.read_bytes(), "errored").serial == 1


def test_when_nothing_can_be_written_the_state_is_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "pe-plan.state.json"
    errored = tmp_path / "pe-plan.state.json.errored"
    state_file = StateFile(path, writer=FailingWriter(path, errored), errored_dirs=[tmp_path])
    with pytest.raises(StateError) as error:
        state_file.write(seed_state())
    message = error.value.message
    assert f"nor save it to {errored}; the new state follows:" in message
    assert message.endswith(encode_state(seed_state(serial=1)).decode())
    assert not path.exists()


# --- the lock, within one process (several processes: tests/integration) ------------------


def test_lock_records_the_holder_and_release_removes_it(tmp_path: Path) -> None:
    state_path = tmp_path / "pe-plan.state.json"
    with StateLock.acquire(state_path, "pe-plan apply") as lock:
        assert lock.stale_holder is None
        assert lock.stale_warning is None
        info = msgspec.json.decode(lock_path(state_path).read_bytes(), type=LockHolder)
        assert (info.pid, info.command) == (os.getpid(), "pe-plan apply")
        assert stat.S_IMODE(lock_path(state_path).stat().st_mode) == 0o600
        with pytest.raises(StateError, match=rf"locked by pid {os.getpid()} \(pe-plan apply\)"):
            StateLock.acquire(state_path, "pe-plan plan")
    assert not lock_path(state_path).exists()
    StateLock.acquire(state_path, "pe-plan plan").release()


def test_lock_left_by_a_dead_process_is_taken_and_reported(tmp_path: Path) -> None:
    state_path = tmp_path / "pe-plan.state.json"
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = LockHolder(
        pid=int(child.stdout),
        hostname=socket.gethostname(),
        user="root",
        command="pe-plan apply",
        since="2026-01-02T03:04:05+00:00",
    )
    lock_path(state_path).write_bytes(msgspec.json.encode(dead))
    with StateLock.acquire(state_path, "pe-plan plan") as lock:
        assert lock.stale_holder == dead
        assert lock.stale_warning is not None
        assert f"pid {dead.pid} (pe-plan apply)" in lock.stale_warning
        assert "that process no longer runs" in lock.stale_warning
        assert lock.holder.command == "pe-plan plan"

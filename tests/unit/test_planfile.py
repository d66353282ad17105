"""Saved plans: written and read back exactly, and refused as soon as anything moved."""

from __future__ import annotations

import stat
from pathlib import Path

import msgspec
import pytest

from pe_plan import __version__
from pe_plan.errors import InputError, PlanError
from pe_plan.model import FrrConfig, Link, NodeState, Object
from pe_plan.planfile import (
    SavedPlan,
    bind_plan,
    check_fresh,
    encode_plan,
    read_plan,
    write_plan,
)
from pe_plan.state import NodeInfo
from tests.unit.test_plan_golden import load_case, plan_case

NODE = NodeInfo(name="node0", index=0, router_namespace="perouter")
LINEAGE = "0b7c3c1e-5a0d-4c1e-9a57-6f2f7e0d6a11"
DIGEST = "sha256:inputs"
MTU = load_case("mtu-change")
FIRST = load_case("create-from-empty")


def saved_mtu_plan() -> SavedPlan:
    return bind_plan(
        plan_case(MTU),
        observed=MTU.observed,
        lineage=LINEAGE,
        serial=3,
        inputs_digest=DIGEST,
        node=NODE,
    )


def with_objects(state: NodeState, **changes: Object) -> NodeState:
    return NodeState(objects={**state.objects, **changes}, frr=state.frr)


def refusal(
    saved: SavedPlan,
    *,
    lineage: str | None = LINEAGE,
    serial: int | None = 3,
    observed: NodeState = MTU.observed,
    inputs_digest: str = DIGEST,
    node: NodeInfo = NODE,
) -> str:
    """The message of the refusal of ``saved`` (the defaults are what it was made from)."""
    with pytest.raises(PlanError) as info:
        check_fresh(
            saved,
            lineage=lineage,
            serial=serial,
            observed=observed,
            inputs_digest=inputs_digest,
            node=node,
        )
    return info.value.message


def test_a_plan_file_reads_back_identical_and_private(tmp_path: Path) -> None:
    saved = saved_mtu_plan()
    path = tmp_path / "tfplan"
    write_plan(path, saved)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_plan(path) == saved
    assert path.read_bytes() == encode_plan(saved)


def test_a_fresh_plan_passes() -> None:
    check_fresh(
        saved_mtu_plan(),
        lineage=LINEAGE,
        serial=3,
        observed=MTU.observed,
        inputs_digest=DIGEST,
        node=NODE,
    )


def test_objects_the_plan_never_looked_at_do_not_make_it_stale() -> None:
    eth0 = MTU.observed.objects["link.host.eth0"]
    assert isinstance(eth0, Link)
    busier = with_objects(
        MTU.observed,
        **{"link.host.eth0": msgspec.structs.replace(eth0, mtu=9000)},
        **{"link.host.veth9f2": Link(namespace="host", name="veth9f2", kind="veth")},
    )
    check_fresh(
        saved_mtu_plan(),
        lineage=LINEAGE,
        serial=3,
        observed=busier,
        inputs_digest=DIGEST,
        node=NODE,
    )


def test_a_state_change_is_named_with_its_serials() -> None:
    assert refusal(saved_mtu_plan(), serial=4) == (
        "the saved plan is stale:\n  the state changed since the plan was made: serial 3 → 4"
    )
    assert refusal(saved_mtu_plan(), lineage="other") == (
        "the saved plan is stale:\n  the plan was made from another state (lineage "
        f"{LINEAGE}), the state has lineage other"
    )
    assert "is gone" in refusal(saved_mtu_plan(), lineage=None, serial=None)


def test_node_changes_name_the_addresses() -> None:
    host_leg = MTU.observed.objects["link.host.host-110"]
    assert isinstance(host_leg, Link)
    changed = with_objects(
        MTU.observed, **{"link.host.host-110": msgspec.structs.replace(host_leg, up=False)}
    )
    objects = dict(changed.objects)
    del objects["link.router.vni110"]
    frr = FrrConfig(text="hostname x\n", public="hostname x\n")
    message = refusal(saved_mtu_plan(), observed=NodeState(objects=objects, frr=frr))
    assert message == (
        "the saved plan is stale:\n  the node changed since the plan was made: frr.config "
        "appeared, link.host.host-110 changed, link.router.vni110 disappeared"
    )


def test_a_plan_made_without_a_state_cannot_be_applied_twice() -> None:
    saved = bind_plan(
        plan_case(FIRST),
        observed=FIRST.observed,
        lineage=None,
        serial=None,
        inputs_digest=DIGEST,
        node=NODE,
    )
    check_fresh(
        saved,
        lineage=None,
        serial=None,
        observed=FIRST.observed,
        inputs_digest=DIGEST,
        node=NODE,
    )
    # After the first apply the objects exist, and so does a state.
    applied = load_case("no-op").observed
    message = refusal(saved, lineage=LINEAGE, serial=1, observed=applied)
    lines = message.splitlines()
    assert lines[1] == f"  a state was written since the plan was made (lineage {LINEAGE})"
    assert lines[2].startswith(
        "  the node changed since the plan was made: address.host.host-100.192.169.10.2/24 "
        "appeared, "
    )
    assert lines[2].endswith(", and 13 more")  # 22 objects appeared, the NIC left


def test_inputs_node_and_version_changes_are_refused() -> None:
    saved = saved_mtu_plan()
    other = NodeInfo(name="node1", index=1, router_namespace="perouter")
    node_line = (
        "  the plan was made for node node0 (index 0, router namespace perouter), this is "
        "node node1 (index 1, router namespace perouter)"
    )
    assert refusal(saved, inputs_digest="sha256:new", node=other).splitlines()[1:] == [
        node_line,
        "  the configuration changed since the plan was made",
    ]
    old = msgspec.structs.replace(saved, pe_plan_version="0.0.1")
    assert refusal(old).splitlines()[1] == (
        f"  the plan was made by pe-plan 0.0.1, this is pe-plan {__version__}"
    )


def test_unreadable_plan_files_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read plan file"):
        read_plan(tmp_path / "missing")
    garbage = tmp_path / "garbage"
    garbage.write_text("{not json")
    with pytest.raises(InputError, match="is not a pe-plan plan file"):
        read_plan(garbage)
    newer = tmp_path / "newer"
    newer.write_text('{"format_version": 2, "pe_plan_version": "9.0.0"}')
    with pytest.raises(InputError, match=r"has format_version 2 \(written by pe-plan 9\.0\.0\)"):
        read_plan(newer)


def test_a_failed_write_is_reported(tmp_path: Path) -> None:
    def full_disk(path: Path, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(InputError, match="No space left on device"):
        write_plan(tmp_path / "tfplan", saved_mtu_plan(), writer=full_disk)

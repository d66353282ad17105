"""The state's file system full or read-only: before, during and at the end of an apply.

The state lives on a small tmpfs mounted for the test. Full or read-only from the start,
``pe-plan apply`` must stop before touching the node. Full halfway (the journal cannot
grow), the apply is rolled back. Full or read-only at the final write, the node is as
planned and verified, so the new state is saved elsewhere (``TMPDIR`` here) and the
message says where and what to do; doing exactly that (fix the cause, copy the file back)
must leave a node that plans to no changes and destroys cleanly. Root and FRR needed.
"""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults import picture
from tests.integration.conftest import HostNode
from tests.reliability.fault_apply import FILLER, apply_with_fault, fill, make_read_only
from tests.reliability.node import (
    apply,
    changes,
    destroy,
    nothing_left,
    pe_plan,
    stretch_config,
)
from tests.reliability.report import ReliabilityReport

pytestmark = [pytest.mark.netns, pytest.mark.frr]


@pytest.fixture
def node(host_node: HostNode, tmp_path: Path) -> Iterator[HostNode]:
    """The node, its state on a 1 MiB tmpfs of its own."""
    mount = tmp_path / "state-fs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield dataclasses.replace(host_node, state=mount / "state.json")
    finally:
        unmount_all(mount)


def unmount_all(mount: Path) -> None:
    """Unmount the tmpfs and any read-only bind mount over it."""
    while subprocess.run(["mountpoint", "-q", str(mount)], check=False).returncode == 0:
        subprocess.run(["umount", str(mount)], check=True)


def fix_the_cause(fault: str, directory: Path) -> None:
    """What an operator does about the fault: free some space, or make it writable again."""
    if fault == "fill-disk":
        (directory / FILLER).unlink()
    else:
        subprocess.run(["umount", str(directory)], check=True)  # the read-only bind mount


def break_the_disk(fault: str, directory: Path) -> None:
    if fault == "fill-disk":
        fill(directory)
    else:
        make_read_only(directory)


@pytest.mark.parametrize("fault", ["fill-disk", "read-only"])
def test_a_failed_final_write_saves_the_state_elsewhere_and_says_how_to_restore_it(
    reliability_report: ReliabilityReport, node: HostNode, tmp_path: Path, fault: str
) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    config = stretch_config(tmp_path, "config.yaml")
    ended = apply_with_fault(fault, node, config, tmpdir=tmpdir)
    errored = tmpdir / "state.json.errored"
    reason = "No space left on device" if fault == "fill-disk" else "Read-only file system"
    assert ended.exit_code == 1, ended.message
    assert reason in ended.message
    assert f"the new state was saved to {errored}" in ended.message
    assert f"`cp {errored} {node.state}`" in (ended.hint or "")
    # What the hint says, to the letter: fix the cause, copy the saved state back.
    fix_the_cause(fault, node.state.parent)
    subprocess.run(["cp", str(errored), str(node.state)], check=True)
    planned = pe_plan("plan", "-f", str(config), *node.node_args, "--detailed-exitcode")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    # A journal the read-only directory kept is noted as removed, nothing worse.
    assert all(line.startswith("Note: ") for line in planned.stderr.splitlines())
    assert destroy(node).returncode == 0
    nothing_left(reliability_report.record_fault, node)


@pytest.mark.parametrize("fault", ["fill-disk", "read-only"])
def test_a_broken_state_directory_stops_apply_before_it_touches_the_node(
    reliability_report: ReliabilityReport, node: HostNode, tmp_path: Path, fault: str
) -> None:
    before = picture(node)
    break_the_disk(fault, node.state.parent)
    applied = apply(node, stretch_config(tmp_path, "config.yaml"))
    assert applied.returncode == 1, applied.stderr
    assert applied.stderr.startswith("Error: "), applied.stderr
    assert "Traceback" not in applied.stderr
    assert str(node.state.parent) in applied.stderr  # it names the place to look at
    assert changes(node, before) == []
    fix_the_cause(fault, node.state.parent)
    nothing_left(reliability_report.record_fault, node)


def test_a_full_disk_halfway_rolls_the_apply_back(
    reliability_report: ReliabilityReport, node: HostNode, tmp_path: Path
) -> None:
    before = picture(node)
    config = stretch_config(tmp_path, "config.yaml")
    ended = apply_with_fault(
        "fill-disk",
        node,
        config,
        tmpdir=tmp_path,
        after=3,  # the journal cannot record the undo of the next write
    )
    assert ended.exit_code == 3, ended.message
    assert "No space left on device" in ended.message
    assert "rolled back" in ended.message
    assert changes(node, before) == []
    assert not node.state.exists()
    fix_the_cause("fill-disk", node.state.parent)
    nothing_left(reliability_report.record_fault, node)

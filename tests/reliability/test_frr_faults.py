"""FRR failing in the middle of an apply: a line it rejects, vtysh missing, the daemons killed.

Each fault hits a first apply (FRR is started by it) or a second one (FRR runs with the
first apply's config and the change adds a neighbor): the apply must be rolled back to the
kernel objects and the running config it started from, say which line FRR refused (never
with a password in it), and leave no journal, snapshot or lock behind. Root and FRR needed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.faults import picture
from tests.integration.conftest import HostNode
from tests.reliability.fault_apply import UNKNOWN_LINE, apply_with_fault
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
PASSWORD = "s3cr3t-FRR-fault"  # noqa: S105 - a test secret, looked for in the output
SECOND = "192.168.11.9"  # the neighbor the second apply adds


def second_apply(node: HostNode, tmp_path: Path) -> Path:
    """Apply the example; return the config that adds a neighbor (with a password) to it."""
    first = apply(node, stretch_config(tmp_path, "first.yaml"))
    assert first.returncode == 0, first.stderr
    return stretch_config(tmp_path, "second.yaml", password=PASSWORD, neighbors=2)


def finish(report: ReliabilityReport, node: HostNode, found: Sequence[str] = ()) -> None:
    """Destroy what is left of the node: nothing may remain, nor be ``found`` before."""
    if node.state.exists():
        destroyed = destroy(node)
        assert destroyed.returncode == 0, destroyed.stderr
    nothing_left(report.record_fault, node, found)


def test_a_line_frr_rejects_on_the_first_apply_is_named_and_rolled_back(
    reliability_report: ReliabilityReport, host_node: HostNode, tmp_path: Path
) -> None:
    before = picture(host_node)
    config = stretch_config(tmp_path, "config.yaml")
    ended = apply_with_fault("reject-line", host_node, config, tmpdir=tmp_path)
    assert ended.exit_code == 3, ended.message
    assert f"FRR rejected the line {UNKNOWN_LINE!r}" in ended.message
    finish(reliability_report, host_node, changes(host_node, before))


@pytest.mark.parametrize(
    ("fault", "named"),
    [
        ("reject-line", f"FRR rejected the line {UNKNOWN_LINE!r}"),
        ("reject-secret-line", f"FRR rejected the line 'neighbor {SECOND} password (sensitive)'"),
    ],
)
def test_a_rejected_change_restores_the_running_config_and_the_kernel(
    reliability_report: ReliabilityReport,
    host_node: HostNode,
    tmp_path: Path,
    fault: str,
    named: str,
) -> None:
    config = second_apply(host_node, tmp_path)
    before = picture(host_node)  # the state file's bytes too
    ended = apply_with_fault(fault, host_node, config, tmpdir=tmp_path)
    assert ended.exit_code == 3, ended.message
    assert named in ended.message
    assert PASSWORD not in f"{ended.message} {ended.hint}"
    finish(reliability_report, host_node, changes(host_node, before))


def test_frr_killed_during_the_change_comes_back_with_its_config(
    reliability_report: ReliabilityReport, host_node: HostNode, tmp_path: Path
) -> None:
    config = second_apply(host_node, tmp_path)
    before = picture(host_node)
    ended = apply_with_fault("kill-frr", host_node, config, tmpdir=tmp_path)
    left = changes(host_node, before)
    reliability_report.record_fault(left)
    assert ended.exit_code == 3, ended.message
    assert "is not reachable" in ended.message
    assert left == []


def test_without_vtysh_apply_rolls_back_and_plan_says_what_is_missing(
    reliability_report: ReliabilityReport, host_node: HostNode, tmp_path: Path
) -> None:
    env = {**os.environ, "PATH": str(path_without(tmp_path / "bin", "vtysh"))}
    config = stretch_config(tmp_path, "config.yaml")
    before = picture(host_node)
    applied = apply(host_node, config, env=env)
    assert applied.returncode == 3, applied.stderr
    assert "apply failed at FRR config (add): cannot run vtysh: not found" in applied.stderr
    assert "rolled back" in applied.stderr
    nothing_left(reliability_report.record_fault, host_node, changes(host_node, before))
    assert apply(host_node, config).returncode == 0
    planned = pe_plan("plan", "-f", str(config), *host_node.node_args, env=env)
    assert planned.returncode == 1
    assert planned.stderr == (
        "Error: cannot run vtysh: not found\nHint: install FRR and iproute2 (apt-get install "
        "frr iproute2)\n"
    )
    finish(reliability_report, host_node)


def path_without(directory: Path, program: str) -> Path:
    """A directory of links to every program on PATH but ``program``, to be the PATH."""
    directory.mkdir()
    for entry in os.environ["PATH"].split(os.pathsep):
        folder = Path(entry)
        if not folder.is_dir():
            continue
        for found in folder.iterdir():
            link = directory / found.name
            if found.name != program and not os.path.lexists(link):
                link.symlink_to(found)
    return directory

"""Two pe-plan commands on one node at once, and the lock a killed one leaves behind.

The first ``pe-plan apply`` is held in the middle of its work: a ``vtysh`` first on its PATH
waits on a FIFO until the test lets it go (the first vtysh call of a fresh apply is the
FRR snapshot, after the namespace and FRR are up, with the state locked). Meanwhile a
second apply must fail at once, naming the first one's pid and command; once let go, the
first completes. Killed with SIGKILL instead, the first leaves its lock info and journal:
the next command must report the dead holder by its pid (a warning) and refuse to plan
over the interrupted apply instead of silently taking over; ``pe-plan recover`` then rolls
it back. Real processes on a throwaway node; root and FRR needed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.conftest import HostNode
from tests.reliability.node import destroy, nothing_left, pe_plan, stretch_config
from tests.reliability.report import ReliabilityReport

pytestmark = [pytest.mark.netns, pytest.mark.frr]

GATE_SCRIPT = """#!/bin/sh
# The first call waits until the test writes a line to the FIFO "open".
if mkdir "{gate}/entered" 2>/dev/null; then
    read -r _ < "{gate}/open"
fi
exec {vtysh} "$@"
"""


@dataclass(frozen=True)
class Held:
    """An apply stopped at its first vtysh call."""

    process: subprocess.Popen[str]
    gate: Path

    def release(self) -> None:
        open_gate(self.gate)

    def wait(self) -> tuple[int, str]:
        _, stderr = self.process.communicate(timeout=300)
        return self.process.returncode, stderr


def hold_apply(node: HostNode, config: Path, gate: Path) -> Held:
    """Start ``pe-plan apply`` and return once it waits at the gate, holding the lock."""
    gate.mkdir()
    os.mkfifo(gate / "open")
    vtysh = shutil.which("vtysh")
    assert vtysh is not None
    wrapper = gate / "vtysh"
    wrapper.write_text(GATE_SCRIPT.format(gate=gate, vtysh=vtysh))
    wrapper.chmod(0o755)
    process = subprocess.Popen(
        [sys.executable, "-m", "pe_plan", "apply", "-f", str(config), *node.node_args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={
            **os.environ,
            "PATH": f"{gate}{os.pathsep}{os.environ['PATH']}",
            "PE_PLAN_AUTO_APPROVE": "1",
        },
    )
    held = Held(process, gate)
    deadline = time.monotonic() + 120
    while not (gate / "entered").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the apply never reached FRR: {held.wait()[1]}")
        time.sleep(0.05)
    return held


def open_gate(gate: Path) -> None:
    """Let the waiting wrapper go; without one waiting (no reader), OSError, never a wait."""
    fd = os.open(gate / "open", os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, b"go\n")
    finally:
        os.close(fd)


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "gate"
    yield path
    # A wrapper still waiting would outlive the test.
    with contextlib.suppress(OSError):
        open_gate(path)


def test_a_second_apply_stops_at_the_lock_naming_the_first(
    reliability_report: ReliabilityReport, host_node: HostNode, tmp_path: Path, gate: Path
) -> None:
    config = stretch_config(tmp_path, "config.yaml")
    first = hold_apply(host_node, config, gate)
    second = pe_plan("apply", "-f", str(config), *host_node.node_args, "--auto-approve")
    first.release()
    status, stderr = first.wait()
    assert second.returncode == 1
    assert f"is locked by pid {first.process.pid} (pe-plan apply)" in second.stderr
    assert second.stderr.startswith(f"Error: state {host_node.state} is locked by pid")
    assert status == 0, stderr
    assert stderr.splitlines()[-1].startswith("Apply complete!")
    again = pe_plan("plan", "-f", str(config), *host_node.node_args, "--detailed-exitcode")
    assert again.returncode == 0, again.stderr
    assert destroy(host_node).returncode == 0
    nothing_left(reliability_report.record_fault, host_node)


def test_a_killed_holder_is_reported_not_silently_replaced(
    reliability_report: ReliabilityReport, host_node: HostNode, tmp_path: Path, gate: Path
) -> None:
    config = stretch_config(tmp_path, "config.yaml")
    first = hold_apply(host_node, config, gate)
    first.process.kill()
    first.wait()
    first.release()  # the orphaned wrapper goes on and ends
    planned = pe_plan("plan", "-f", str(config), *host_node.node_args)
    assert planned.returncode == 1
    warning, error, *_ = planned.stderr.splitlines()
    assert warning.startswith(f"Warning: the previous lock on {host_node.lock} was not released:")
    assert f"pid {first.process.pid} (pe-plan apply)" in warning
    assert "that process no longer runs" in warning
    assert "rolled back by `pe-plan recover`" in warning
    assert error.startswith(f"Error: an interrupted `pe-plan apply` (pid {first.process.pid}")
    recovered = pe_plan("recover", *host_node.node_args, "--auto-approve")
    assert recovered.returncode == 0, recovered.stderr
    nothing_left(reliability_report.record_crash_point, host_node)

"""Apply, destroy and recover on the host kernel, with the real backends and a real FRR.

The scenarios are examples/l2-stretch and tests/data/l2-two-vnis (the same grown by a
neighbor and an L2VNI) on a throwaway node (``conftest.host_node``). A node is judged by a
picture of it, and broken by a runner that fails a chosen write or by SIGKILL after a
chosen step: the tools are in :mod:`tests.faults`, which the lab's faults scenario (the
seed, with its VRF, in User-Mode Linux) shares.

* the lifecycle: apply, re-plan to zero, a no-op apply, growing, shrinking together with an
  MTU change of the NIC, and destroy back to the exact node from before;
* a failure at every write of four plans (apply from empty, destroy, grow, shrink), before
  or after the write is made, or in a run of writes sent together: each is rolled back to
  the picture from before (exit status 3), with no journal left;
* SIGKILL after every step of the apply and of the destroy, then ``pe-plan recover``;
  ``recover --forward`` after every step of the apply; SIGTERM and SIGINT, which the
  process rolls back itself; a recover that cannot undo everything; a state that cannot be
  written; an FRR restart with another set of daemons.

The write counts and kill points are printed (``pytest -rP`` shows them).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from pe_plan.apply import Executor
from pe_plan.backends.frr import LocalHost
from pe_plan.cli.options import node_settings
from pe_plan.cli.run import backend_runner
from pe_plan.cli.session import Session
from pe_plan.errors import RolledBackError
from pe_plan.journal import Journal
from pe_plan.model import FrrInstance
from pe_plan.plan import Action, Plan, Summary
from pe_plan.state_lock import StateLock
from tests.conftest import REPO
from tests.faults import (
    CLI_TIMEOUT,
    FAULTS,
    FailAt,
    cli,
    cli_process,
    command_args,
    difference,
    fail_once,
    kill_at_step,
    leftovers,
    picture,
    planned_steps,
    run_in_process,
    stop_after,
)
from tests.integration.conftest import HostNode, frr_daemons, ip
from tests.reliability.report import ReliabilityReport

pytestmark = [pytest.mark.netns, pytest.mark.frr]

STRETCH = REPO / "examples" / "l2-stretch"
TWO_VNIS = REPO / "tests" / "data" / "l2-two-vnis"


def fail_every_write(
    node: HostNode,
    config: Path | None,
    fault_at: Callable[[int], FailAt],
    record: Callable[[Sequence[str]], None],
) -> tuple[int, list[str]]:
    """Run the plan once per write, failing that write; returns the writes and the problems.

    Each injected failure goes to ``record`` (the reliability report) with its problems.
    """
    before = picture(node)
    problems: list[str] = []
    for k in itertools.count(1):
        fault = fault_at(k)
        outcome = fail_once(node, config, fault, before)
        if outcome is None:
            assert fault.writes == k - 1, "the plan completed without its k-th write"
            return k - 1, problems
        record(outcome.problems)
        problems += outcome.problems
        if not outcome.rolled_back:
            return k, problems
    raise AssertionError  # unreachable: itertools.count never ends


# -- the lifecycle ----------------------------------------------------------------------


def test_apply_noop_grow_shrink_and_destroy_leave_the_node_as_it_was(host_node: HostNode) -> None:
    node = host_node
    empty = picture(node)
    assert empty.frr is None
    assert set(empty.kernel) == {"host"}

    status, text = cli("apply", "-f", str(STRETCH), *node.node_args, "--auto-approve")
    assert status == 0, text
    assert "Apply complete! " in text
    status, text = cli("plan", "-f", str(STRETCH), *node.node_args, "--detailed-exitcode")
    assert (status, text) == (0, "No changes. The node matches the configuration.\n")
    applied = picture(node)
    assert applied.frr is not None
    assert "neighbor 192.168.11.2 remote-as 64512" in applied.frr
    assert "vni210" in applied.kernel["router"]["links"]
    status, text = cli("apply", "-f", str(STRETCH), *node.node_args, "--auto-approve")
    assert (status, text) == (0, "No changes. The node matches the configuration.\n")
    assert picture(node) == applied

    status, text = cli("apply", "-f", str(TWO_VNIS), *node.node_args, "--auto-approve")
    assert status == 0, text
    status, text = cli("plan", "-f", str(TWO_VNIS), *node.node_args, "--detailed-exitcode")
    assert status == 0, text
    grown = picture(node)
    assert {"vni211", "br-pe-211", "pe-211"} <= set(grown.kernel["router"]["links"])
    assert "neighbor 192.168.11.4 remote-as 64512" in (grown.frr or "")

    ip("-n", node.router_ns, "link", "set", "toswitch", "mtu", "1400")
    status, text = cli("apply", "-f", str(STRETCH), *node.node_args, "--auto-approve")
    assert status == 0, text
    shrunk = picture(node)
    assert "vni211" not in shrunk.kernel["router"]["links"]
    assert shrunk.kernel["router"]["links"]["pe-210"]["mtu"] == 1350
    assert shrunk.kernel["host"]["links"]["host-210"]["mtu"] == 1350
    assert "192.168.11.4" not in (shrunk.frr or "")
    ip("-n", node.router_ns, "link", "set", "toswitch", "mtu", "1500")
    status, text = cli("apply", "-f", str(STRETCH), *node.node_args, "--auto-approve")
    assert status == 0, text
    status, text = cli("plan", "-f", str(STRETCH), *node.node_args, "--detailed-exitcode")
    assert status == 0, text

    status, text = cli("destroy", *node.node_args, "--auto-approve")
    assert status == 0, text
    destroyed = picture(node)
    assert destroyed.kernel == empty.kernel, difference(empty, destroyed)
    assert destroyed.frr is None
    assert not frr_daemons(node.router_ns)
    assert not leftovers(node)
    assert json.loads(node.state.read_bytes())["resources"] == []


# -- a failure at every write -----------------------------------------------------------


def _from_empty(_: HostNode) -> Path | None:
    return STRETCH


def _destroy(node: HostNode) -> Path | None:
    run_in_process(node, STRETCH)
    return None


def _grow(node: HostNode) -> Path | None:
    run_in_process(node, STRETCH)
    return TWO_VNIS


def _shrink(node: HostNode) -> Path | None:
    run_in_process(node, TWO_VNIS)
    ip("-n", node.router_ns, "link", "set", "toswitch", "mtu", "1400")
    return STRETCH


SCENARIOS = {"apply": _from_empty, "destroy": _destroy, "grow": _grow, "shrink": _shrink}


@pytest.mark.parametrize("when", sorted(FAULTS))
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_failure_at_any_write_is_rolled_back(
    reliability_report: ReliabilityReport, host_node: HostNode, scenario: str, when: str
) -> None:
    config = SCENARIOS[scenario](host_node)
    record = reliability_report.record_fault
    writes, problems = fail_every_write(host_node, config, FAULTS[when], record)
    print(f"{scenario}: {writes} writes, each failed ({when})")
    assert not problems, "\n".join(problems)
    assert writes >= 5


# -- SIGKILL, then recover --------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["apply", "destroy"])
def test_sigkill_at_any_step_is_rolled_back_by_recover(
    reliability_report: ReliabilityReport, host_node: HostNode, scenario: str
) -> None:
    node = host_node
    config = SCENARIOS[scenario](node)
    steps = planned_steps(node, config)
    before = picture(node)
    problems: list[str] = []
    for k in range(1, steps + 1):
        outcome = kill_at_step(
            node,
            config,
            k,
            steps=steps,
            before=before,
            plan_config=STRETCH,
            restore=STRETCH if config is None else None,
        )
        reliability_report.record_crash_point(outcome.problems)
        problems += outcome.problems
        if not outcome.rolled_back:
            break
    print(f"{scenario}: killed after each of its {steps} steps")
    assert not problems, "\n".join(problems)


def test_recover_forward_keeps_what_was_done_and_finishes_at_any_step(
    reliability_report: ReliabilityReport, host_node: HostNode
) -> None:
    node = host_node
    empty = picture(node)
    steps = planned_steps(node, STRETCH)
    problems: list[str] = []
    for k in range(1, steps + 1):
        found = len(problems)
        stop_after(cli_process(*command_args(node, STRETCH)), k, signal.SIGKILL)
        status, text = cli(
            "recover", "--forward", "-f", str(STRETCH), *node.node_args, "--auto-approve"
        )
        if status != 0:
            problems.append(f"step {k}: recover --forward failed: {text}")
            reliability_report.record_crash_point(problems[found:])
            break
        status, text = cli("plan", "-f", str(STRETCH), *node.node_args, "--detailed-exitcode")
        if status != 0:
            problems.append(f"step {k}: the node is not as configured:\n{text}")
        owned = {r["address"] for r in json.loads(node.state.read_bytes())["resources"]}
        if len(owned) != steps - 1:  # every step but the FRR config makes one object
            problems.append(f"step {k}: the state owns {sorted(owned)}")
        run_in_process(node, None)
        now = picture(node)
        if now.kernel != empty.kernel or now.frr is not None:
            problems.append(f"step {k}: destroy left:\n{difference(empty, now)}")
        problems += [f"step {k}: left {item}" for item in leftovers(node)]
        reliability_report.record_crash_point(problems[found:])
    print(f"recover --forward: killed after each of {steps} steps")
    assert not problems, "\n".join(problems)


def test_every_command_refuses_while_a_journal_is_pending(host_node: HostNode) -> None:
    node = host_node
    before = picture(node)
    stop_after(cli_process(*command_args(node, STRETCH)), 3, signal.SIGKILL)
    assert node.journal.exists()
    for args in (
        ["plan", "-f", str(STRETCH)],
        ["apply", "-f", str(STRETCH), "--auto-approve"],
        ["destroy", "--auto-approve"],
    ):
        status, text = cli(*args, *node.node_args)
        assert status == 1, text
        assert "Error: an interrupted `pe-plan apply` (pid " in text
        assert f"left the journal {node.journal} with " in text
        assert "Hint: run `pe-plan recover` with the same node and state options" in text
    with StateLock.acquire(node.state, "a test holding the lock"):
        status, text = cli("recover", *node.node_args)
    assert status == 1
    assert "is locked by pid" in text
    assert "(a test holding the lock)" in text
    assert node.journal.exists()
    status, text = cli("recover", *node.node_args)
    assert status == 0, text
    assert text.startswith("Rolled back the interrupted `pe-plan apply` (pid ")
    assert "  delete namespace " + node.router_ns in text
    assert picture(node) == before
    assert not leftovers(node)
    status, text = cli("recover", *node.node_args)
    assert (status, text) == (0, f"Nothing to recover: there is no journal {node.journal}.\n")


def test_a_recover_that_cannot_undo_everything_keeps_the_journal(
    host_node: HostNode, tmp_path: Path
) -> None:
    node = host_node
    before = picture(node)
    stop_after(cli_process(*command_args(node, STRETCH)), 10, signal.SIGKILL)
    kept = tmp_path / "snapshot"
    shutil.move(node.snapshot, kept)
    status, text = cli("recover", *node.node_args)
    assert status == 1
    assert "could not undo 3 of the " in text
    assert f"  restore the FRR running config: cannot read the FRR snapshot {node.snapshot}" in text
    assert f"  stop FRR {node.router_ns}: not run, because an undo step failed" in text
    assert f"  delete namespace {node.router_ns}: not run, because an undo step failed" in text
    assert f"Hint: the journal {node.journal} is kept" in text
    assert node.journal.exists()
    shutil.move(kept, node.snapshot)
    status, text = cli("recover", *node.node_args)
    assert status == 0, text
    assert picture(node) == before
    assert not leftovers(node)


# -- SIGTERM and SIGINT -----------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_apply_is_rolled_back_by_the_process(
    host_node: HostNode, signum: signal.Signals
) -> None:
    node = host_node
    before = picture(node)
    steps = planned_steps(node, STRETCH)
    for k in (1, steps // 2, steps - 1):
        status, output = stop_after(cli_process(*command_args(node, STRETCH)), k, signum)
        assert status == 3, output
        assert f"interrupted ({signum.name})" in output
        assert "Traceback" not in output
        assert "rolled back: " in output
        assert picture(node) == before
        assert not leftovers(node)


# -- the state cannot be written --------------------------------------------------------


def test_a_state_saved_elsewhere_keeps_the_node(host_node: HostNode) -> None:
    node = host_node
    run_in_process(node, STRETCH)
    backup = node.state.with_name(node.state.name + ".backup")
    backup.mkdir()  # the state's backup cannot be written: so the state is not written
    before = node.state.read_bytes()
    status, text = cli("apply", "-f", str(TWO_VNIS), *node.node_args, "--auto-approve")
    errored = node.state.with_name(node.state.name + ".errored")
    assert status == 1, text
    assert "Error: the node was changed and verified, but could not write state" in text
    assert f"the new state was saved to {errored}" in text
    assert f"`cp {errored} {node.state}`" in text
    assert node.state.read_bytes() == before
    assert not leftovers(node)
    shutil.copyfile(errored, node.state)
    status, text = cli("plan", "-f", str(TWO_VNIS), *node.node_args, "--detailed-exitcode")
    assert status == 0, text


def test_a_state_saved_nowhere_rolls_the_apply_back(host_node: HostNode, tmp_path: Path) -> None:
    node = host_node
    run_in_process(node, STRETCH)
    before = picture(node)
    elsewhere = tmp_path / "elsewhere"
    for directory in (node.state.parent, elsewhere):
        (directory / f"{node.state.name}.errored").mkdir(parents=True)
    node.state.with_name(node.state.name + ".backup").mkdir()
    process = subprocess.run(
        [sys.executable, "-m", "pe_plan", *command_args(node, TWO_VNIS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=elsewhere,  # the last place a state is saved to: made unwritable too
        env={**os.environ, "TMPDIR": str(elsewhere)},
        timeout=CLI_TIMEOUT,
    )
    assert process.returncode == 3, process.stderr
    assert "apply failed at recording the state: could not write state" in process.stderr
    assert "rolled back: " in process.stderr
    assert "the new state follows" not in process.stderr
    assert picture(node) == before
    assert not leftovers(node)


# -- an FRR restart ---------------------------------------------------------------------


def restart_frr(node: HostNode, fault: FailAt) -> None:
    """Execute a plan that changes the FRR instance's daemons to zebra, bgpd and staticd."""
    old = FrrInstance(pathspace=node.router_ns)
    new = FrrInstance(pathspace=node.router_ns, daemons=("zebra", "bgpd", "staticd"))
    step = Action(action="update", address=old.address, reason="test", before=old, after=new)
    plan = Plan(
        actions=(step,),
        drift=(),
        frr=(),
        summary=Summary(add=0, change=1, destroy=0),
        watched=(old.address,),
    )
    with Session(node_settings(None, node.node_file), node.state, "apply") as session:
        journal = Journal.begin(
            session.journal,
            "apply",
            session.node.name,
            router_namespace=node.router_ns,
            state_serial=None,
        )
        executor = Executor(
            fault.wrap(backend_runner(session)),
            journal,
            router_ns=node.router_ns,
            frr_secrets=lambda delta: delta,
            on_step=lambda _: None,
        )
        executor.run(plan, {}, verify=lambda: None, record=lambda: None)


def test_another_set_of_daemons_restarts_frr_with_its_config(host_node: HostNode) -> None:
    node = host_node
    run_in_process(node, STRETCH)
    before = picture(node)
    # The writes: stop the daemons, start the new ones, give them the config back.
    with pytest.raises(RolledBackError, match="write 3 fails after it was made"):
        restart_frr(node, FailAt(3, after=True))
    assert picture(node) == before
    assert daemon_names(node) == ["bfdd", "bgpd", "staticd", "zebra"]
    assert not leftovers(node)
    restart_frr(node, FailAt(4, after=False))
    assert daemon_names(node) == ["bgpd", "staticd", "zebra"]
    assert picture(node).frr == before.frr
    assert not leftovers(node)


def daemon_names(node: HostNode) -> list[str]:
    host = LocalHost()
    return sorted(Path((host.cmdline(p) or ("",))[0]).name for p in frr_daemons(node.router_ns))

"""A signal during apply is never lost, even where Python drops the exception it raised.

Python runs at-fork callbacks (the logging module registers one) around every ``os.fork``
(refresh forks to read a namespace, pyroute2 to make one) and drops any exception raised
in them: the SIGTERM handler's exception would vanish there and the apply would go on to
its end. The executor raises it again at its next step, and keeps the dropped one from
being printed as a traceback.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from pe_plan.apply import Executor, StepDone
from pe_plan.errors import RolledBackError
from pe_plan.frr_diff import FrrDelta
from pe_plan.journal import Journal
from pe_plan.model import Link, Netns, NodeState, Object
from pe_plan.operations import CreateNetns, DeleteNetns, Operation
from pe_plan.plan import make_plan

_armed: list[bool] = []


def _signal_inside_the_fork_callback() -> None:
    if _armed:
        _armed.clear()
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # the handler runs at one of these bytecodes, not after
            pass


os.register_at_fork(after_in_parent=_signal_inside_the_fork_callback)


class ForkingRunner:
    """Forks for the namespace step, with SIGTERM arriving during the fork's callbacks."""

    def __init__(self) -> None:
        self.sent: list[Operation] = []

    def run(self, operation: Operation) -> None:
        self.sent.append(operation)
        if isinstance(operation, CreateNetns):
            _armed.append(True)
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)

    def apply_frr(self, delta: FrrDelta) -> None:  # noqa: ARG002 - the Runner signature
        raise AssertionError("no FRR in this plan")

    def frr_snapshot(self) -> str:
        raise AssertionError("no FRR in this plan")


def test_a_signal_dropped_by_python_still_rolls_the_apply_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    netns = Netns(name="perouter")
    bridge = Link(namespace="host", name="br-hs-100", kind="bridge", up=True)
    objects: dict[str, Object] = {netns.address: netns, bridge.address: bridge}
    empty = NodeState(objects={})
    plan = make_plan(NodeState(objects=objects), empty, empty, frr_delta=None)
    journal = Journal.begin(
        tmp_path / "state.json.journal",
        "apply",
        "node0",
        router_namespace="perouter",
        state_serial=None,
    )
    runner = ForkingRunner()
    done: list[StepDone] = []
    executor = Executor(
        runner, journal, router_ns="perouter", frr_secrets=lambda d: d, on_step=done.append
    )
    with pytest.raises(RolledBackError, match=r"interrupted \(SIGTERM\)"):
        executor.run(plan, {}, verify=lambda: None, record=lambda: None)
    # The namespace step ran, the bridge step never did, and the namespace went again.
    assert runner.sent == [CreateNetns("perouter"), DeleteNetns("perouter")]
    assert [step.address for step in done] == [netns.address]
    assert "Traceback" not in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

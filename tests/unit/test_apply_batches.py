"""The executor sends runs of independent kernel steps in batches, journal first.

A fake batching runner stands in for the netlink backend: writes made inside ``batch()``
are held and "sent" when the block ends, as ``NetlinkBackend.batch`` does, so the tests can
look at the journal at the moment a batch goes out and make a batch fail there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pe_plan.apply import BATCH_STEPS, Executor, StepDone
from pe_plan.errors import BackendError, RolledBackError
from pe_plan.frr_diff import FrrDelta
from pe_plan.journal import Journal, read_journal
from pe_plan.model import Address, Link, Netns, NodeState, Object
from pe_plan.operations import (
    AddAddress,
    CreateLink,
    CreateNetns,
    DeleteAddress,
    DeleteLink,
    DeleteNetns,
    Operation,
)
from pe_plan.plan import make_plan


class BatchingRunner:
    """Records what is sent, and when: alone or as a batch (``fail``: the batch fails)."""

    def __init__(self, journal: Path, *, fail: bool = False) -> None:
        self.journal = journal
        self.fail = fail
        self.sent: list[list[Operation]] = []
        self.journaled_when_sent: list[int] = []
        self._held: list[Operation] | None = None

    def run(self, operation: Operation) -> None:
        if self._held is not None:
            self._held.append(operation)
        else:
            self._send([operation])

    @contextmanager
    def batch(self) -> Iterator[None]:
        self._held = []
        try:
            yield
        finally:
            held, self._held = self._held, None
        self._send(held)
        if self.fail:
            raise BackendError("cannot create bridge br-hs-102: File exists")

    def apply_frr(self, delta: FrrDelta) -> None:  # noqa: ARG002 - the Runner signature
        raise AssertionError("no FRR in these plans")

    def frr_snapshot(self) -> str:
        raise AssertionError("no FRR in these plans")

    def _send(self, operations: list[Operation]) -> None:
        self.sent.append(operations)
        self.journaled_when_sent.append(len(read_journal(self.journal).entries))


def host_bridges(count: int) -> dict[str, Object]:
    """A namespace (a step of its own) and ``count`` host bridges with an address each."""
    objects: dict[str, Object] = {}
    netns = Netns(name="perouter")
    objects[netns.address] = netns
    for n in range(count):
        bridge = Link(namespace="host", name=f"br-hs-{100 + n}", kind="bridge", up=True)
        address = Address(namespace="host", link=bridge.name, cidr=f"10.0.{n}.1/24")
        objects[bridge.address] = bridge
        objects[address.address] = address
    return objects


def execute(tmp_path: Path, runner: BatchingRunner, objects: dict[str, Object]) -> list[str]:
    """Apply the plan that creates ``objects``; the addresses of the progress lines."""
    journal = Journal.begin(
        runner.journal, "apply", "node0", router_namespace="perouter", state_serial=None
    )
    empty = NodeState(objects={})
    plan = make_plan(NodeState(objects=objects), empty, empty, frr_delta=None)
    done: list[StepDone] = []
    executor = Executor(
        runner, journal, router_ns="perouter", frr_secrets=lambda d: d, on_step=done.append
    )
    executor.run(plan, {}, verify=lambda: None, record=lambda: None)
    return [step.address for step in done]


@pytest.fixture
def runner(tmp_path: Path) -> BatchingRunner:
    return BatchingRunner(tmp_path / "state.json.journal")


def test_independent_steps_go_in_one_batch_after_all_their_undos(
    tmp_path: Path, runner: BatchingRunner
) -> None:
    objects = host_bridges(3)
    progress = execute(tmp_path, runner, objects)
    # The namespace on its own, then the bridges and their addresses together.
    assert runner.sent[0] == [CreateNetns("perouter")]
    assert sorted(map(repr, runner.sent[1])) == sorted(
        repr(CreateLink(o)) if isinstance(o, Link) else repr(AddAddress(o))
        for o in objects.values()
        if isinstance(o, Link | Address)
    )
    assert runner.journaled_when_sent == [1, 7]
    assert sorted(progress) == sorted(objects)


def test_batches_are_cut_at_the_limit(tmp_path: Path, runner: BatchingRunner) -> None:
    execute(tmp_path, runner, host_bridges(BATCH_STEPS))
    assert [len(batch) for batch in runner.sent] == [1, BATCH_STEPS, BATCH_STEPS]


def test_a_failed_batch_undoes_every_step_of_it(tmp_path: Path, runner: BatchingRunner) -> None:
    runner.fail = True
    with pytest.raises(RolledBackError, match="or one of the 5 steps sent with it"):
        execute(tmp_path, runner, host_bridges(3))
    undone = [operation for batch in runner.sent[2:] for operation in batch]
    created = [CreateNetns("perouter"), *runner.sent[1]]
    assert undone == [_undo(operation) for operation in reversed(created)]


def _undo(operation: Operation) -> Operation:
    match operation:
        case CreateNetns(name=name):
            return DeleteNetns(name)
        case CreateLink(link=link):
            return DeleteLink(link.namespace, link.name)
        case AddAddress(address=address):
            return DeleteAddress(address)
    raise AssertionError(operation)

"""A damaged state file is refused by plan, apply and destroy, and never overwritten.

The state is the seed's golden state file, cut short at any point (hypothesis) or edited by
hand in the ways that happen: a newer format, a field or resource pe-plan does not know, a
resource recorded twice or whose attributes name another object, another node's state,
JSON nested beyond reason, not JSON at all. Each verb must exit 1 with ``Error: state ...``
before it looks at the node, and leave the file byte for byte as it was, with no backup,
journal, lock or temp file beside it. The node file names namespaces that do not exist, so
nothing here needs root; the intact file shows that the refusals come from the damage. A
saved plan file nested beyond reason must be refused as cleanly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO
from tests.reliability.cli import Ended, in_process, judge
from tests.reliability.report import Outcome, ReliabilityReport

GOLDEN = (REPO / "tests" / "golden" / "state" / "seed" / "state.json").read_bytes()
CONFIG = REPO / "examples" / "layer2"


def verbs(node_file: Path, state: Path) -> dict[str, list[str]]:
    node = ["--node-file", str(node_file), "--state", str(state)]
    return {
        "plan": ["plan", "-f", str(CONFIG), *node],
        "apply": ["apply", "-f", str(CONFIG), *node, "--auto-approve"],
        "destroy": ["destroy", *node, "--auto-approve"],
    }


@pytest.fixture
def node_file(tmp_path: Path) -> Path:
    """The golden state's node (pe-kind-worker, index 1), in namespaces that do not exist."""
    path = tmp_path / "node.yaml"
    path.write_text(
        "nodeIndex: {index: 1}\nnodeName: pe-kind-worker\n"
        "routerNamespace: rel-absent-router\nhostNamespace: rel-absent-host\n"
    )
    return path


def run_on_state(node_file: Path, data: bytes, verb: str) -> tuple[Ended, list[str]]:
    """Run ``verb`` with ``data`` as the state; how it ended, and what it changed."""
    directory = node_file.parent / f"state-{verb}"
    directory.mkdir(exist_ok=True)
    for stale in directory.iterdir():
        stale.unlink()
    state = directory / "state.json"
    state.write_bytes(data)
    ended = in_process(verbs(node_file, state)[verb])
    changed = [] if state.read_bytes() == data else [f"{state} was rewritten"]
    changed += [f"file {p}" for p in directory.iterdir() if p != state]
    return ended, changed


def assert_refused(ended: Ended, changed: list[str], state_file: Path) -> None:
    outcome, wrong = judge(ended, [state_file])
    assert (outcome, wrong) == (Outcome.REJECTED, []), ended.stderr
    assert ended.stderr.startswith("Error: state "), ended.stderr
    assert "pe-plan will not overwrite" in ended.stderr or "belongs to node" in ended.stderr
    assert changed == []


def edited(change: Callable[[dict[str, Any]], object]) -> bytes:
    state = json.loads(GOLDEN)
    change(state)
    return json.dumps(state, indent=2).encode()


def first_resource(state: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = state["resources"][0]
    return resource


EDITS: dict[str, Callable[[], bytes]] = {
    "newer-format": lambda: edited(lambda s: s.update(format_version=2)),
    "unknown-field": lambda: edited(lambda s: s.update(workspace="prod")),
    "serial-as-text": lambda: edited(lambda s: s.update(serial="7")),
    "unknown-resource-type": lambda: edited(lambda s: first_resource(s).update(type="tunnel")),
    "unknown-attribute": lambda: edited(lambda s: first_resource(s)["attributes"].update(x=1)),
    "resource-twice": lambda: edited(lambda s: s["resources"].append(s["resources"][0])),
    "address-disagrees": lambda: edited(
        lambda s: first_resource(s).update(address=first_resource(s)["address"] + "x")
    ),
    "another-node": lambda: edited(lambda s: s["node"].update(name="someone-else")),
    "deeply-nested": lambda: GOLDEN.replace(b"{", b'{"deep": ' + b"[" * 100_000, 1),
    "yaml-not-json": lambda: b"format_version: 1\nserial: 3\n",
    "json-array": lambda: b"[1, 2, 3]\n",
    "trailing-garbage": lambda: GOLDEN + b"}\n",
    "byte-order-mark": lambda: b"\xef\xbb\xbf" + GOLDEN,
    "binary-garbage": lambda: bytes(range(256)) * 4,
    "empty": lambda: b"",
}


def test_the_intact_state_is_read(node_file: Path) -> None:
    """The control: the golden state is accepted; plan then fails on the missing namespace."""
    ended, changed = run_on_state(node_file, GOLDEN, "plan")
    assert ended.status == 1
    assert not ended.stderr.startswith("Error: state "), ended.stderr
    assert changed == []


@pytest.mark.parametrize("verb", ["plan", "apply", "destroy"])
@pytest.mark.parametrize("edit", list(EDITS))
def test_a_hand_edited_state_is_refused_and_kept(
    reliability_report: ReliabilityReport, node_file: Path, edit: str, verb: str
) -> None:
    ended, changed = run_on_state(node_file, EDITS[edit](), verb)
    reliability_report.record_fault(changed)
    assert_refused(ended, changed, node_file.parent / f"state-{verb}" / "state.json")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    length=st.integers(0, len(GOLDEN.rstrip()) - 1),
    verb=st.sampled_from(["plan", "apply", "destroy"]),
)
def test_a_truncated_state_is_refused_and_kept(
    reliability_report: ReliabilityReport, node_file: Path, length: int, verb: str
) -> None:
    ended, changed = run_on_state(node_file, GOLDEN[:length], verb)
    reliability_report.record_fuzz(judge(ended, [])[0])
    assert_refused(ended, changed, node_file.parent / f"state-{verb}" / "state.json")


@pytest.mark.parametrize("verb", ["apply", "show"])
def test_a_deeply_nested_plan_file_is_refused_cleanly(
    reliability_report: ReliabilityReport, tmp_path: Path, verb: str
) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_bytes(b'{"format_version": 1, "plan": ' + b"[" * 100_000)
    ended = in_process([verb, str(plan_file)])
    outcome, wrong = judge(ended, [plan_file])
    reliability_report.record_fuzz(outcome)
    assert (outcome, wrong) == (Outcome.REJECTED, [])

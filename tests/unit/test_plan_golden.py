"""Plan golden tests: one folder per scenario under ``tests/golden/plan/``.

Inputs: ``desired.json``, ``observed.json`` and ``state.json`` (msgspec-encoded node states;
the state one holds what pe-plan recorded, with its dependencies), optionally
``frr_running.conf`` and ``frr_desired.conf`` (public FRR texts) and ``options.json``
(``destroy``, ``targets``). Outputs: ``plan.txt`` and ``plan.json``, or ``error.txt`` when
the plan is refused. Every plan is also checked to reach the desired state when simulated,
and to plan to nothing from there.

The ``example-<name>`` folders hold only outputs: the first plan of node 0 of
``examples/<name>`` on a fresh node, its desired state built by the real stages (load,
validate, derive, render FRR, desired), so that a change anywhere in them shows here.
"""

from __future__ import annotations

import msgspec
import pytest

from pe_plan.derive import derive
from pe_plan.desired import NodeFacts, build_desired
from pe_plan.errors import PlanError
from pe_plan.frr_diff import diff_frr
from pe_plan.frr_render import render_frr
from pe_plan.load import load_paths
from pe_plan.model import Link, NodeState, link_address
from pe_plan.plan import Plan, make_plan, matches, simulate
from pe_plan.plan_render import render_json, render_text
from pe_plan.validate import load_node_file, validate
from tests.conftest import REPO
from tests.golden_support import Golden

GOLDEN = REPO / "tests" / "golden" / "plan"
CASES = sorted(path.name for path in GOLDEN.iterdir() if (path / "desired.json").exists())
EXAMPLES = sorted(path.name for path in (REPO / "examples").iterdir() if path.is_dir())


class Options(msgspec.Struct, frozen=True):
    destroy: bool = False
    targets: tuple[str, ...] = ()


class Case(msgspec.Struct, frozen=True):
    desired: NodeState
    observed: NodeState
    recorded: NodeState
    options: Options
    frr_running: str | None
    frr_desired: str | None


def load_case(name: str) -> Case:
    folder = GOLDEN / name

    def state(file: str) -> NodeState:
        return msgspec.json.decode((folder / file).read_bytes(), type=NodeState)

    def text(file: str) -> str | None:
        path = folder / file
        return path.read_text() if path.exists() else None

    options_path = folder / "options.json"
    options = (
        msgspec.json.decode(options_path.read_bytes(), type=Options)
        if options_path.exists()
        else Options()
    )
    return Case(
        desired=state("desired.json"),
        observed=state("observed.json"),
        recorded=state("state.json"),
        options=options,
        frr_running=text("frr_running.conf"),
        frr_desired=text("frr_desired.conf"),
    )


def plan_case(case: Case) -> Plan:
    delta = None
    if case.frr_running is not None and case.frr_desired is not None:
        delta = diff_frr(case.frr_running, case.frr_desired)
    return make_plan(
        case.desired,
        case.observed,
        case.recorded,
        frr_delta=delta,
        destroy=case.options.destroy,
        targets=case.options.targets,
    )


@pytest.mark.parametrize("name", CASES)
def test_plan_matches_golden(name: str, golden: Golden) -> None:
    case = load_case(name)
    folder = GOLDEN / name
    try:
        plan = plan_case(case)
    except PlanError as exc:
        golden.check(folder / "error.txt", f"Error: {exc.message}\nHint: {exc.hint}\n")
        return
    golden.check(folder / "plan.txt", render_text(plan))
    golden.check(folder / "plan.json", render_json(plan))


@pytest.mark.parametrize("name", CASES)
def test_simulated_plan_reaches_the_desired_state(name: str) -> None:
    case = load_case(name)
    if (GOLDEN / name / "error.txt").exists() or case.options.targets:
        pytest.skip("a refused or targeted plan does not reach the whole desired state")
    plan = plan_case(case)
    after = simulate(case.observed.objects, plan)
    wanted = {} if case.options.destroy else case.desired.objects
    for address, want in wanted.items():
        assert matches(want, after.get(address)), address
    for address in case.recorded.objects.keys() - wanted.keys():
        assert address not in after, address
    again = make_plan(
        case.desired,
        NodeState(objects=after),
        NodeState(objects=dict(wanted), depends_on=case.desired.depends_on),
        frr_delta=None,
        destroy=case.options.destroy,
    )
    assert again.actions == ()
    assert again.drift == ()


def test_no_secret_reaches_the_password_plan() -> None:
    case = load_case("password-change")
    plan = plan_case(case)
    outputs = render_text(plan) + render_json(plan)
    assert "s3cret" not in outputs
    assert "sensitive:" not in outputs  # not even the digests
    assert "password (sensitive)" in outputs


def example_desired(name: str) -> NodeState:
    folder = REPO / "examples" / name
    config = validate(load_paths([folder / "openpe.yaml"]))
    settings = load_node_file(folder / "nodes" / "node0.yaml")
    assert settings.index is not None
    derived = derive(config, settings.index)
    # A fixed salt keeps the secret digests, and so the golden files, stable.
    frr = render_frr(config, derived, hostname="node0", secret_salt="golden")
    return build_desired(config, settings, derived, NodeFacts(), frr)


def fresh_node(desired: NodeState) -> NodeState:
    """A node before pe-plan: only the host namespace, with the underlay NICs in it."""
    nics = [o for o in desired.objects.values() if isinstance(o, Link) and o.moved_from]
    return NodeState(
        objects={
            link_address("host", nic.name): Link(
                namespace="host", name=nic.name, kind="device", up=True, mtu=1500
            )
            for nic in nics
        }
    )


@pytest.mark.parametrize("name", EXAMPLES)
def test_first_plan_of_each_example_matches_golden(name: str, golden: Golden) -> None:
    desired = example_desired(name)
    observed = fresh_node(desired)
    assert desired.frr is not None
    plan = make_plan(
        desired,
        observed,
        NodeState(objects={}),
        frr_delta=diff_frr("", desired.frr.public),
    )
    folder = GOLDEN / f"example-{name}"
    golden.check(folder / "plan.txt", render_text(plan))
    golden.check(folder / "plan.json", render_json(plan))
    after = simulate(observed.objects, plan)
    again = make_plan(desired, NodeState(objects=after), desired, frr_delta=None)
    assert again.empty

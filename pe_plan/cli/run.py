"""What ``apply`` and ``destroy`` share: approval, the transaction, verification, the state.

The sequence is nmstate's: show the plan, get approval, open the journal, execute, verify
by refreshing and re-planning to zero, record the new state, and only then remove the
journal. A failure at any point before the state is written leaves the node as it was (the
executor undoes it) and the state untouched; a state that cannot be written but is saved
elsewhere keeps the node, which matches it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

import click
import msgspec

from pe_plan.apply import BackendRunner, Executor, Runner, StepDone
from pe_plan.backends.frr import ManagedFrr
from pe_plan.cli.session import Prepared, Session
from pe_plan.config import Config
from pe_plan.errors import PePlanError
from pe_plan.frr_diff import FrrDelta, diff_frr
from pe_plan.journal import Journal
from pe_plan.model import NodeState, Object
from pe_plan.plan import Action, Plan, make_plan
from pe_plan.plan_render import render_text
from pe_plan.state import State, adopted_addresses, build_outputs, new_state, record

APPROVE_ENV = "PE_PLAN_AUTO_APPROVE"


class VerificationError(PePlanError):
    """After apply, the node still differs from the configuration."""


def approve(question: str, *, auto_approve: bool) -> None:
    """Terraform's rule: only ``yes`` proceeds; no terminal and no approval is an error."""
    if auto_approve or os.environ.get(APPROVE_ENV) == "1":
        return
    if not sys.stdin.isatty():
        raise PePlanError(
            "approval needed but there is no terminal to ask on",
            hint=f"review the plan, then pass --auto-approve (or set {APPROVE_ENV}=1)",
        )
    click.echo(f"\n{question}\n  Only 'yes' will be accepted to approve.\n")
    answer = click.prompt("  Enter a value", default="", show_default=False)
    if answer.strip() != "yes":
        raise PePlanError("cancelled: the answer was not 'yes'; nothing was changed")


def backend_runner(session: Session) -> BackendRunner:
    """The runner of every write to the node: its kernel, its FRR and, when managed, its daemons."""
    managed = session.managed
    if managed is None:
        return BackendRunner(session.kernel, session.vtysh, None)

    def daemons(pathspace: str, names: tuple[str, ...]) -> ManagedFrr:
        return ManagedFrr(
            managed.host, namespace=managed.namespace, pathspace=pathspace, daemons=names
        )

    return BackendRunner(session.kernel, session.vtysh, daemons, managed)


def current_state(session: Session, state: State | None, salt: str) -> State:
    """The state to derive the next one from: the recorded one, or a new one for the node."""
    return state or msgspec.structs.replace(new_state(session.node), secret_salt=salt)


def owned_after(recorded: Mapping[str, Object], plan: Plan) -> dict[str, Object]:
    """What pe-plan owns once ``plan`` has run: created and updated in, deleted out."""
    owned = dict(recorded)
    for step in plan.actions:
        if not isinstance(step, Action):
            continue
        if step.action == "delete":
            owned.pop(step.address, None)
        elif step.after is not None:
            owned[step.address] = step.after
    return owned


def execute(
    session: Session,
    config: Config,
    prepared: Prepared,
    plan: Plan,
    *,
    command: str,
    on_step: Callable[[StepDone], None],
    wrap_runner: Callable[[Runner], Runner] = lambda runner: runner,
) -> int:
    """Run ``plan`` transactionally and record the result; returns the number of steps."""
    desired = prepared.desired
    owned = owned_after(prepared.recorded.objects, plan)
    # An object keeps the dependencies it was recorded with until the config names new ones.
    depends_on = {
        a: desired.depends_on.get(a, prepared.recorded.depends_on.get(a, ())) for a in owned
    }

    def with_secrets(delta: FrrDelta) -> FrrDelta:
        return delta.reveal(desired.frr.text, prepared.salt) if desired.frr else delta

    def verify() -> None:
        observed = session.observe(prepared.salt)
        running = observed.frr.public if observed.frr else ""
        # A managed FRR that the plan stopped has no config left to compare.
        frr_gone = observed.frr is None and session.managed is not None and plan.destroy
        again = make_plan(
            desired,
            observed,
            NodeState(objects=owned, depends_on=depends_on),
            frr_delta=None
            if frr_gone or not desired.frr
            else diff_frr(running, desired.frr.public),
            destroy=plan.destroy,
            targets=plan.targets,
        )
        if not again.empty:
            raise VerificationError(
                "the node does not match the configuration after apply; still to do:\n"
                + render_text(again)
            )

    def write_state() -> None:
        prior = current_state(session, prepared.state, prepared.salt)
        applied = NodeState(
            objects=owned, depends_on=depends_on, frr=desired.frr if owned else None
        )
        session.state_file.write(
            record(
                prior,
                applied,
                node=session.node,
                inputs_digest=prepared.inputs_digest,
                outputs=build_outputs(config) if owned else {},
                adopted=[a for a in adopted_addresses(prior) if a in owned],
            )
        )

    journal = Journal.begin(
        session.journal,
        command,
        session.node.name,
        router_namespace=session.settings.router_namespace,
        state_serial=prepared.state.serial if prepared.state else None,
    )
    executor = Executor(
        # wrap_runner lets fault-injection tests fail or stop a chosen write.
        wrap_runner(backend_runner(session)),
        journal,
        router_ns=session.settings.router_namespace,
        frr_secrets=with_secrets,
        on_step=on_step,
    )
    executor.run(plan, prepared.observed.objects, verify, write_state)
    return len(plan.actions)

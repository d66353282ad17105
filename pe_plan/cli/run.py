"""What ``apply`` and ``destroy`` share: approval, the transaction, verification, the state.

The sequence is nmstate's: show the plan, get approval, open the journal, execute, verify
by refreshing and re-planning to zero, and only then record the new state. A failure at
any point before the state is written leaves the node as it was (the executor undoes it)
and the state untouched.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

import click
import msgspec

from pe_plan.apply import BackendRunner, Executor, Runner, StepDone
from pe_plan.cli.session import Prepared, Session
from pe_plan.config import Config
from pe_plan.errors import PePlanError
from pe_plan.frr_diff import FrrDelta, diff_frr
from pe_plan.journal import Journal
from pe_plan.model import NodeState, Object
from pe_plan.plan import Action, Plan, make_plan
from pe_plan.plan_render import render_text
from pe_plan.state import adopted_addresses, build_outputs, new_state, record

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

    journal = Journal.begin(session.journal, command, session.node.name)
    managed = session.managed
    # wrap_runner lets fault-injection tests fail or stop a chosen write.
    runner = wrap_runner(
        BackendRunner(
            session.kernel, session.vtysh, (lambda _: managed) if managed is not None else None
        )
    )
    executor = Executor(
        runner,
        journal,
        router_ns=session.settings.router_namespace,
        frr_secrets=with_secrets,
        on_step=on_step,
    )
    executor.run(plan, prepared.observed.objects, verify)
    prior = prepared.state or msgspec.structs.replace(
        new_state(session.node), secret_salt=prepared.salt
    )
    applied = NodeState(objects=owned, depends_on=depends_on, frr=desired.frr if owned else None)
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
    journal.finish()
    return len(plan.actions)

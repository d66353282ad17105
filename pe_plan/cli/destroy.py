"""``pe-plan destroy``: remove everything pe-plan owns on this node, in reverse order."""

from __future__ import annotations

from pathlib import Path

import click

from pe_plan.cli.apply import plan_approved, progress, report
from pe_plan.cli.options import (
    approve_option,
    json_option,
    no_color_option,
    node_options,
    node_settings,
    state_option,
)
from pe_plan.cli.run import execute
from pe_plan.cli.session import Session, prepare
from pe_plan.config import Config


@click.command()
@node_options
@state_option
@approve_option
@json_option
@no_color_option
def destroy(
    node_index: int | None,
    node_file: Path | None,
    state_path: Path,
    auto_approve: bool,
    as_json: bool,
    no_color: bool,
) -> None:
    """Remove every object the state says pe-plan owns.

    The underlay NIC goes back to the host namespace with its addresses, the router
    namespace and the managed FRR instance go last. Same approval, journal and rollback
    as apply. Objects pe-plan does not own are never touched.
    """
    settings = node_settings(node_index, node_file)
    with Session(settings, state_path, "destroy") as session:
        prepared = prepare(session, Config(), destroy=True)
        plan = prepared.plan
        if not plan_approved(
            plan,
            "Do you really want to destroy everything pe-plan owns here?",
            as_json=as_json,
            no_color=no_color,
            auto_approve=auto_approve,
        ):
            return
        steps = execute(
            session, Config(), prepared, plan, command="destroy", on_step=progress(as_json)
        )
    report(as_json, f"Destroy complete! {steps} steps.")

"""``pe-plan apply``: plan (or take a saved plan), approve, execute, verify, record."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click
import msgspec

from pe_plan.apply import StepDone
from pe_plan.cli.options import (
    approve_option,
    color_wanted,
    json_option,
    no_color_option,
    node_options,
    node_settings,
    optional_config_option,
    read_config,
    state_option,
)
from pe_plan.cli.run import approve, execute
from pe_plan.cli.session import Session, prepare
from pe_plan.errors import InputError
from pe_plan.plan import Plan
from pe_plan.plan_render import render_text
from pe_plan.planfile import check_fresh, read_plan


@click.command()
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@optional_config_option(
    "A YAML file or a directory of them (repeatable); a saved plan names its own."
)
@node_options
@state_option
@approve_option
@json_option
@no_color_option
def apply(
    plan_file: Path | None,
    configs: tuple[Path, ...],
    node_index: int | None,
    node_file: Path | None,
    state_path: Path,
    auto_approve: bool,
    as_json: bool,
    no_color: bool,
) -> None:
    """Make the node match the configuration, or leave it exactly as it was.

    Without PLAN_FILE it plans, shows the plan and asks for 'yes'. With a plan saved by
    `pe-plan plan --out` it applies that plan without asking, unless the state or the node
    changed since it was made. Any failure rolls everything back (exit status 3).
    """
    saved = read_plan(plan_file) if plan_file is not None else None
    if saved is not None:
        configs = configs or tuple(Path(p) for p in saved.configs)
        node_file = node_file or (Path(saved.node_file) if saved.node_file else None)
        node_index = saved.node.index if node_index is None else node_index
    if not configs:
        raise InputError("apply needs -f CONFIG (or a saved plan)")
    config = read_config(configs)
    settings = node_settings(node_index, node_file)
    with Session(settings, state_path, "apply") as session:
        prepared = prepare(session, config)
        if saved is not None:
            state = prepared.state
            check_fresh(
                saved,
                lineage=state.lineage if state else None,
                serial=state.serial if state else None,
                observed=prepared.observed,
                inputs_digest=prepared.inputs_digest,
                node=session.node,
            )
            plan = saved.plan
        else:
            plan = prepared.plan
            if not plan_approved(
                plan,
                "Do you want to perform these actions?",
                as_json=as_json,
                no_color=no_color,
                auto_approve=auto_approve,
            ):
                return
        steps = execute(session, config, prepared, plan, command="apply", on_step=progress(as_json))
    report(as_json, f"Apply complete! {steps} steps; the state is in {state_path}.")


def plan_approved(
    plan: Plan, question: str, *, as_json: bool, no_color: bool, auto_approve: bool
) -> bool:
    """Show the plan (unless JSON is wanted) and ask; False when there is nothing to do."""
    if not as_json:
        click.echo(render_text(plan, color=color_wanted(sys.stdout.isatty(), no_color)), nl=False)
    if plan.empty:
        return False
    approve(question, auto_approve=auto_approve)
    return True


def progress(as_json: bool) -> Callable[[StepDone], None]:
    """One line per completed step: text on stderr, or a JSON event on stdout."""

    def emit(step: StepDone) -> None:
        if as_json:
            event = {"type": "step", **msgspec.to_builtins(step)}
            click.echo(msgspec.json.encode(event).decode())
        else:
            click.echo(step.line(), err=True)

    return emit


def report(as_json: bool, message: str) -> None:
    if as_json:
        click.echo(msgspec.json.encode({"type": "done", "message": message}).decode())
    else:
        click.echo(message, err=True)

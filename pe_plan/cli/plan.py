"""``pe-plan plan``: refresh, derive, desired, plan; show it, and optionally save it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pe_plan.cli.options import (
    color_wanted,
    config_option,
    json_option,
    no_color_option,
    node_options,
    node_settings,
    read_config,
    state_option,
)
from pe_plan.cli.session import Session, prepare
from pe_plan.errors import EXIT_CHANGES, EXIT_OK
from pe_plan.plan_render import render_json, render_text
from pe_plan.planfile import bind_plan, write_plan


@click.command()
@config_option
@node_options
@state_option
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Save the plan.")
@json_option
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there is nothing to do, 2 when there are changes, 1 on error.",
)
@click.option("--destroy", is_flag=True, help="Plan the removal of everything pe-plan owns.")
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ADDRESS",
    help="Plan only this object (and what it needs); repeatable.",
)
@no_color_option
def plan(
    configs: tuple[Path, ...],
    node_index: int | None,
    node_file: Path | None,
    state_path: Path,
    out: Path | None,
    as_json: bool,
    detailed_exitcode: bool,
    destroy: bool,
    targets: tuple[str, ...],
    no_color: bool,
) -> int:
    """Show what apply would change on this node, changing nothing.

    Objects changed outside pe-plan since the last apply are listed first; then every
    action in the order apply runs it. With --out the plan is saved for `pe-plan apply
    FILE`, which refuses it once the state or the node has changed.
    """
    config = read_config(configs)
    settings = node_settings(node_index, node_file)
    with Session(settings, state_path, "plan") as session:
        prepared = prepare(session, config, destroy=destroy, targets=targets)
    result = prepared.plan
    if as_json:
        click.echo(render_json(result), nl=False)
    else:
        click.echo(render_text(result, color=color_wanted(sys.stdout.isatty(), no_color)), nl=False)
    if out is not None:
        state = prepared.state
        write_plan(
            out,
            bind_plan(
                result,
                observed=prepared.observed,
                lineage=state.lineage if state else None,
                serial=state.serial if state else None,
                inputs_digest=prepared.inputs_digest,
                node=session.node,
                configs=tuple(str(path) for path in configs),
                node_file=str(node_file) if node_file else None,
            ),
        )
        click.echo(f"\nSaved the plan to {out}. Apply it with: pe-plan apply {out}", err=True)
    if detailed_exitcode and not result.empty:
        return EXIT_CHANGES
    return EXIT_OK

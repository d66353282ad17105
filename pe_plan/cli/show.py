"""``pe-plan show``: a state file, a saved plan, or the desired state of a node."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import click
import msgspec

from pe_plan.cli.options import json_option, node_options, node_settings, read_config
from pe_plan.describe import render_objects
from pe_plan.desired import NodeFacts, desired_node
from pe_plan.errors import InputError
from pe_plan.plan_render import render_json, render_text
from pe_plan.planfile import read_plan
from pe_plan.secrets import for_display
from pe_plan.state import DEFAULT_STATE_PATH, StateFile, render_state_json, render_state_text


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--desired", is_flag=True, help="Show what this node must have (offline).")
@click.option("-f", "--config", "configs", multiple=True, type=click.Path(path_type=Path))
@node_options
@click.option(
    "--underlay-mtu",
    type=click.IntRange(min=1280),
    default=1500,
    show_default=True,
    help="With --desired: MTU of the underlay NIC (plan and apply read it from the node).",
)
@json_option
def show(
    path: Path | None,
    desired: bool,
    configs: tuple[Path, ...],
    node_index: int | None,
    node_file: Path | None,
    underlay_mtu: int,
    as_json: bool,
) -> None:
    """Show a state file (default ./pe-plan.state.json), a saved plan, or --desired.

    A state shows its resources grouped by namespace, the FRR config and the outputs (the
    Multus NetworkAttachmentDefinition of each L2VNI). --desired -f CONFIG --node-index N
    shows what a node must have, computed offline. Secrets are never shown.
    """
    if desired:
        if path is not None:
            raise click.UsageError("give either --desired or a PATH, not both")
        show_desired(configs, node_index, node_file, underlay_mtu, as_json=as_json)
        return
    target = path or DEFAULT_STATE_PATH
    if is_plan_file(target):
        saved = read_plan(target)
        click.echo(render_json(saved.plan) if as_json else render_text(saved.plan), nl=False)
        return
    state = StateFile(target).read()
    if state is None:
        raise InputError(
            f"{target}: no such state file",
            hint="apply creates it; give the path with `pe-plan show PATH`",
        )
    click.echo(render_state_json(state) if as_json else render_state_text(state), nl=False)


def is_plan_file(path: Path) -> bool:
    """Plan files carry a ``plan`` key at the top; state files do not."""
    try:
        top = msgspec.json.decode(path.read_bytes(), type=dict[str, Any])
    except (OSError, msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return False  # let the state reader report what is wrong with it
    return "plan" in top


def show_desired(
    configs: tuple[Path, ...],
    node_index: int | None,
    node_file: Path | None,
    underlay_mtu: int,
    *,
    as_json: bool,
) -> None:
    """derive → desired, offline: the objects grouped by namespace, then the FRR config."""
    if not configs:
        raise click.UsageError("--desired needs -f CONFIG")
    config = read_config(configs)
    settings = node_settings(node_index, node_file)
    if settings.index is None:
        raise InputError(
            "the node index is not known offline",
            hint="pass --node-index N (the node file names an interface to read it from)",
        )
    state = desired_node(
        config,
        settings,
        settings.index,
        NodeFacts(underlay_mtu=underlay_mtu),
        hostname=settings.node_name or socket.gethostname(),
        # A throwaway salt: digest markers are shown as "(sensitive)" anyway.
        secret_salt=os.urandom(16).hex(),
    )
    if as_json:
        payload = {
            "objects": state.objects,
            "depends_on": state.depends_on,
            "frr": for_display(state.frr.public) if state.frr else None,
        }
        click.echo(msgspec.json.format(msgspec.json.encode(payload, order="sorted"), indent=2))
        return
    click.echo(render_objects(state.objects.values(), settings.router_namespace), nl=False)
    if state.frr is not None:
        click.echo(f'\nFRR configuration (instance "{settings.pathspace}"):')
        click.echo(for_display(state.frr.public), nl=False)

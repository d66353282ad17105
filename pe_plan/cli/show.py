"""``pe-plan show``: the desired state of a node (``--desired``), or a state file."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import click
import msgspec

from pe_plan.cli.options import json_option, node_options, node_settings, read_config
from pe_plan.describe import render_objects
from pe_plan.desired import NodeFacts, desired_node
from pe_plan.errors import InputError
from pe_plan.secrets import for_display


@click.command()
@click.option("--desired", is_flag=True, help="Show what this node must have (offline).")
@click.option("-f", "--config", "configs", multiple=True, type=click.Path(path_type=Path))
@node_options
@click.option(
    "--underlay-mtu",
    type=click.IntRange(min=1280),
    default=1500,
    show_default=True,
    help="MTU of the underlay NIC (sizes the veths); read from the node by plan/apply.",
)
@json_option
def show(
    desired: bool,
    configs: tuple[Path, ...],
    node_index: int | None,
    node_file: Path | None,
    underlay_mtu: int,
    as_json: bool,
) -> None:
    """Show the desired state of a node (--desired -f CONFIG --node-index N).

    Objects are grouped by namespace, addresses under their link, then the FRR
    configuration. Secrets are never shown.
    """
    if not desired:
        raise click.UsageError("give --desired (showing a state file comes with refresh)")
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

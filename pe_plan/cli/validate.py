"""``pe-plan validate``: load and validate the config, and derive a node's values if asked."""

from __future__ import annotations

from pathlib import Path

import click

from pe_plan.cli.options import config_option, node_options, node_settings, read_config
from pe_plan.derive import derive


@click.command()
@config_option
@node_options
def validate(configs: tuple[Path, ...], node_index: int | None, node_file: Path | None) -> None:
    """Check the configuration; with a node identity, also that this node's addresses exist.

    Touches nothing on the system. Exits 1 and lists every problem with its file, line,
    resource and field.
    """
    config = read_config(configs)
    if node_index is not None or node_file is not None:
        settings = node_settings(node_index, node_file)
        if settings.index is not None:
            derive(config, settings.index)
    resources = len(config.l3vnis) + len(config.l2vnis) + (1 if config.underlay else 0)
    click.echo(f"The configuration is valid ({resources} resources).")

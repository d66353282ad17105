"""``pe-plan import ADDRESS``: adopt an object that already exists and matches the config."""

from __future__ import annotations

from pathlib import Path

import click
import msgspec

from pe_plan.cli.options import (
    config_option,
    node_options,
    node_settings,
    read_config,
    state_option,
)
from pe_plan.cli.run import current_state
from pe_plan.cli.session import Session, survey
from pe_plan.plan import check_import
from pe_plan.state import (
    adopted_addresses,
    depends_on_from_state,
    resources_from_state,
    resources_to_state,
)


@click.command(name="import")
@click.argument("address")
@config_option
@node_options
@state_option
def import_(
    address: str,
    configs: tuple[Path, ...],
    node_index: int | None,
    node_file: Path | None,
    state_path: Path,
) -> None:
    """Record an existing object (e.g. link.host.br-hs-110) as pe-plan's own.

    The object must be one the configuration wants and must already match it; from then on
    plan treats it as owned (updates it, and destroy deletes it). Nothing on the node
    changes.
    """
    config = read_config(configs)
    settings = node_settings(node_index, node_file)
    with Session(settings, state_path, "import") as session:
        prepared = survey(session, config)
        obj = check_import(address, prepared.desired, prepared.observed)
        state = current_state(session, prepared.state, prepared.salt)
        objects = {**resources_from_state(state), address: obj}
        depends_on = {
            **depends_on_from_state(state),
            address: prepared.desired.depends_on.get(address, ()),
        }
        adopted = [*adopted_addresses(state), address]
        session.state_file.write(
            msgspec.structs.replace(
                state, resources=resources_to_state(objects, depends_on, adopted)
            )
        )
    click.echo(f"Imported {address}: pe-plan now owns it.")

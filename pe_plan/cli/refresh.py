"""``pe-plan refresh``: what changed on the node since pe-plan last recorded it."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import click
import msgspec

from pe_plan.cli.options import (
    color_wanted,
    json_option,
    no_color_option,
    node_options,
    node_settings,
    state_option,
)
from pe_plan.cli.session import Session
from pe_plan.errors import EXIT_CHANGES, EXIT_OK
from pe_plan.model import Object
from pe_plan.plan import Drift, drift_of
from pe_plan.plan_render import render_drift
from pe_plan.state import (
    State,
    adopted_addresses,
    depends_on_from_state,
    resources_from_state,
    resources_to_state,
)


@click.command()
@node_options
@state_option
@click.option("--write", is_flag=True, help="Record what was found in the state file.")
@json_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when something drifted.")
@no_color_option
def refresh(
    node_index: int | None,
    node_file: Path | None,
    state_path: Path,
    write: bool,
    as_json: bool,
    detailed_exitcode: bool,
    no_color: bool,
) -> int:
    """Compare the objects in the state with the node: changed or deleted outside pe-plan.

    Objects pe-plan does not own are never reported. With --write the state records the
    node as found (an object deleted by hand is dropped from the state, a changed one
    keeps the values found); the node itself is not touched.
    """
    settings = node_settings(node_index, node_file)
    with Session(settings, state_path, "refresh") as session:
        state = session.read_state()
        session.refuse_if_interrupted(state)
        if state is None:
            click.echo(f"No state at {state_path}: pe-plan owns nothing on this node yet.")
            return EXIT_OK
        recorded = resources_from_state(state)
        drift = drift_of(recorded, session.observe(state.secret_salt).objects)
        if as_json:
            payload = msgspec.json.encode({"resource_drift": drift}, order="sorted")
            click.echo(msgspec.json.format(payload, indent=2).decode())
        else:
            color = color_wanted(sys.stdout.isatty(), no_color)
            click.echo(render_drift(drift, color=color), nl=False)
        if write and drift:
            session.state_file.write(refreshed(state, recorded, drift))
            click.echo(f"The state {state_path} now records the node as found.", err=True)
    return EXIT_CHANGES if detailed_exitcode and drift else EXIT_OK


# What names an object, or (moved_from, a NIC's kind "device") is pe-plan's own note about
# it: never taken from the node.
_IDENTITY = frozenset({"namespace", "name", "kind", "moved_from", "link", "cidr", "key"})


def refreshed(state: State, recorded: Mapping[str, Object], drift: tuple[Drift, ...]) -> State:
    """``state`` with drifted objects as found: deleted ones out, changed ones updated.

    Only the attributes pe-plan manages are taken from the node, so the state does not
    start owning attributes it never set.
    """
    objects = dict(recorded)
    for item in drift:
        if item.after is None:
            del objects[item.address]
            continue
        old = objects[item.address]
        managed = {
            name: getattr(item.after, name)
            for name in old.__struct_fields__
            if getattr(old, name) is not None and name not in _IDENTITY
        }
        objects[item.address] = msgspec.structs.replace(old, **managed)
    depends_on = {a: n for a, n in depends_on_from_state(state).items() if a in objects}
    adopted = [a for a in adopted_addresses(state) if a in objects]
    return msgspec.structs.replace(
        state, resources=resources_to_state(objects, depends_on, adopted)
    )

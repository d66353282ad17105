"""Options shared by several verbs, and the steps every verb starts with.

Reading the config and working out who this node is are the same for ``validate``,
``show``, ``plan``, ``apply`` and ``destroy``; they live here once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec

from pe_plan.config import Config, NodeSettings
from pe_plan.errors import InputError
from pe_plan.load import load_paths
from pe_plan.state import DEFAULT_STATE_PATH
from pe_plan.validate import load_node_file, validate

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    return click.option(
        "-f",
        "--config",
        "configs",
        multiple=True,
        required=True,
        type=click.Path(path_type=Path),
        help="A YAML file or a directory of them (repeatable).",
    )(func)


def optional_config_option(help_text: str) -> Callable[[F], F]:
    """``-f`` for the verbs that do not always need a config (``apply PLAN``, ``recover``)."""
    return click.option(
        "-f",
        "--config",
        "configs",
        multiple=True,
        type=click.Path(path_type=Path),
        help=help_text,
    )


def node_options(func: F) -> F:
    func = click.option(
        "--node-file",
        type=click.Path(path_type=Path),
        help="A node file: nodeIndex, nodeName, routerNamespace, frr.",
    )(func)
    return click.option(
        "--node-index",
        type=click.IntRange(min=0),
        help="This node's index (picks its VTEP IP, router-id and host IPs).",
    )(func)


def state_option(func: F) -> F:
    return click.option(
        "--state",
        "state_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=DEFAULT_STATE_PATH,
        show_default=True,
        help="The state file: what pe-plan owns on this node.",
    )(func)


def approve_option(func: F) -> F:
    return click.option(
        "--auto-approve", is_flag=True, help="Do not ask (PE_PLAN_AUTO_APPROVE=1 too)."
    )(func)


def no_color_option(func: F) -> F:
    return click.option(
        "--no-color", is_flag=True, help="No ANSI colours (NO_COLOR does the same)."
    )(func)


def color_wanted(stream_is_tty: bool, no_color: bool) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    return stream_is_tty and not no_color and "NO_COLOR" not in os.environ


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")(func)


def read_config(configs: tuple[Path, ...]) -> Config:
    """Load and validate: the first two stages of every verb."""
    return validate(load_paths(list(configs)))


def node_settings(node_index: int | None, node_file: Path | None) -> NodeSettings:
    """The node identity from ``--node-index`` or ``--node-file`` (the index wins)."""
    if node_file is not None:
        settings = load_node_file(node_file)
        if node_index is not None:
            settings = msgspec.structs.replace(
                settings, index=node_index, interface_name=None, cidr=None
            )
        return settings
    if node_index is None:
        raise InputError(
            "no node identity given",
            hint="pass --node-index N or --node-file FILE (see examples/layer2/nodes/node0.yaml)",
        )
    return NodeSettings(index=node_index)

"""Who sets up each node's router side in the lab: pe-plan, or the test-only manual stand-in.

The lab never configures a node's router itself: pe-plan does, run inside the node's host
namespace, exactly as an operator would run it on a node. :func:`pe_plan_argv` is the one
place that knows pe-plan's command line. :class:`ManualRouters` (in
:mod:`tests.lab.manual_router`) exists only to prove the harness and the topology while
pe-plan's apply is being built; it is selected with ``--router-setup=manual`` and never by
default.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol

from tests.lab.shell import Completed, Shell
from tests.lab.topology import Node

APPLY_TIMEOUT = 300.0


def pe_plan_argv(verb: str, *, config: Path, node_file: Path, state: Path) -> list[str]:
    """The pe-plan command line for ``verb`` (plan, apply, destroy) on one node.

    pe-plan runs under the interpreter that runs the lab (the project's venv), wherever the
    repository is. ``plan`` gets the state too: without it the objects a previous apply
    created would look like clashing objects pe-plan does not own.
    """
    pe_plan = [sys.executable, "-m", "pe_plan"]
    node = ["--node-file", str(node_file), "--state", str(state)]
    if verb == "plan":
        return [*pe_plan, "plan", "-f", str(config), *node]
    if verb == "apply":
        return [*pe_plan, "apply", "-f", str(config), *node, "--auto-approve"]
    if verb == "destroy":
        return [*pe_plan, "destroy", *node, "--auto-approve"]
    raise ValueError(f"unknown pe-plan verb {verb!r}")


def node_file_text(node: Node) -> str:
    """The node file: its index, and a router namespace of its own (netns names are global).

    ``hostNamespace`` names the node's host namespace: pe-plan runs in the guest's root
    namespace and treats that one as the host. Run under ``ip netns exec``, the router
    namespace it creates would be named only inside that command's mount namespace.
    """
    return (
        f"nodeIndex:\n  index: {node.index}\n"
        f"nodeName: {node.host_ns}\n"
        f"routerNamespace: {node.router_ns}\n"
        f"hostNamespace: {node.host_ns}\n"
    )


class RouterSetup(Protocol):
    """Sets up, re-plans and removes the router side of one node."""

    name: str

    def apply(self, node: Node) -> Completed: ...

    def plan(self, node: Node, config: Path | None = None) -> Completed | None:
        """A plan of ``config`` (default: the lab's) against the node, None when unsupported."""

    def destroy(self, node: Node) -> Completed: ...


class PePlanRouters:
    """The real thing: pe-plan run for each node, its host namespace named in the node file."""

    name = "pe-plan"

    def __init__(self, shell: Shell, config: Path, work: Path) -> None:
        self._shell = shell
        self.config = config
        self._work = work

    def node_file(self, node: Node) -> Path:
        path = self._work / f"{node.host_ns}.node.yaml"
        if not path.exists():
            path.write_text(node_file_text(node))
        return path

    def state(self, node: Node) -> Path:
        return self._work / f"{node.host_ns}.state.json"

    def apply(self, node: Node, config: Path | None = None) -> Completed:
        return self._run(node, "apply", config)

    def plan(self, node: Node, config: Path | None = None) -> Completed:
        return self._run(node, "plan", config)

    def destroy(self, node: Node) -> Completed:
        return self._run(node, "destroy", None)

    def _run(self, node: Node, verb: str, config: Path | None) -> Completed:
        argv = pe_plan_argv(
            verb,
            config=config or self.config,
            node_file=self.node_file(node),
            state=self.state(node),
        )
        return self._shell.run(argv, check=False, timeout=APPLY_TIMEOUT)

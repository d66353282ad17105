"""Fault injection and crash tools shared by the host-kernel tests and the lab.

The integration tests (``tests/integration/test_apply.py``, on the host kernel without
VRFs) and the lab's faults scenario (``tests/lab/faults.py``, inside User-Mode Linux with
the seed's VRF) break pe-plan the same way and judge the node the same way. A node is
anything with the :class:`Node` attributes: two namespace names, a node file and a state
path.

* :func:`picture`: the node as a rollback must give it back. The backend's own dump of both
  namespaces (every link attribute it reads, the addresses, the router sysctls),
  ``ip -d -j link show`` of both, FRR's running config and the state file's bytes; left out
  is only what the kernel changes by itself (ifindexes and the namespace ids that hold them,
  carrier, bridge timers and port numbers, IPv6 link-locals). :func:`leftovers`: what no
  finished command may leave (journal, FRR snapshot, lock, temporary state files, and FRR's
  daemons and run directory once the router namespace is gone).
* pe-plan in this process (:func:`run_in_process`, with a wrapper around the runner of its
  writes; :func:`cli`), or as a process of its own (:func:`cli_process`) that
  :func:`stop_after` signals once it reported a number of steps.
* :class:`FailAt` and :class:`FailInBatch`: a runner that fails its k-th write;
  :func:`fail_once` runs a plan with one and judges the rollback, :func:`kill_at_step`
  SIGKILLs a command after step k and judges ``pe-plan recover``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import msgspec
from click.testing import CliRunner
from deepdiff import DeepDiff

from pe_plan import cli as pe_plan_cli
from pe_plan.apply import BatchingRunner, Runner
from pe_plan.backends.dump import LinkRecord, NamespaceDump
from pe_plan.backends.frr import RUN_DIR, LocalHost, Vtysh
from pe_plan.backends.netlink import NETNS_DIR, NetlinkBackend
from pe_plan.cli.options import node_settings, read_config
from pe_plan.cli.run import execute
from pe_plan.cli.session import Session, prepare
from pe_plan.config import Config
from pe_plan.desired import ROUTER_SYSCTLS
from pe_plan.errors import PePlanError, RolledBackError
from pe_plan.frr_diff import FrrDelta
from pe_plan.journal import journal_path, snapshot_path
from pe_plan.model import ROLES, Role
from pe_plan.operations import Operation
from pe_plan.state_lock import lock_path
from tests.conftest import REPO
from tests.integration.conftest import frr_daemons, ip

CLI_TIMEOUT = 300.0
# IFF_RUNNING, IFF_LOWER_UP, IFF_DORMANT: carrier, which follows a moment after a link is
# (re)made; the kernel's link watch does not report it at once.
CARRIER_FLAGS = 0x40 | 0x10000 | 0x20000
IP_CARRIER_FLAGS = {"LOWER_UP", "NO-CARRIER"}
# ifindexes and namespace ids are handed out anew when a link is made again, and operstate
# is carrier again.
IP_VOLATILE = {"ifindex", "link_index", "link_netnsid", "operstate"}
# A bridge numbers its ports in the order they join; an undo re-adds them newest first.
IP_PORT_NUMBERING = {"id", "no", "designated_port", "state"}


class Node(Protocol):
    """A node pe-plan is run on: the host namespace it plays in, the router namespace it
    makes, the node file naming both, and the state path."""

    @property
    def host_ns(self) -> str: ...

    @property
    def router_ns(self) -> str: ...

    @property
    def node_file(self) -> Path: ...

    @property
    def state(self) -> Path: ...


def node_args(node: Node) -> tuple[str, ...]:
    return ("--node-file", str(node.node_file), "--state", str(node.state))


# -- pictures of the node ---------------------------------------------------------------


class Picture(msgspec.Struct, frozen=True):
    """The node as a test compares it (see the module docstring)."""

    kernel: dict[str, Any]
    frr: str | None
    state: bytes | None


def picture(node: Node) -> Picture:
    with NetlinkBackend(router_netns=node.router_ns, host_netns=node.host_ns) as kernel:
        dumps = {role: kernel.dump(role, ROUTER_SYSCTLS) for role in ROLES}
    names = {role: {link.index: link.name for link in d.links} for role, d in dumps.items() if d}
    kernel_picture: dict[str, Any] = {}
    for role, found in dumps.items():
        if found is None:
            continue
        namespace = node.host_ns if role == "host" else node.router_ns
        kernel_picture[role] = {
            "links": {link.name: _link(link, role, found, names) for link in found.links},
            "addresses": sorted(
                f"{names[role][a.index]} {a.address}/{a.prefixlen} scope {a.scope} flags {a.flags}"
                for a in found.addresses
                if not a.ipv6_link_local  # made by the kernel when the link gets carrier
            ),
            "sysctls": found.sysctls,
            "ip": _ip_links(namespace),
        }
    vtysh = Vtysh(LocalHost(), pathspace=node.router_ns)
    return Picture(
        kernel=kernel_picture,
        frr=vtysh.running_config() if vtysh.reachable() else None,
        state=node.state.read_bytes() if node.state.exists() else None,
    )


def _link(
    link: LinkRecord, role: Role, dump: NamespaceDump, names: dict[Role, dict[int, str]]
) -> dict[str, Any]:
    """A link record with names for the ifindexes and namespace ids it holds."""
    record: dict[str, Any] = msgspec.to_builtins(link)
    del record["index"]
    record["flags"] = link.flags & ~CARRIER_FLAGS
    if link.master is not None:
        record["master"] = names[role][link.master]
    if link.link is not None:
        peer_role = dump.nsids.get(link.link_netnsid) if link.link_netnsid is not None else role
        # A peer in a namespace pe-plan does not know (the NIC's far end) keeps its number.
        record["link"] = names[peer_role][link.link] if peer_role in names else link.link
    if link.link_netnsid is not None:
        record["link_netnsid"] = dump.nsids.get(link.link_netnsid, link.link_netnsid)
    if link.vxlan is not None and link.vxlan.link is not None:
        record["vxlan"]["link"] = names[role][link.vxlan.link]
    return record


def _ip_links(namespace: str) -> dict[str, Any]:
    links: dict[str, Any] = {}
    for link in json.loads(ip("-n", namespace, "-d", "-j", "link", "show")):
        kept = {key: value for key, value in link.items() if key not in IP_VOLATILE}
        kept["flags"] = [flag for flag in link["flags"] if flag not in IP_CARRIER_FLAGS]
        info = kept.get("linkinfo", {})
        for part, dropped in (("info_data", set()), ("info_slave_data", IP_PORT_NUMBERING)):
            if part in info:
                info[part] = {
                    key: value
                    for key, value in info[part].items()
                    if not key.endswith("_timer") and key not in dropped
                }
        links[kept.pop("ifname")] = kept
    return links


def difference(before: Picture, after: Picture) -> str:
    changed = DeepDiff(msgspec.to_builtins(before), msgspec.to_builtins(after), view="text")
    return changed.pretty() or "(equal)"


def leftovers(node: Node) -> list[str]:
    """What no finished command may leave: journal, FRR snapshot, lock, temp files, FRR."""
    journal = journal_path(node.state)
    files = (journal, snapshot_path(journal), lock_path(node.state))
    found = [str(path) for path in files if path.exists()]
    found += [str(path) for path in node.state.parent.glob(f".{node.state.name}.*.tmp")]
    if not (NETNS_DIR / node.router_ns).exists():
        found += [f"FRR daemon {pid}" for pid in frr_daemons(node.router_ns)]
        found += [str(RUN_DIR / node.router_ns)] if (RUN_DIR / node.router_ns).exists() else []
    return found


# -- running pe-plan --------------------------------------------------------------------


def run_in_process(
    node: Node,
    config: Path | None,
    wrap: Callable[[Runner], Runner] = lambda runner: runner,
) -> int:
    """``apply -f config`` (``destroy`` when None) as the CLI runs it, with ``wrap`` around
    the runner of the writes."""
    wanted = _wanted(config)
    command = "apply" if config is not None else "destroy"
    with Session(node_settings(None, node.node_file), node.state, command) as session:
        prepared = prepare(session, wanted, destroy=config is None)
        return execute(
            session,
            wanted,
            prepared,
            prepared.plan,
            command=command,
            on_step=lambda _: None,
            wrap_runner=wrap,
        )


def planned_steps(node: Node, config: Path | None) -> int:
    with Session(node_settings(None, node.node_file), node.state, "plan") as session:
        return len(prepare(session, _wanted(config), destroy=config is None).plan.actions)


def _wanted(config: Path | None) -> Config:
    return read_config((config,)) if config is not None else Config()


def cli(*args: str) -> tuple[int, str]:
    """``pe-plan ARGS`` in this process: exit status, and stdout and stderr together."""
    with CliRunner().isolation() as (out, err, _):
        status = pe_plan_cli.run(list(args))
    return status, out.getvalue().decode() + err.getvalue().decode()


def cli_process(*args: str) -> subprocess.Popen[str]:
    """``pe-plan ARGS`` as a process of its own (to be killed or signalled)."""
    return subprocess.Popen(
        [sys.executable, "-m", "pe_plan", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def command_args(node: Node, config: Path | None) -> list[str]:
    verb = ["apply", "-f", str(config)] if config is not None else ["destroy"]
    return [*verb, *node_args(node), "--auto-approve", "--json"]


def stop_after(process: subprocess.Popen[str], steps: int, signum: int) -> tuple[int, str]:
    """Send ``signum`` once ``steps`` step events were read (or never, if it ends first).

    Returns the exit status and the steps seen, as JSON lines, then stderr.
    """
    assert process.stdout is not None
    seen = 0
    lines = []
    for line in process.stdout:
        lines.append(line)
        if json.loads(line)["type"] == "step":
            seen += 1
        if seen == steps:
            process.send_signal(signum)
            break
    out, err = process.communicate(timeout=CLI_TIMEOUT)
    return process.wait(), "".join(lines) + out + err


# -- faults -----------------------------------------------------------------------------


class InjectedFaultError(RuntimeError):
    pass


class FailAt:
    """A runner that fails its ``k``-th write (an operation or an FRR change).

    Before the write is made, or (``after``) once it is made, as when the kernel did the
    change but the answer got lost.
    """

    def __init__(self, k: int, *, after: bool) -> None:
        self.k = k
        self.after = after
        self.writes = 0
        self.inner: Runner | None = None

    def wrap(self, inner: Runner) -> Runner:
        self.inner = inner
        return self

    def run(self, operation: Operation) -> None:
        self._write(lambda runner: runner.run(operation))

    def apply_frr(self, delta: FrrDelta) -> None:
        self._write(lambda runner: runner.apply_frr(delta))

    def frr_snapshot(self) -> str:
        assert self.inner is not None
        return self.inner.frr_snapshot()

    def _write(self, write: Callable[[Runner], None]) -> None:
        assert self.inner is not None
        self.writes += 1
        if self.writes == self.k and not self.after:
            raise InjectedFaultError(f"write {self.k} fails before it is made")
        write(self.inner)
        if self.writes == self.k and self.after:
            raise InjectedFaultError(f"write {self.k} fails after it was made")


class FailInBatch(FailAt):
    """:class:`FailAt` that lets the executor send runs of writes together, as it does with
    the real runner: the run of the failing write is then not sent at all, though all its
    undo steps are journaled."""

    def batch(self) -> AbstractContextManager[object]:
        assert isinstance(self.inner, BatchingRunner)
        return self.inner.batch()


FAULTS: dict[str, Callable[[int], FailAt]] = {
    "before": lambda k: FailAt(k, after=False),
    "after": lambda k: FailAt(k, after=True),
    "in-batch": lambda k: FailInBatch(k, after=False),
}


class Outcome(NamedTuple):
    """How one run with a fault ended: what is wrong (nothing: empty), and whether it was
    rolled back (False: the node is in doubt, going on would judge the last run again)."""

    problems: list[str]
    rolled_back: bool


def fail_once(node: Node, config: Path | None, fault: FailAt, before: Picture) -> Outcome | None:
    """Apply ``config`` (destroy when None) with ``fault``, then compare the node with
    ``before``; None when the plan completed without reaching the fault's write."""
    k = fault.k
    try:
        run_in_process(node, config, fault.wrap)
    except RolledBackError as err:
        problems = []
        if err.exit_code != 3 or f"write {k} fails" not in err.message:
            problems.append(f"write {k}: unexpected error {err.exit_code}: {err.message}")
    except PePlanError as err:
        return Outcome([f"write {k}: not rolled back: {err.message}"], rolled_back=False)
    else:
        return None
    now = picture(node)
    if now != before:
        problems.append(f"write {k}: the node differs:\n{difference(before, now)}")
    problems += [f"write {k}: left {item}" for item in leftovers(node)]
    return Outcome(problems, rolled_back=True)


def kill_at_step(
    node: Node,
    config: Path | None,
    k: int,
    *,
    steps: int,
    before: Picture,
    plan_config: Path,
    restore: Path | None,
) -> Outcome:
    """SIGKILL ``apply -f config`` (``destroy`` when None) after its k-th step event, check
    that ``plan -f plan_config`` refuses, run ``recover`` and compare the node with ``before``.

    Killed after it wrote the state, the command had nothing left to undo: the node must
    match that state, and is then taken back to ``before`` by applying ``restore``
    (destroying when None). ``rolled_back`` is False when recover failed.
    """
    command = "apply" if config is not None else "destroy"
    status, output = stop_after(cli_process(*command_args(node, config)), k, signal.SIGKILL)
    if status != -signal.SIGKILL:
        return Outcome([f"step {k}: not killed (exit {status}):\n{output}"], rolled_back=False)
    problems = []
    status, text = cli("plan", "-f", str(plan_config), *node_args(node))
    if status != 1 or f"interrupted `pe-plan {command}`" not in text:
        problems.append(f"step {k}: plan did not refuse: {text}")
    status, text = cli("recover", *node_args(node))
    if status != 0:
        return Outcome([*problems, f"step {k}: recover failed: {text}"], rolled_back=False)
    if "had completed" in text:
        if k != steps:
            problems.append(f"step {k}: the {command} completed before the last step")
        status, text = cli("plan", "-f", str(plan_config), *node_args(node), "--detailed-exitcode")
        if status != (0 if config is not None else 2):
            problems.append(f"step {k}: the node does not match the state: {text}")
        run_in_process(node, restore)
    now = picture(node)
    if now != before:
        problems.append(f"step {k}: the node differs:\n{difference(before, now)}")
    problems += [f"step {k}: left {item}" for item in leftovers(node)]
    return Outcome(problems, rolled_back=True)

"""Apply, destroy and recover on the host kernel, with the real backends and a real FRR.

The scenarios are examples/l2-stretch and tests/data/l2-two-vnis (the same grown by a
neighbor and an L2VNI) on a throwaway node (``conftest.host_node``). A node is judged by a
picture of it: the backend's own dump of both namespaces (every link attribute it reads,
the addresses, the router sysctls), ``ip -d -j link show`` of both, FRR's running config
and the state file's bytes; left out is only what the kernel changes by itself (ifindexes
and the namespace ids that hold them, carrier, bridge timers and port numbers, IPv6
link-locals).

* the lifecycle: apply, re-plan to zero, a no-op apply, growing, shrinking together with an
  MTU change of the NIC, and destroy back to the exact node from before;
* a failure at every write of four plans (apply from empty, destroy, grow, shrink), before
  or after the write is made, or in a run of writes sent together: each is rolled back to
  the picture from before (exit status 3), with no journal left;
* SIGKILL after every step of the apply and of the destroy, then ``pe-plan recover``;
  ``recover --forward`` after every step of the apply; SIGTERM and SIGINT, which the
  process rolls back itself; a recover that cannot undo everything; a state that cannot be
  written; an FRR restart with another set of daemons.

The write counts and kill points are printed (``pytest -rP`` shows them).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner
from deepdiff import DeepDiff

from pe_plan import cli as pe_plan_cli
from pe_plan.apply import BatchingRunner, Executor, Runner
from pe_plan.backends.dump import LinkRecord, NamespaceDump
from pe_plan.backends.frr import RUN_DIR, LocalHost, Vtysh
from pe_plan.backends.netlink import NetlinkBackend
from pe_plan.cli.options import node_settings, read_config
from pe_plan.cli.run import backend_runner, execute
from pe_plan.cli.session import Session, prepare
from pe_plan.config import Config
from pe_plan.desired import ROUTER_SYSCTLS
from pe_plan.errors import PePlanError, RolledBackError
from pe_plan.frr_diff import FrrDelta
from pe_plan.journal import Journal
from pe_plan.model import ROLES, FrrInstance, Role
from pe_plan.operations import Operation
from pe_plan.plan import Action, Plan, Summary
from pe_plan.state_lock import StateLock
from tests.conftest import REPO
from tests.integration.conftest import HostNode, frr_daemons, ip

pytestmark = [pytest.mark.netns, pytest.mark.frr]

STRETCH = REPO / "examples" / "l2-stretch"
TWO_VNIS = REPO / "tests" / "data" / "l2-two-vnis"
CLI_TIMEOUT = 120.0
NETNS_DIR = Path("/var/run/netns")
# IFF_RUNNING, IFF_LOWER_UP, IFF_DORMANT: carrier, which follows a moment after a link is
# (re)made; the kernel's link watch does not report it at once.
CARRIER_FLAGS = 0x40 | 0x10000 | 0x20000
IP_CARRIER_FLAGS = {"LOWER_UP", "NO-CARRIER"}
# ifindexes and namespace ids are handed out anew when a link is made again, and operstate
# is carrier again.
IP_VOLATILE = {"ifindex", "link_index", "link_netnsid", "operstate"}
# A bridge numbers its ports in the order they join; an undo re-adds them newest first.
IP_PORT_NUMBERING = {"id", "no", "designated_port", "state"}


# -- pictures of the node ---------------------------------------------------------------


class Picture(msgspec.Struct, frozen=True):
    """The node as a test compares it (see the module docstring)."""

    kernel: dict[str, Any]
    frr: str | None
    state: bytes | None


def picture(node: HostNode) -> Picture:
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


def leftovers(node: HostNode) -> list[str]:
    """What no finished command may leave: journal, FRR snapshot, lock, temp files, FRR."""
    found = [str(path) for path in (node.journal, node.snapshot, node.lock) if path.exists()]
    found += [str(path) for path in node.state.parent.glob(f".{node.state.name}.*.tmp")]
    if not (NETNS_DIR / node.router_ns).exists():
        found += [f"FRR daemon {pid}" for pid in frr_daemons(node.router_ns)]
        found += [str(RUN_DIR / node.router_ns)] if (RUN_DIR / node.router_ns).exists() else []
    return found


# -- running pe-plan --------------------------------------------------------------------


def run_in_process(
    node: HostNode,
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


def planned_steps(node: HostNode, config: Path | None) -> int:
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


def command_args(node: HostNode, config: Path | None) -> list[str]:
    verb = ["apply", "-f", str(config)] if config is not None else ["destroy"]
    return [*verb, *node.node_args, "--auto-approve", "--json"]


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


def fail_every_write(
    node: HostNode, config: Path | None, fault_at: Callable[[int], FailAt]
) -> tuple[int, list[str]]:
    """Run the plan once per write, failing that write; returns the writes and the problems."""
    before = picture(node)
    problems: list[str] = []
    for k in itertools.count(1):
        fault = fault_at(k)
        try:
            run_in_process(node, config, fault.wrap)
        except RolledBackError as err:
            if err.exit_code != 3 or f"write {k} fails" not in err.message:
                problems.append(f"write {k}: unexpected error {err.exit_code}: {err.message}")
        except PePlanError as err:
            problems.append(f"write {k}: not rolled back: {err.message}")
            return k, problems
        else:
            assert fault.writes == k - 1, "the plan completed without its k-th write"
            return k - 1, problems
        now = picture(node)
        if now != before:
            problems.append(f"write {k}: the node differs:\n{difference(before, now)}")
        problems += [f"write {k}: left {item}" for item in leftovers(node)]
    raise AssertionError  # unreachable: itertools.count never ends


# -- the lifecycle ----------------------------------------------------------------------


def test_apply_noop_grow_shrink_and_destroy_leave_the_node_as_it_was(host_node: HostNode) -> None:
    node = host_node
    empty = picture(node)
    assert empty.frr is None
    assert set(empty.kernel) == {"host"}

    status, text = cli("apply", "-f", str(STRETCH), *node.node_args, "--auto-approve")
    assert status == 0, text
    assert "Apply complete! " in text
    status, text = cli("plan", "-f", str(STRETCH), *node.node_args, "--detailed-exitcode")
    assert (status, text) == (0, "No changes. The node matches the configuration.\n")
    applied = picture(node)
    assert applied.frr is not None
    assert "neighbor 192.168.11.2 remote-as 64512" in applied.frr
    assert "vni210" in applied.kernel["router"]["links"]
    status, text = cli("apply", "-f", str(STRETCH), *node.node_args, "--auto-approve")
    assert (status, text) == (0, "No changes. The node matches the configuration.\n")
    assert picture(node) == applied

    status, text = cli("apply", "-f", str(TWO_VNIS), *node.node_args, "--auto-approve")
    assert status == 0, text
    status, text = cli("plan", "-f", str(TWO_VNIS), *node.node_args, "--detailed-exitcode")
    assert status == 0, text
    grown = picture(node)
    assert {"vni211", "br-pe-211", "pe-211"} <= set(grown.kernel["router"]["links"])
    assert "neighbor 192.168.11.4 remote-as 64512" in (grown.frr or "")

    ip("-n", node.router_ns, "link", "set", "toswitch", "mtu", "1400")
    status, text = cli("apply", "-f", str(STRETCH), *node.node_args, "--auto-approve")
    assert status == 0, text
    shrunk = picture(node)
    assert "vni211" not in shrunk.kernel["router"]["links"]
    assert shrunk.kernel["router"]["links"]["pe-210"]["mtu"] == 1350
    assert shrunk.kernel["host"]["links"]["host-210"]["mtu"] == 1350
    assert "192.168.11.4" not in (shrunk.frr or "")
    ip("-n", node.router_ns, "link", "set", "toswitch", "mtu", "1500")
    status, text = cli("apply", "-f", str(STRETCH), *node.node_args, "--auto-approve")
    assert status == 0, text
    status, text = cli("plan", "-f", str(STRETCH), *node.node_args, "--detailed-exitcode")
    assert status == 0, text

    status, text = cli("destroy", *node.node_args, "--auto-approve")
    assert status == 0, text
    destroyed = picture(node)
    assert destroyed.kernel == empty.kernel, difference(empty, destroyed)
    assert destroyed.frr is None
    assert not frr_daemons(node.router_ns)
    assert not leftovers(node)
    assert json.loads(node.state.read_bytes())["resources"] == []


# -- a failure at every write -----------------------------------------------------------


def _from_empty(_: HostNode) -> Path | None:
    return STRETCH


def _destroy(node: HostNode) -> Path | None:
    run_in_process(node, STRETCH)
    return None


def _grow(node: HostNode) -> Path | None:
    run_in_process(node, STRETCH)
    return TWO_VNIS


def _shrink(node: HostNode) -> Path | None:
    run_in_process(node, TWO_VNIS)
    ip("-n", node.router_ns, "link", "set", "toswitch", "mtu", "1400")
    return STRETCH


SCENARIOS = {"apply": _from_empty, "destroy": _destroy, "grow": _grow, "shrink": _shrink}


@pytest.mark.parametrize("when", sorted(FAULTS))
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_failure_at_any_write_is_rolled_back(
    host_node: HostNode, scenario: str, when: str
) -> None:
    config = SCENARIOS[scenario](host_node)
    writes, problems = fail_every_write(host_node, config, FAULTS[when])
    print(f"{scenario}: {writes} writes, each failed ({when})")
    assert not problems, "\n".join(problems)
    assert writes >= 5


# -- SIGKILL, then recover --------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["apply", "destroy"])
def test_sigkill_at_any_step_is_rolled_back_by_recover(host_node: HostNode, scenario: str) -> None:
    node = host_node
    config = SCENARIOS[scenario](node)
    steps = planned_steps(node, config)
    before = picture(node)
    problems: list[str] = []
    for k in range(1, steps + 1):
        status, _ = stop_after(cli_process(*command_args(node, config)), k, signal.SIGKILL)
        assert status == -signal.SIGKILL
        status, text = cli("plan", "-f", str(STRETCH), *node.node_args)
        if status != 1 or f"interrupted `pe-plan {scenario}`" not in text:
            problems.append(f"step {k}: plan did not refuse: {text}")
        status, text = cli("recover", *node.node_args)
        if status != 0:
            problems.append(f"step {k}: recover failed: {text}")
            break
        if "had completed" in text:
            # Killed after the state was written: the node must match it, and the next
            # round starts from the node as it was.
            if k != steps:
                problems.append(f"step {k}: the {scenario} completed before the last step")
            status, text = cli("plan", "-f", str(STRETCH), *node.node_args, "--detailed-exitcode")
            if status != (0 if config is not None else 2):
                problems.append(f"step {k}: the node does not match the state: {text}")
            run_in_process(node, STRETCH if config is None else None)
        now = picture(node)
        if now != before:
            problems.append(f"step {k}: the node differs:\n{difference(before, now)}")
        problems += [f"step {k}: left {item}" for item in leftovers(node)]
    print(f"{scenario}: killed after each of its {steps} steps")
    assert not problems, "\n".join(problems)


def test_recover_forward_keeps_what_was_done_and_finishes_at_any_step(
    host_node: HostNode,
) -> None:
    node = host_node
    empty = picture(node)
    steps = planned_steps(node, STRETCH)
    problems: list[str] = []
    for k in range(1, steps + 1):
        stop_after(cli_process(*command_args(node, STRETCH)), k, signal.SIGKILL)
        status, text = cli(
            "recover", "--forward", "-f", str(STRETCH), *node.node_args, "--auto-approve"
        )
        if status != 0:
            problems.append(f"step {k}: recover --forward failed: {text}")
            break
        status, text = cli("plan", "-f", str(STRETCH), *node.node_args, "--detailed-exitcode")
        if status != 0:
            problems.append(f"step {k}: the node is not as configured:\n{text}")
        owned = {r["address"] for r in json.loads(node.state.read_bytes())["resources"]}
        if len(owned) != steps - 1:  # every step but the FRR config makes one object
            problems.append(f"step {k}: the state owns {sorted(owned)}")
        run_in_process(node, None)
        now = picture(node)
        if now.kernel != empty.kernel or now.frr is not None:
            problems.append(f"step {k}: destroy left:\n{difference(empty, now)}")
        problems += [f"step {k}: left {item}" for item in leftovers(node)]
    print(f"recover --forward: killed after each of {steps} steps")
    assert not problems, "\n".join(problems)


def test_every_command_refuses_while_a_journal_is_pending(host_node: HostNode) -> None:
    node = host_node
    before = picture(node)
    stop_after(cli_process(*command_args(node, STRETCH)), 3, signal.SIGKILL)
    assert node.journal.exists()
    for args in (
        ["plan", "-f", str(STRETCH)],
        ["apply", "-f", str(STRETCH), "--auto-approve"],
        ["destroy", "--auto-approve"],
    ):
        status, text = cli(*args, *node.node_args)
        assert status == 1, text
        assert "Error: an interrupted `pe-plan apply` (pid " in text
        assert f"left the journal {node.journal} with " in text
        assert "Hint: run `pe-plan recover` with the same node and state options" in text
    with StateLock.acquire(node.state, "a test holding the lock"):
        status, text = cli("recover", *node.node_args)
    assert status == 1
    assert "is locked by pid" in text
    assert "(a test holding the lock)" in text
    assert node.journal.exists()
    status, text = cli("recover", *node.node_args)
    assert status == 0, text
    assert text.startswith("Rolled back the interrupted `pe-plan apply` (pid ")
    assert "  delete namespace " + node.router_ns in text
    assert picture(node) == before
    assert not leftovers(node)
    status, text = cli("recover", *node.node_args)
    assert (status, text) == (0, f"Nothing to recover: there is no journal {node.journal}.\n")


def test_a_recover_that_cannot_undo_everything_keeps_the_journal(
    host_node: HostNode, tmp_path: Path
) -> None:
    node = host_node
    before = picture(node)
    stop_after(cli_process(*command_args(node, STRETCH)), 10, signal.SIGKILL)
    kept = tmp_path / "snapshot"
    shutil.move(node.snapshot, kept)
    status, text = cli("recover", *node.node_args)
    assert status == 1
    assert "could not undo 3 of the " in text
    assert f"  restore the FRR running config: cannot read the FRR snapshot {node.snapshot}" in text
    assert f"  stop FRR {node.router_ns}: not run, because an undo step failed" in text
    assert f"  delete namespace {node.router_ns}: not run, because an undo step failed" in text
    assert f"Hint: the journal {node.journal} is kept" in text
    assert node.journal.exists()
    shutil.move(kept, node.snapshot)
    status, text = cli("recover", *node.node_args)
    assert status == 0, text
    assert picture(node) == before
    assert not leftovers(node)


# -- SIGTERM and SIGINT -----------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_apply_is_rolled_back_by_the_process(
    host_node: HostNode, signum: signal.Signals
) -> None:
    node = host_node
    before = picture(node)
    steps = planned_steps(node, STRETCH)
    for k in (1, steps // 2, steps - 1):
        status, output = stop_after(cli_process(*command_args(node, STRETCH)), k, signum)
        assert status == 3, output
        assert f"interrupted ({signum.name})" in output
        assert "rolled back: " in output
        assert picture(node) == before
        assert not leftovers(node)


# -- the state cannot be written --------------------------------------------------------


def test_a_state_saved_elsewhere_keeps_the_node(host_node: HostNode) -> None:
    node = host_node
    run_in_process(node, STRETCH)
    backup = node.state.with_name(node.state.name + ".backup")
    backup.mkdir()  # the state's backup cannot be written: so the state is not written
    before = node.state.read_bytes()
    status, text = cli("apply", "-f", str(TWO_VNIS), *node.node_args, "--auto-approve")
    errored = node.state.with_name(node.state.name + ".errored")
    assert status == 1, text
    assert "Error: the node was changed and verified, but could not write state" in text
    assert f"the new state was saved to {errored}" in text
    assert f"`cp {errored} {node.state}`" in text
    assert node.state.read_bytes() == before
    assert not leftovers(node)
    shutil.copyfile(errored, node.state)
    status, text = cli("plan", "-f", str(TWO_VNIS), *node.node_args, "--detailed-exitcode")
    assert status == 0, text


def test_a_state_saved_nowhere_rolls_the_apply_back(host_node: HostNode, tmp_path: Path) -> None:
    node = host_node
    run_in_process(node, STRETCH)
    before = picture(node)
    elsewhere = tmp_path / "elsewhere"
    for directory in (node.state.parent, elsewhere):
        (directory / f"{node.state.name}.errored").mkdir(parents=True)
    node.state.with_name(node.state.name + ".backup").mkdir()
    process = subprocess.run(
        [sys.executable, "-m", "pe_plan", *command_args(node, TWO_VNIS)],
        capture_output=True,
        text=True,
        check=False,
        cwd=elsewhere,  # the last place a state is saved to: made unwritable too
        env={**os.environ, "TMPDIR": str(elsewhere)},
        timeout=CLI_TIMEOUT,
    )
    assert process.returncode == 3, process.stderr
    assert "apply failed at recording the state: could not write state" in process.stderr
    assert "rolled back: " in process.stderr
    assert "the new state follows" not in process.stderr
    assert picture(node) == before
    assert not leftovers(node)


# -- an FRR restart ---------------------------------------------------------------------


def restart_frr(node: HostNode, fault: FailAt) -> None:
    """Execute a plan that changes the FRR instance's daemons to zebra, bgpd and staticd."""
    old = FrrInstance(pathspace=node.router_ns)
    new = FrrInstance(pathspace=node.router_ns, daemons=("zebra", "bgpd", "staticd"))
    step = Action(action="update", address=old.address, reason="test", before=old, after=new)
    plan = Plan(
        actions=(step,),
        drift=(),
        frr=(),
        summary=Summary(add=0, change=1, destroy=0),
        watched=(old.address,),
    )
    with Session(node_settings(None, node.node_file), node.state, "apply") as session:
        journal = Journal.begin(
            session.journal,
            "apply",
            session.node.name,
            router_namespace=node.router_ns,
            state_serial=None,
        )
        executor = Executor(
            fault.wrap(backend_runner(session)),
            journal,
            router_ns=node.router_ns,
            frr_secrets=lambda delta: delta,
            on_step=lambda _: None,
        )
        executor.run(plan, {}, verify=lambda: None, record=lambda: None)


def test_another_set_of_daemons_restarts_frr_with_its_config(host_node: HostNode) -> None:
    node = host_node
    run_in_process(node, STRETCH)
    before = picture(node)
    # The writes: stop the daemons, start the new ones, give them the config back.
    with pytest.raises(RolledBackError, match="write 3 fails after it was made"):
        restart_frr(node, FailAt(3, after=True))
    assert picture(node) == before
    assert daemon_names(node) == ["bfdd", "bgpd", "staticd", "zebra"]
    assert not leftovers(node)
    restart_frr(node, FailAt(4, after=False))
    assert daemon_names(node) == ["bgpd", "staticd", "zebra"]
    assert picture(node).frr == before.frr
    assert not leftovers(node)


def daemon_names(node: HostNode) -> list[str]:
    host = LocalHost()
    return sorted(Path((host.cmdline(p) or ("",))[0]).name for p in frr_daemons(node.router_ns))

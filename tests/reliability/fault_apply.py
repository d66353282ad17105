"""``pe-plan apply`` with one fault injected, run in a process of its own.

The apply is the CLI's own pipeline (:func:`tests.faults.run_in_process`) with the one thing
the CLI cannot do: a runner wrapper puts a fault between the executor and the backends
(:class:`FaultyRunner`, which counts every write, kernel or FRR). :func:`apply_with_fault`
runs it as
``python -m tests.reliability.fault_apply``, so that a fault cannot harm the test process
and ``TMPDIR`` (one place an errored state may go) is the test's, and returns the error the
CLI would have printed (``exit_code`` 0 when there was none). Faults:

* ``fill-disk`` / ``read-only``: after a write to the node (``after``; by default the last,
  so that the final state write fails) the state's file system is full / read-only;
* ``kill-frr``: the FRR daemons are SIGKILLed just before the FRR change;
* ``reject-line``: the FRR change gets one more line, which FRR does not know;
* ``reject-secret-line``: the FRR change loses its ``remote-as`` lines, so that FRR refuses
  the neighbor's password line (an error about a line that holds a secret);
* ``fail``: the apply fails after a write (``after``; by default the last).

With ``evidence``, the journal and the FRR snapshot are copied there while the FRR change
runs (with the snapshot's mode in ``snapshot-mode``), to be searched for secrets.
"""

from __future__ import annotations

import argparse
import errno
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import msgspec

from pe_plan.apply import Runner, step_operations
from pe_plan.backends.frr import RUN_DIR
from pe_plan.cli.options import node_settings, read_config
from pe_plan.cli.session import Session, prepare
from pe_plan.errors import BackendError, PePlanError
from pe_plan.frr_diff import FrrContextDelta, FrrDelta
from pe_plan.journal import journal_path, snapshot_path
from pe_plan.operations import Operation
from pe_plan.plan import Action
from tests.conftest import REPO
from tests.faults import Node, run_in_process
from tests.integration.conftest import HostNode

UNKNOWN_LINE = "pe-plan-reliability-unknown-command"
FILLER = "filler"
FAULTS = ("fill-disk", "read-only", "kill-frr", "reject-line", "reject-secret-line", "fail")

Change = Callable[[FrrDelta], FrrDelta]


class Ended(msgspec.Struct, frozen=True):
    """What the CLI would have said: its exit status and the error's message and hint."""

    exit_code: int
    message: str = ""
    hint: str | None = None


def apply_with_fault(
    fault: str,
    node: HostNode,
    config: Path,
    *,
    tmpdir: Path,
    after: int | None = None,
    evidence: Path | None = None,
) -> Ended:
    argv = [sys.executable, "-m", "tests.reliability.fault_apply", fault, str(config)]
    argv += [node.host_ns, node.router_ns, str(node.node_file), str(node.state)]
    argv += ["--after", str(after)] if after is not None else []
    argv += ["--evidence", str(evidence)] if evidence is not None else []
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(tmpdir)},
    )
    assert done.returncode == 0, f"the apply did not end cleanly:\n{done.stderr}"
    return msgspec.json.decode(done.stdout, type=Ended)


class FaultyRunner:
    """Runs every write on ``inner``; after write number ``after`` (kernel operations and FRR
    changes both count) and before the FRR change, the fault strikes."""

    def __init__(
        self, inner: Runner, *, after: int, on_write: Callable[[], None], on_frr: Change
    ) -> None:
        self.inner = inner
        self.after = after
        self.on_write = on_write
        self.on_frr = on_frr
        self.writes = 0

    def run(self, operation: Operation) -> None:
        self.inner.run(operation)
        self._written()

    def apply_frr(self, delta: FrrDelta) -> None:
        self.inner.apply_frr(self.on_frr(delta))
        self._written()

    def _written(self) -> None:
        self.writes += 1
        if self.writes == self.after:
            self.on_write()

    def frr_snapshot(self) -> str:
        return self.inner.frr_snapshot()


def fill(directory: Path) -> None:
    with (directory / FILLER).open("wb", buffering=0) as filler:
        try:
            while True:
                filler.write(bytes(64 * 1024))
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise


def make_read_only(directory: Path) -> None:
    # A read-only bind mount over the directory: a plain remount is refused while pe-plan
    # holds its lock and journal open for writing (and those open files keep working).
    subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)


def kill_daemons(pathspace: str) -> Change:
    def kill(delta: FrrDelta) -> FrrDelta:
        pids = [int(p.read_text()) for p in (RUN_DIR / pathspace).glob("*.pid")]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while any(Path(f"/proc/{pid}").exists() for pid in pids):
            if time.monotonic() > deadline:
                raise RuntimeError(f"FRR daemons {pids} survived SIGKILL")
            time.sleep(0.05)
        return delta

    return kill


def add_unknown_line(delta: FrrDelta) -> FrrDelta:
    return FrrDelta(contexts=(*delta.contexts, FrrContextDelta(context=(), add=(UNKNOWN_LINE,))))


def drop_remote_as(delta: FrrDelta) -> FrrDelta:
    return FrrDelta(
        contexts=tuple(
            msgspec.structs.replace(c, add=tuple(line for line in c.add if "remote-as" not in line))
            for c in delta.contexts
        )
    )


def fail() -> None:
    raise BackendError("injected failure after a write")


def capture(state: Path, evidence: Path) -> Change:
    journal = journal_path(state)
    snapshot = snapshot_path(journal)

    def copy(delta: FrrDelta) -> FrrDelta:
        evidence.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(journal, evidence / "journal")
        shutil.copyfile(snapshot, evidence / "snapshot")
        (evidence / "snapshot-mode").write_text(f"{snapshot.stat().st_mode & 0o777:o}\n")
        return delta

    return copy


def writes(node: Node, config: Path) -> int:
    """How many writes applying ``config`` makes: kernel operations and FRR changes."""
    with Session(node_settings(None, node.node_file), node.state, "plan") as session:
        prepared = prepare(session, read_config((config,)))
    router_ns = session.settings.router_namespace
    return sum(
        sum(
            1
            for forward, _ in step_operations(step, prepared.observed.objects, router_ns)
            if forward is not None
        )
        if isinstance(step, Action)
        else 1
        for step in prepared.plan.actions
    )


def nothing() -> None:
    """No fault at a write."""


def unchanged(delta: FrrDelta) -> FrrDelta:
    return delta


def chosen(fault: str, state: Path, pathspace: str) -> tuple[Callable[[], None], Change]:
    """What strikes after the chosen write, and what happens to the FRR change."""
    at_write: dict[str, Callable[[], None]] = {
        "fill-disk": functools.partial(fill, state.parent),
        "read-only": functools.partial(make_read_only, state.parent),
        "fail": fail,
    }
    at_frr = {
        "kill-frr": kill_daemons(pathspace),
        "reject-line": add_unknown_line,
        "reject-secret-line": drop_remote_as,
    }
    return at_write.get(fault, nothing), at_frr.get(fault, unchanged)


class ChildNode(NamedTuple):
    """The node, as the parent named it (a :class:`tests.faults.Node`)."""

    host_ns: str
    router_ns: str
    node_file: Path
    state: Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.fault_apply")
    parser.add_argument("fault", choices=FAULTS)
    parser.add_argument("config", type=Path)
    for field in ChildNode._fields:
        parser.add_argument(field, type=Path if field in ("node_file", "state") else str)
    parser.add_argument("--after", type=int)
    parser.add_argument("--evidence", type=Path)
    args = parser.parse_args(argv)
    node = ChildNode(*(getattr(args, field) for field in ChildNode._fields))
    on_write, change = chosen(args.fault, node.state, node.router_ns)
    on_frr = change
    if args.evidence is not None:
        keep = capture(node.state, args.evidence)

        def on_frr(delta: FrrDelta) -> FrrDelta:
            return change(keep(delta))

    try:
        after = args.after or writes(node, args.config)
        run_in_process(
            node,
            args.config,
            lambda runner: FaultyRunner(runner, after=after, on_write=on_write, on_frr=on_frr),
        )
    except PePlanError as err:
        print(msgspec.json.encode(Ended(err.exit_code, err.message, err.hint)).decode())
        return 0
    print(msgspec.json.encode(Ended(0)).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

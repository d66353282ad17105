"""Running the pe-plan CLI on an input and judging how it ended.

Two ways to run it, both through the CLI's one error handler (:func:`pe_plan.cli.run`, which
``pe-plan`` itself calls): :func:`in_process` for the bulk of the fuzzed inputs (milliseconds
each), :func:`in_subprocess` for a sample, exactly as a user runs it, with a timeout that
turns a hang into a finding. :func:`judge` says whether the output is what a user must
get: exit status 0 (accepted) or 1 with ``Error: ...`` as the first line of stderr and then
only problem lines (each starting with the input file's name) or the hint; never a
traceback. :func:`validate_and_plan` puts one input through both verbs and records the
outcomes in the report.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from click.testing import CliRunner

from pe_plan.backends.netlink import NETNS_DIR
from pe_plan.cli import run
from tests.conftest import REPO
from tests.reliability.report import Outcome, ReliabilityReport


class Ended(NamedTuple):
    """How one run ended; ``status`` is None when it did not end in time."""

    status: int | None
    stdout: str
    stderr: str


def in_process(argv: Sequence[str]) -> Ended:
    """``pe-plan ARGV`` in this process; an exception escaping the handler shows as a traceback."""
    with CliRunner().isolation() as (out, err, _):
        try:
            status: int | None = run(list(argv))
        except BaseException as exc:  # noqa: BLE001 - any escape is what the test looks for
            return Ended(status=None, stdout="", stderr=f"Traceback (escaped): {exc!r}")
        stdout, stderr = out.getvalue(), err.getvalue()
    return Ended(status=status, stdout=stdout.decode(), stderr=stderr.decode())


def in_subprocess(argv: Sequence[str], timeout: float = 60.0) -> Ended:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pe_plan", *argv],
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=timeout,
            cwd=REPO,
        )
    except subprocess.TimeoutExpired:
        return Ended(status=None, stdout="", stderr=f"did not finish in {timeout} s")
    return Ended(status=done.returncode, stdout=done.stdout, stderr=done.stderr)


def judge(ended: Ended, inputs: Sequence[Path]) -> tuple[Outcome, list[str]]:
    """The outcome, and what is wrong with the output (empty when it is as it must be)."""
    if ended.status is None:
        outcome = Outcome.TRACEBACK if ended.stderr.startswith("Traceback") else Outcome.HANG
        return outcome, [ended.stderr]
    if "Traceback" in ended.stderr:
        return Outcome.TRACEBACK, [ended.stderr]
    if ended.status == 0:
        return Outcome.ACCEPTED, []
    wrong = [] if ended.status == 1 else [f"exit status {ended.status}, expected 0 or 1"]
    first, *rest = ended.stderr.splitlines() or [""]
    if not first.startswith("Error: "):
        wrong.append(f"first line of stderr is not `Error: ...`: {first!r}")
    starts = ("Hint: ", *(f"{path}:" for path in inputs))
    wrong += [f"stray line in the error: {line!r}" for line in rest if not line.startswith(starts)]
    return Outcome.REJECTED, wrong


Runner = Callable[[Sequence[str]], Ended]


@dataclass(frozen=True)
class Workspace:
    """Where the inputs go, and a node file naming namespaces that do not exist."""

    directory: Path
    node_file: Path
    namespaces: tuple[str, str]

    def write(self, data: bytes, name: str) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        return path

    def state_dir(self, config: Path) -> Path:
        """An empty directory for the state of ``config``'s plan."""
        directory = self.directory / f"{config.stem}.state"
        directory.mkdir(exist_ok=True)
        return directory

    def touched(self, state_dir: Path) -> list[str]:
        """What a plan left: files beside the state, namespaces it should never create."""
        found = [str(p) for p in state_dir.iterdir()]
        return found + [str(NETNS_DIR / n) for n in self.namespaces if (NETNS_DIR / n).exists()]


def check(report: ReliabilityReport, ended: Ended, inputs: list[Path]) -> Outcome:
    """Record the outcome, and fail unless the output is as it must be."""
    outcome, wrong = judge(ended, inputs)
    report.record_fuzz(outcome)
    assert not wrong, (
        f"{wrong}\nstatus {ended.status}\nstdout:\n{ended.stdout}\nstderr:\n{ended.stderr}"
    )
    return outcome


def validate_and_plan(
    report: ReliabilityReport, workspace: Workspace, config: Path, run: Runner
) -> Ended:
    """Both verbs on one input: each ends cleanly, and a rejected input stops plan early.

    Returns how ``validate`` ended.
    """
    validated = run(["validate", "-f", str(config)])
    outcome = check(report, validated, [config])
    state_dir = workspace.state_dir(config)
    state = ["--state", str(state_dir / "state.json")]
    planned = run(["plan", "-f", str(config), "--node-file", str(workspace.node_file), *state])
    check(report, planned, [config, workspace.node_file])
    if outcome is Outcome.REJECTED:
        assert (planned.status, planned.stderr) == (validated.status, validated.stderr)
    assert workspace.touched(state_dir) == []
    return validated

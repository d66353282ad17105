"""Guest side of the lab: run one scenario and leave its report for the host.

Run inside the UML guest by :mod:`tests.lab.harness` as ``python -m tests.lab.scenario
{demo|lifecycle|faults} [--router-setup pe-plan|manual] [--destroy]`` (the scenarios are in
:mod:`tests.lab.demo`, :mod:`tests.lab.lifecycle` and :mod:`tests.lab.faults`). It writes
``report.json`` (see :mod:`tests.lab.report`) and its logs (every command with its output,
FRR logs, tcpdump, pe-plan state files) to ``$LAB_OUT``, which the host reads back.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

from tests.lab.demo import run_demo
from tests.lab.faults import FAULT_CHECKS, run_faults
from tests.lab.lifecycle import LIFECYCLE_CHECKS, run_lifecycle
from tests.lab.manual_router import ManualRouters
from tests.lab.report import REPORT_FILE, Report, encode
from tests.lab.routers import PePlanRouters
from tests.lab.shell import CommandError, Shell
from tests.lab.topology import FRR_LOG_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "examples" / "layer2" / "openpe.yaml"
COMMAND_LOG = "commands.log"
SCENARIOS = ("demo", "lifecycle", "faults")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.lab.scenario", description=__doc__)
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--router-setup", choices=["pe-plan", "manual"], default="pe-plan")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument(
        "--destroy", action="store_true", help="demo: destroy both routers and check they are gone"
    )
    args = parser.parse_args(argv)
    work = Path(os.environ.get("LAB_OUT", "."))
    shell = Shell(work / COMMAND_LOG)
    report = Report(scenario=args.scenario, router_setup=args.router_setup)
    started = time.monotonic()
    try:
        _run(args, shell, report, work)
    except CommandError as err:
        report.error = f"lab setup failed: {err}"
    except Exception as err:  # noqa: BLE001 (the report must reach the host whatever happened)
        report.error = f"{type(err).__name__}: {err}"
        (work / "traceback.txt").write_text(traceback.format_exc())
    finally:
        shell.close()
        report.timings["scenario total"] = time.monotonic() - started
        for log in FRR_LOG_DIR.glob("*.log"):
            shutil.copy(log, work / f"frr-{log.name}")
        (work / REPORT_FILE).write_bytes(encode(report))
    return 0 if report.passed else 1


def _run(args: argparse.Namespace, shell: Shell, report: Report, work: Path) -> None:
    if args.router_setup == "manual":
        if args.scenario == "lifecycle":
            report.skip_all(LIFECYCLE_CHECKS, "only pe-plan can repair drift or change a live node")
            return
        if args.scenario == "faults":
            report.skip_all(FAULT_CHECKS, "only pe-plan has a journal to roll back and recover")
            return
        run_demo(shell, ManualRouters(shell, work), report, work, destroy=args.destroy)
        return
    config: Path = args.config
    if not config.is_file():
        report.error = f"pe-plan config {config} not found"
        return
    routers = PePlanRouters(shell, config, work)
    if args.scenario == "lifecycle":
        run_lifecycle(shell, routers, report, work)
    elif args.scenario == "faults":
        run_faults(shell, routers, report, work)
    else:
        run_demo(shell, routers, report, work, destroy=args.destroy)


if __name__ == "__main__":
    sys.exit(main())

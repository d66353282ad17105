"""``python -m tests.lab demo``: the seed's Layer 2 validation, on a real kernel in UML.

Prints what the seed's validation prints (the two ``/clientip`` answers and the VXLAN lines
of a capture on the underlay), then a PASS/FAIL table; exits 0 only when every check passed.
``--router-setup=manual`` swaps pe-plan for a TEST-ONLY stand-in that sets up the routers by
hand: it proves the harness and the topology, not pe-plan.
"""

from __future__ import annotations

import argparse
import sys

from tests.lab.guest import unavailable_reason
from tests.lab.harness import DEFAULT_TIMEOUT, ROUTER_SETUPS, LabRun, run_scenario
from tests.lab.report import Report

EXIT_FAILED = 1
EXIT_UNAVAILABLE = 2


def print_demo(run: LabRun) -> None:
    """The seed's validation output, then the table of checks and the timings."""
    report = run.report
    for request, answer in report.answers.items():
        pod, url = request.split(" -> ")
        print(f"{pod}$ curl {url}")
        print(answer or "(no answer)")
        print()
    for vni, lines in report.capture.items():
        print(f"tcpdump on the underlay (switch port of node0), {vni}:")
        print("\n".join(lines) if lines else "(nothing captured)")
        print()
    print_table(report)
    if report.timings:
        print(
            "\ntimings: "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in report.timings.items())
        )
    if report.error:
        print(f"\nERROR: {report.error}", file=sys.stderr)
    if run.guest.kept_dir is not None:
        print(f"\nrun directory kept: {run.guest.kept_dir} (logs in out/)")


def print_table(report: Report) -> None:
    width = max((len(c.title) for c in report.checks), default=5)
    print(f"{'CHECK':<{width}}  RESULT  DETAIL")
    for check in report.checks:
        detail = check.detail.splitlines()
        first = detail[0] if detail else ""
        print(f"{check.title:<{width}}  {check.status:<6}  {first}")
        if check.status == "FAIL":
            for line in detail[1:]:
                print(f"{'':<{width}}          {line}")
    verdict = "PASS" if report.passed else "FAIL"
    print(
        f"\n{verdict}: {sum(c.status == 'PASS' for c in report.checks)} passed, "
        f"{sum(c.status == 'FAIL' for c in report.checks)} failed, "
        f"{sum(c.status == 'SKIP' for c in report.checks)} skipped"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.lab", description=__doc__.splitlines()[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the seed's Layer 2 scenario and its checks")
    demo.add_argument(
        "--router-setup",
        choices=ROUTER_SETUPS,
        default="pe-plan",
        help="who sets up the nodes' routers: pe-plan (default), or the TEST-ONLY manual stand-in",
    )
    demo.add_argument(
        "--destroy", action="store_true", help="also destroy both routers and check they are gone"
    )
    demo.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds before the guest is killed"
    )
    demo.add_argument(
        "--keep", action="store_true", help="keep the run directory (logs) for debugging"
    )
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason is not None:
        print(f"pe-plan lab unavailable: {reason}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    note = " (TEST-ONLY manual stand-in, not pe-plan)" if args.router_setup == "manual" else ""
    print("pe-plan lab: the seed's Layer 2 scenario in User-Mode Linux")
    print(f"routers set up by {args.router_setup}{note}")
    print("booting the guest and building the topology; this takes a few minutes…\n", flush=True)
    run = run_scenario(
        "demo", args.router_setup, destroy=args.destroy, timeout=args.timeout, keep=args.keep
    )
    print_demo(run)
    return 0 if run.report.passed else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

"""The VRF variant of the benchmark, in the User-Mode Linux lab: the host side.

    python -m bench.lab [--sizes 10,100] [--runs 3] [--reads 5]

The host kernel has no VRF, so the node with VRFs (``bench.scenario.VRF_NODE``) is measured
inside a UML guest (``tests.lab.guest``: a 6.1 kernel, one CPU, the host's root file system),
where :mod:`bench.lab_guest` runs the same benchmark as ``bench.run`` and leaves its table
in ``LAB_OUT``. One boot measures every size. ``python -m bench.run`` calls :func:`run_lab`
after the host tables.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench.measure import add_run_options
from tests.lab.guest import Guest, GuestRun, unavailable_reason

TABLE_FILE = "bench.txt"
TITLE = "The VRF variant, in the User-Mode Linux lab"
# Room for the slowest runs: in UML a pe-plan command takes 8 s at 10 VNIs, starting FRR
# 10 s, and 10 VNIs take a run of three minutes (warming up the bytecode cache: one more).
BOOT_SECONDS = 300
SECONDS_PER_RUN = 200
SECONDS_PER_READ = 20
SECONDS_PER_VNI_RUN = 8
OUTPUT_TAIL_LINES = 30


def run_lab(sizes: Sequence[int], runs: int, reads: int) -> bool:
    """Measure the VRF variant in a guest and print its table; False when that failed.

    A machine without the lab (not root, no UML) is not a failure: why is printed instead.
    """
    print(f"\n{TITLE}:", flush=True)
    reason = unavailable_reason()
    if reason is not None:
        print(f"  not measured: {reason}")
        return True
    per_run = SECONDS_PER_RUN + SECONDS_PER_READ * reads
    timeout = BOOT_SECONDS + runs * sum(per_run + SECONDS_PER_VNI_RUN * size for size in sizes)
    print(f"... booting User-Mode Linux (up to {timeout / 60:.0f} min)", file=sys.stderr)
    run = Guest(timeout=timeout).run_python(
        "bench.lab_guest",
        *("--sizes", ",".join(map(str, sizes))),
        *("--runs", str(runs), "--reads", str(reads)),
    )
    # The guest writes its table as each size is done: what was measured before a failure.
    table = run.files.get(TABLE_FILE)
    if table is not None:
        print(table.decode(errors="replace"), end="")
    if run.status == 0 and table is not None:
        return True
    print(failure(run))
    return False


def failure(run: GuestRun) -> str:
    """What went wrong in the guest, with the tails of the payload's output and its console."""
    what = run.ending("the benchmark")
    return "\n".join(
        [
            f"  FAILED: {what}",
            "  output (tail):",
            *(f"    {line}" for line in run.output.splitlines()[-OUTPUT_TAIL_LINES:]),
            "  guest console (tail):",
            *(f"    {line}" for line in run.console_tail.splitlines()),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    add_run_options(parser, "10,100")
    args = parser.parse_args(argv)
    return 0 if run_lab(args.sizes, args.runs, args.reads) else 1


if __name__ == "__main__":
    raise SystemExit(main())

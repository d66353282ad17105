"""The VRF variant of the benchmark, inside the User-Mode Linux guest (``bench.lab`` boots it).

    python -m bench.lab_guest [--sizes 10,100] [--runs 3] [--reads 5]

The benchmark of the host tables (:class:`bench.run.Bench`: pe-plan and its iproute2
baseline, alternating, in throwaway namespaces) on the node with VRFs,
``bench.scenario.VRF_NODE``, in the guest's 6.1 kernel. The table is the host's, without
the target column: the issue's targets are for the host at 1000 VNIs. It goes to stdout and
to ``$LAB_OUT/bench.txt`` as each size is done.
"""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Sequence
from contextlib import redirect_stdout
from pathlib import Path

from bench import scenario
from bench.lab import TABLE_FILE
from bench.measure import add_run_options
from bench.run import ROWS, Bench, Figures, machine, print_size

ROWS_WITHOUT_TARGETS = {
    key: row._replace(ratio_limit=None, ms_limit=None) for key, row in ROWS.items()
}
NODE = (
    "  N/2 L3VNIs, each its own VRF with a host session (IPv4), and N/2 L2VNIs routed in\n"
    "  them, one each (gateway, host bridge); VTEP on the dummy lound; managed FRR\n"
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    add_run_options(parser, "10,100")
    args = parser.parse_args(argv)
    out = os.environ.get("LAB_OUT")
    table = Path(out) / TABLE_FILE if out else None

    def emit(text: str) -> None:
        print(text, end="", flush=True)
        if table is not None:
            with table.open("a") as file:
                file.write(text)

    emit(NODE)
    results: dict[int, Figures] = {}
    with Bench.opened(args.reads, scenario.VRF_NODE) as bench:
        for size in args.sizes:
            results[size] = bench.size(size, args.runs)
            with redirect_stdout(io.StringIO()) as text:
                print_size(size, args.runs, results, ROWS_WITHOUT_TARGETS)
            emit(text.getvalue())
    emit(f"\n{machine()}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

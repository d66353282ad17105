"""Benchmark pe-plan at 10 to 4000 VNIs, side by side with iproute2 doing the same work.

    python -m bench.run [--sizes 10,100,1000] [--with-4000] [--runs 3] [--reads 5]
                        [--lab-sizes 10,100] [--no-lab]

Root only; runs on the host kernel in throwaway namespaces (see :mod:`bench.scenario` for
the node: N L2VNIs, five links each; the host kernel has no VRF, so the L3 half is measured
in the lab, see below). For each size and run, pe-plan's turn and iproute2's turn each
start from an empty host namespace, in alternating order, and never share the kernel with
the other's objects:

* pe-plan: ``apply`` from empty, then, once DAD is over and FRR has taken in the new VNIs
  (:func:`bench.scenario.wait_until_frr_settles`), ``plan`` on the applied node (a no-op)
  alternated with the baseline reads (``ip -j -d link show`` and ``ip -j address show`` in
  both namespaces) and an in-process refresh (the backend's dump and observe), then the pure plan
  computation and the state file write and read in process, then ``destroy``;
* iproute2: the same objects created and deleted with ``ip -batch``; then created once more
  with FRR started by hand and given the same config before the VXLANs, as pe-plan does.
  The ``ip`` scripts are written from pe-plan's desired state of the node
  (:mod:`bench.iproute2`), and after the first run of each size both nodes, as the kernel
  holds them, must be the same objects with the same attributes, or the benchmark stops.

A pe-plan command that fails stops the benchmark, except ``destroy``: the size's table then
has no destroy rows and ends with the error, and the rest of the run stands.

Every figure is the median of the runs, every pe-plan figure is shown as a ratio to its
baseline from the same invocation, and the growth column is the exponent k of t ∝ N^k
from the previous size. Managed FRR is part of pe-plan's figures (apply starts it, plan
reads its config with vtysh, destroy stops it): apply is compared with iproute2 alone and
with iproute2 plus FRR, and its row shows what FRR's own steps took. Namespace deletion
finishes in the kernel after ``ip netns del`` returns; the destroy rows are shown without
and with that clean-up. Other work on the machine that takes the kernel's RTNL lock (tests
that build namespaces) slows every write of both sides: compare ratios, not seconds, and
prefer a quiet machine.

After the host tables, unless ``--no-lab``, the same benchmark runs on the node with VRFs
(half L3VNIs with host sessions, half L2VNIs with gateways routed in them) inside a
User-Mode Linux guest (:mod:`bench.lab`), at ``--lab-sizes`` VNIs with the same ``--runs``
and ``--reads``, and its table follows; without the lab (no UML) it says why.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import NamedTuple

from bench import iproute2, lab, scenario
from bench.measure import (
    ChildFailedError,
    Sample,
    add_run_options,
    child_environment,
    growth,
    median,
    median_peak,
    repeated,
    run_child,
    seconds_text,
    sizes_option,
    timed,
)
from pe_plan.backends.netlink import NetlinkBackend
from pe_plan.desired import NodeFacts, desired_node
from pe_plan.load import load_paths
from pe_plan.model import FrrInstance, Link, NodeState
from pe_plan.plan import make_plan
from pe_plan.refresh import node_facts, refresh
from pe_plan.state import StateFile, depends_on_from_state, resources_from_state
from pe_plan.validate import load_node_file, validate

IMPORT_LINE = "import click, pyroute2, msgspec, deepdiff, jinja2"
PE_PLAN = str(Path(sys.executable).with_name("pe-plan"))
SALT = "pe-plan-bench"  # any salt will do: no secrets are configured
STARTUP_RUNS = 10
IN_PROCESS_REPEATS = 5
FRR_STEP = re.compile(r"^FRR .*\((\d+) ms\)$", re.MULTILINE)
STEPS = re.compile(r"complete! (\d+) steps")


class Row(NamedTuple):
    """A line of the table; the limits are issue 7's targets at ``TARGET_SIZE`` VNIs."""

    label: str
    baseline: str = ""
    ratio_limit: float | None = None  # for pe-plan's time over the baseline's
    ms_limit: float | None = None  # for pe-plan's time itself

    @property
    def target(self) -> str:
        if self.ratio_limit is not None:
            return f"≤ {self.ratio_limit:g}x"
        return f"≤ {self.ms_limit:g} ms" if self.ms_limit is not None else ""


READS = "ip -j reads, 4 processes"
ROWS = {
    "refresh": Row("refresh in process (dump + observe)", READS),
    "plan": Row("no-op plan: pe-plan plan", READS, ratio_limit=2),
    "apply": Row("apply from empty", "ip -batch create", ratio_limit=1.25),
    "frr": Row("  of which FRR start + config"),
    "apply_frr": Row("apply from empty", "FRR by hand, then ip -batch", ratio_limit=1.25),
    "destroy": Row("destroy (command)", "ip -batch delete"),
    "destroy_idle": Row(
        "destroy + kernel clean-up", "ip -batch delete + clean-up", ratio_limit=1.1
    ),
    "pure_noop": Row("plan computation, no-op", ms_limit=100),
    "pure_empty": Row("plan computation, from empty"),
    "state_write": Row("state file write"),
    "state_read": Row("state file read"),
}
STARTUP_LIMIT = 1.2
PEAK_TARGET_MB = 150
TARGET_SIZE = 1000
FAILURE_WIDTH = 96
FAILURE_LINES = 4


class Figures:
    """Samples of one size: pe-plan's and the baseline's, per row."""

    def __init__(self) -> None:
        self.pe: dict[str, list[Sample]] = {key: [] for key in ROWS}
        self.base: dict[str, list[Sample]] = {key: [] for key in ROWS}
        self.objects = 0
        self.links = 0
        self.state_bytes = 0
        self.built: dict[str, NodeState] = {}  # the node each side built, read back once
        self.failures: set[str] = set()

    def time(self, key: str) -> float | None:
        return median([s.seconds for s in self.pe[key]]) if self.pe[key] else None

    def base_time(self, key: str) -> float | None:
        return median([s.seconds for s in self.base[key]]) if self.base[key] else None

    def ratio(self, key: str) -> float | None:
        mine, theirs = self.time(key), self.base_time(key)
        return mine / theirs if mine is not None and theirs else None


class Bench:
    """One invocation: its node, namespaces, scratch directory and the children's environment."""

    def __init__(self, names: scenario.Names, work: Path, reads: int, node: scenario.Node) -> None:
        self.names = names
        self.work = work
        self.reads = reads
        self.node = node
        self.node_file = work / "node.yaml"
        self.node_file.write_text(node.node_file_text(names.pe_host, names.pe_router))
        self.env = child_environment(work / "pycache")
        self.logs = 0

    @classmethod
    @contextmanager
    def opened(cls, reads: int, node: scenario.Node) -> Iterator[Bench]:
        """A bench with its scratch directory and namespaces, warmed up; both go at the end."""
        with (
            tempfile.TemporaryDirectory(prefix="pebench-") as work,
            scenario.throwaway_namespaces() as names,
        ):
            bench = cls(names, Path(work), reads, node)
            bench.warm_up()
            yield bench

    def child(self, *argv: str) -> tuple[Sample, str]:
        self.logs += 1
        log = self.work / f"child-{self.logs}.log"
        sample = run_child(argv, self.env, log)
        return sample, log.read_text(errors="replace")

    def warm_up(self) -> None:
        """Fill the bytecode cache, as installing pe-plan would have."""
        modules = "pe_plan.cli.apply, pe_plan.cli.destroy, pe_plan.cli.plan, pyroute2.netns"
        self.child(sys.executable, "-c", f"{IMPORT_LINE}, yaml, {modules}")
        self.child(PE_PLAN, "--version")

    def startup(self) -> tuple[list[Sample], list[Sample]]:
        mine, theirs = [], []
        for _ in range(STARTUP_RUNS):
            mine.append(self.child(PE_PLAN, "--version")[0])
            theirs.append(self.child(sys.executable, "-c", IMPORT_LINE)[0])
        return mine, theirs

    def size(self, count: int, runs: int) -> Figures:
        figures = Figures()
        config = self.work / f"vnis-{count}.yaml"
        config.write_text(self.node.config_text(count))
        valid = validate(load_paths([config]))
        settings = load_node_file(self.node_file)
        facts = NodeFacts(underlay_mtu=scenario.NIC_MTU)
        desired = desired_node(valid, settings, 0, facts, hostname="bench", secret_salt=SALT)
        assert desired.frr is not None
        frr = desired.frr.text
        links = [o for o in desired.objects.values() if isinstance(o, Link)]
        figures.links = sum(link.moved_from is None for link in links)
        where = iproute2.Node(
            namespaces={"host": self.names.ip_host, "router": self.names.ip_router},
            nic_addresses={scenario.NIC: [scenario.NIC_CIDR]},
            work=self.work,
        )
        scripts = (iproute2.creation(desired, where), iproute2.deletion(desired, where))
        for run in range(runs):
            turns: list[Callable[[], None]] = [
                lambda: self.pe_plan_turn(count, config, figures),
                lambda: self.iproute2_turn(count, scripts, frr, figures),
            ]
            for turn in turns if run % 2 == 0 else reversed(turns):
                turn()
            if run == 0:
                check_baseline(figures, desired)
            progress(f"{count} VNIs: run {run + 1} of {runs} done")
        return figures

    def pe_plan_turn(self, count: int, config: Path, figures: Figures) -> None:
        host, router = self.names.pe_host, self.names.pe_router
        scenario.make_host(host)
        state = self.work / f"state-{count}.json"
        empty = self.observe(host, router, frr=False)
        self.names.wait_until_idle()

        progress(f"{count} VNIs: pe-plan apply")
        common = ("--node-file", str(self.node_file), "--state", str(state))
        sample, log = self.child(PE_PLAN, "apply", "-f", str(config), *common, "--auto-approve")
        figures.pe["apply"].append(sample)
        figures.pe["apply_frr"].append(sample)
        figures.pe["frr"].append(Sample(sum(int(ms) for ms in FRR_STEP.findall(log)) / 1000))
        steps = STEPS.search(log)
        figures.objects = int(steps[1]) if steps else 0

        scenario.wait_for_dad(host, router)
        settled = scenario.wait_until_frr_settles(router)
        progress(f"{count} VNIs: FRR at rest after {settled:.0f} s; no-op plans")
        if "pe-plan" not in figures.built:
            figures.built["pe-plan"] = self.observe(host, router, frr=False)
        reads = scenario.ip_reads(host, router)
        for _ in range(self.reads):
            figures.pe["plan"].append(self.child(PE_PLAN, "plan", "-f", str(config), *common)[0])
            figures.base["plan"].append(timed(lambda: scenario.run_script(reads)))
            figures.pe["refresh"].append(timed(lambda: self.observe(host, router, frr=True)))
        figures.base["refresh"] = figures.base["plan"]

        self.pure_plan(config, state, empty, figures)
        self.state_file(state, figures)

        progress(f"{count} VNIs: pe-plan destroy")
        try:
            sample, _ = self.child(PE_PLAN, "destroy", *common, "--auto-approve")
        except ChildFailedError as error:
            # The other figures of the run stand; the table says why destroy has none.
            figures.failures.add(f"pe-plan destroy failed: {error.reason}")
            scenario.remove_node(host, router)
        else:
            figures.pe["destroy"].append(sample)
            idle = self.names.wait_until_idle()
            figures.pe["destroy_idle"].append(Sample(sample.seconds + idle))
            scenario.ip("netns", "del", host)
        state.unlink()
        self.names.wait_until_idle()

    def iproute2_turn(
        self,
        count: int,
        scripts: tuple[iproute2.Creation, scenario.Script],
        frr: str,
        figures: Figures,
    ) -> None:
        """The same node with iproute2: created and deleted, then created with FRR.

        pe-plan starts FRR and gives it its config before it creates the VXLANs, and zebra
        then works on every new VXLAN; the second create does the same by hand.
        """
        host, router = self.names.ip_host, self.names.ip_router
        scenario.make_host(host)
        self.names.wait_until_idle()
        progress(f"{count} VNIs: ip -batch create")
        create, delete = scripts
        everything = create.namespace + create.links + create.vxlans
        figures.base["apply"].append(timed(lambda: scenario.run_script(everything)))
        scenario.wait_for_dad(host, router)
        if "iproute2" not in figures.built:
            figures.built["iproute2"] = self.observe(host, router, frr=False)
        progress(f"{count} VNIs: ip -batch delete")
        sample = timed(lambda: scenario.run_script(delete))
        figures.base["destroy"].append(sample)
        idle = self.names.wait_until_idle()
        figures.base["destroy_idle"].append(Sample(sample.seconds + idle))
        scenario.ip("netns", "del", host)
        self.names.wait_until_idle()

        scenario.make_host(host)
        progress(f"{count} VNIs: FRR started by hand, then ip -batch create")

        def by_hand() -> None:
            scenario.run_script(create.namespace + create.links)
            scenario.start_frr(router, frr, self.work)
            scenario.run_script(create.vxlans)

        figures.base["apply_frr"].append(timed(by_hand))
        scenario.remove_node(host, router)
        self.names.wait_until_idle()

    def observe(self, host: str, router: str, *, frr: bool) -> NodeState:
        """The kernel side of a refresh, in this process (FRR's config is not read)."""
        with NetlinkBackend(host_netns=host, router_netns=router) as kernel:
            return refresh(
                kernel,
                None,
                router_netns=router,
                secret_salt=SALT,
                managed_frr=FrrInstance(pathspace=router) if frr else None,
            )

    def pure_plan(self, config: Path, state: Path, empty: NodeState, figures: Figures) -> None:
        """make_plan alone, on what this run read: the applied node and the empty one."""
        settings = load_node_file(self.node_file)
        valid = validate(load_paths([config]))
        recorded_state = StateFile(state).read()
        assert recorded_state is not None
        recorded = NodeState(
            objects=resources_from_state(recorded_state),
            depends_on=depends_on_from_state(recorded_state),
        )
        applied = self.observe(self.names.pe_host, self.names.pe_router, frr=True)
        facts = node_facts(applied, (scenario.NIC,))
        desired = desired_node(valid, settings, 0, facts, hostname="bench", secret_salt=SALT)
        noop = make_plan(desired, applied, recorded, frr_delta=None)
        if not noop.empty:
            raise RuntimeError(f"the applied node does not plan to zero: {noop.summary}")
        figures.pe["pure_noop"] += repeated(
            lambda: make_plan(desired, applied, recorded, frr_delta=None), IN_PROCESS_REPEATS
        )
        nothing = NodeState(objects={})
        figures.pe["pure_empty"] += repeated(
            lambda: make_plan(desired, empty, nothing, frr_delta=None), IN_PROCESS_REPEATS
        )

    def state_file(self, path: Path, figures: Figures) -> None:
        """Write (temp file, fsync, rename) and read (decode and check) the applied state."""
        state = StateFile(path).read()
        assert state is not None
        figures.state_bytes = path.stat().st_size
        with tempfile.TemporaryDirectory(dir=self.work) as copies:
            names = iter(range(IN_PROCESS_REPEATS))

            def write() -> None:
                StateFile(Path(copies) / f"{next(names)}.json").write(state)

            figures.pe["state_write"] += repeated(write, IN_PROCESS_REPEATS)
        figures.pe["state_read"] += repeated(lambda: StateFile(path).read(), IN_PROCESS_REPEATS)


def check_baseline(figures: Figures, desired: NodeState) -> None:
    """Stop unless ``ip -batch`` built the node pe-plan built, as the kernel shows them."""
    built = [iproute2.comparable(figures.built[who], desired) for who in ("pe-plan", "iproute2")]
    wrong = iproute2.differences(*built)
    if wrong:
        listed = "\n".join(f"  {line}" for line in wrong[:20])
        raise RuntimeError(f"ip -batch did not build the node pe-plan built:\n{listed}")


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def ratio_text(ratio: float | None) -> str:
    return f"{ratio:.2f}x" if ratio is not None else ""


def growth_text(key: str, size: int, results: dict[int, Figures]) -> str:
    smaller = [n for n in results if n < size]
    if not smaller:
        return ""
    previous = max(smaller)
    before, now = results[previous].time(key), results[size].time(key)
    if before is None or now is None:
        return ""
    exponent = growth((previous, before), (size, now))
    return f"{exponent:.2f}" if exponent is not None else ""


def print_startup(mine: Sequence[Sample], theirs: Sequence[Sample]) -> float:
    ratio = median([s.seconds for s in mine]) / median([s.seconds for s in theirs])
    peak = median_peak(mine)
    print(f"start-up, medians of {len(mine)}:")
    print(
        f"  pe-plan --version {seconds_text(median([s.seconds for s in mine])):>9}"
        f" ({peak:.0f} MB)   python -c '{IMPORT_LINE}' "
        f"{seconds_text(median([s.seconds for s in theirs]))} ({median_peak(theirs):.0f} MB)"
        f"   ratio {ratio_text(ratio)} (target ≤ {STARTUP_LIMIT:g}x)"
    )
    return ratio


def print_size(
    size: int, runs: int, results: dict[int, Figures], rows: Mapping[str, Row] = ROWS
) -> None:
    figures = results[size]
    print(
        f"\n{size} VNIs ({figures.links} links, {figures.objects} plan steps), "
        f"medians of {runs} run(s); FRR managed"
    )
    header = f"  {'what':<37}{'pe-plan':>9}  {'baseline':<29}{'':>9}{'ratio':>8}"
    print(f"{header}  {'target':<9}{'growth':>7}{'peak RSS':>10}")
    for key, row in rows.items():
        mine = figures.time(key)
        if mine is None:
            continue
        label = row.label
        if key == "state_write":
            label += f" ({figures.state_bytes / 1e6:.1f} MB)"
        theirs = figures.base_time(key)
        peak = median_peak(figures.pe[key])
        print(
            f"  {label:<37}{seconds_text(mine):>9}  {row.baseline:<29}"
            f"{seconds_text(theirs) if theirs is not None else '':>9}"
            f"{ratio_text(figures.ratio(key)):>8}  {row.target:<9}"
            f"{growth_text(key, size, results):>7}"
            f"{f'{peak:.0f} MB' if peak is not None else '':>10}"
        )
    for failure in sorted(figures.failures):
        shown = textwrap.fill(failure, FAILURE_WIDTH, max_lines=FAILURE_LINES, placeholder=" …")
        print(textwrap.indent(shown, "  ! "))


def print_targets(startup_ratio: float, results: dict[int, Figures]) -> None:
    """Each target of issue 7, met or missed and by how much."""
    print("\ntargets:")
    checks = [("start-up vs the bare imports", startup_ratio, STARTUP_LIMIT, "x")]
    figures = results.get(TARGET_SIZE)
    if figures is None:
        print(f"  (the other targets are at {TARGET_SIZE} VNIs, which was not measured)")
        figures = Figures()
    for key, row in ROWS.items():
        ratio, mine = figures.ratio(key), figures.time(key)
        what = f"{row.label.strip()} vs {row.baseline}" if row.baseline else row.label
        if row.ratio_limit is not None and ratio is not None:
            checks.append((what, ratio, row.ratio_limit, "x"))
        if row.ms_limit is not None and mine is not None:
            checks.append((what, mine * 1000, row.ms_limit, " ms"))
    peaks = [p for key in ("apply", "plan", "destroy") if (p := median_peak(figures.pe[key]))]
    if peaks:
        checks.append(("peak RSS of a pe-plan command", max(peaks), PEAK_TARGET_MB, " MB"))
    for what, value, limit, unit in checks:
        verdict = "met" if value <= limit else f"MISSED by {value / limit - 1:.0%}"
        print(f"  {what:<58} {value:7.2f}{unit:<3} (≤ {limit:g}{unit}): {verdict}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    add_run_options(parser, "10,100,1000")
    parser.add_argument("--with-4000", action="store_true", help="add 4000 VNIs (one run)")
    parser.add_argument(
        "--lab-sizes",
        type=sizes_option,
        default="10,100",
        help="numbers of VNIs of the VRF variant in the lab (at most 100 or so: UML is slow)",
    )
    parser.add_argument("--no-lab", action="store_true", help="skip the VRF variant in the lab")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("the benchmark creates network namespaces: run it as root")
    sizes = sorted({*args.sizes, *([4000] if args.with_4000 else [])})

    def terminate(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, terminate)
    results: dict[int, Figures] = {}
    with Bench.opened(args.reads, scenario.L2_NODE) as bench:
        startup_ratio = print_startup(*bench.startup())
        for size in sizes:
            # 4000 VNIs take some ten minutes per run, most of it deleting links.
            runs = 1 if size >= 4000 else args.runs
            results[size] = bench.size(size, runs)
            print_size(size, runs, results)
    print_targets(startup_ratio, results)
    print(f"\n{machine()}")
    if args.no_lab:
        return 0
    return 0 if lab.run_lab(args.lab_sizes, args.runs, args.reads) else 1


def machine() -> str:
    python = sys.version.split()[0]
    return f"machine: {os.cpu_count()} cores, kernel {os.uname().release}, Python {python}"


if __name__ == "__main__":
    raise SystemExit(main())

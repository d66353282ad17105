"""Measuring: whole processes (wall time and peak memory), in-process calls, and the figures.

A child process is timed from spawn to reap and its peak resident memory comes from
``wait4`` (the kernel's ``ru_maxrss`` of that child alone). Children run with bytecode
caching on, in a private cache directory: the environment of these machines sets
``PYTHONDONTWRITEBYTECODE``, which would make every pe-plan start compile its 40 modules
(0.1 s) where an installed pe-plan loads them from ``.pyc`` files; the bare-import baseline
gets the same environment.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple


class Sample(NamedTuple):
    seconds: float
    peak_mb: float | None = None


class ChildFailedError(RuntimeError):
    """A measured command failed: the benchmark's figures would be meaningless.

    ``reason`` is the last line of its output that starts with ``Error:``, or its status.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def child_environment(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    env["NO_COLOR"] = "1"
    return env


def run_child(argv: Sequence[str], env: Mapping[str, str], log: Path) -> Sample:
    """Run ``argv`` with its output in ``log``; its wall time and peak RSS."""
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        lines = log.read_text(errors="replace").splitlines()
        errors = [line for line in lines if line.startswith("Error:")]
        reason = errors[-1] if errors else f"exit status {process.returncode}"
        tail = "\n".join(lines[-15:])
        raise ChildFailedError(f"{' '.join(argv)} exited {process.returncode}:\n{tail}", reason)
    return Sample(seconds, usage.ru_maxrss / 1024)


def timed(action: Callable[[], object]) -> Sample:
    started = time.perf_counter()
    action()
    return Sample(time.perf_counter() - started)


def repeated(action: Callable[[], object], repeats: int) -> list[Sample]:
    return [timed(action) for _ in range(repeats)]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def median_peak(samples: Sequence[Sample]) -> float | None:
    peaks = [s.peak_mb for s in samples if s.peak_mb is not None]
    return statistics.median(peaks) if peaks else None


def growth(small: tuple[int, float], large: tuple[int, float]) -> float | None:
    """The exponent k of t ∝ N^k between two sizes: log(t2/t1) / log(N2/N1)."""
    (n1, t1), (n2, t2) = small, large
    if t1 <= 0 or t2 <= 0 or n1 == n2:
        return None
    return math.log(t2 / t1) / math.log(n2 / n1)


def sizes_option(text: str) -> list[int]:
    """A ``--sizes`` option's value (numbers of VNIs, comma-separated), in increasing order."""
    return sorted({int(n) for n in text.split(",")})


def add_run_options(parser: argparse.ArgumentParser, sizes: str) -> None:
    """``--sizes``, ``--runs`` and ``--reads``, as every benchmark entry point takes them."""
    parser.add_argument(
        "--sizes", type=sizes_option, default=sizes, help="numbers of VNIs, comma-separated"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per size (medians)")
    parser.add_argument("--reads", type=int, default=5, help="no-op plans per run")


def seconds_text(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"

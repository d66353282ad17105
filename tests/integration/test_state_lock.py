"""The state lock between real processes: fail fast with the holder, wait, stale locks.

No root needed: each test starts a second Python process that takes or tries the lock.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pe_plan.errors import StateError
from pe_plan.state_lock import StateLock, lock_path

CHILD = """
import sys, time
from pathlib import Path
from pe_plan.errors import StateError
from pe_plan.state_lock import StateLock

state, mode = Path(sys.argv[1]), sys.argv[2]
if mode == "try":
    try:
        StateLock.acquire(state, "pe-plan plan")
    except StateError as error:
        print(error.message, flush=True)
        sys.exit(3)
    sys.exit(0)
lock = StateLock.acquire(state, "pe-plan apply")
print("locked", flush=True)
if mode == "hold":
    sys.stdin.read()  # until the test closes stdin
else:
    time.sleep(float(mode))
lock.release()
"""


def start_holder(state: Path, mode: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(state), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "locked\n"
    return child


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "pe-plan.state.json"


@pytest.fixture
def holder(state: Path) -> Iterator[subprocess.Popen[str]]:
    child = start_holder(state, "hold")
    yield child
    if child.poll() is None:
        child.kill()
    child.communicate()


def test_second_process_fails_at_once_naming_the_holder(
    state: Path, holder: subprocess.Popen[str]
) -> None:
    started = time.monotonic()
    with pytest.raises(StateError) as error:
        StateLock.acquire(state, "pe-plan plan")
    assert time.monotonic() - started < 1
    assert f"state {state} is locked by pid {holder.pid} (pe-plan apply)" in error.value.message
    assert error.value.message.endswith("; wait for it to finish")
    holder.communicate("")  # the holder releases and exits
    with StateLock.acquire(state, "pe-plan plan") as lock:
        assert lock.stale_holder is None


def test_holder_in_this_process_is_named_to_another_process(state: Path) -> None:
    with StateLock.acquire(state, "pe-plan destroy"):
        started = time.monotonic()
        child = subprocess.run(
            [sys.executable, "-c", CHILD, str(state), "try"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        assert time.monotonic() - started < 10  # mostly interpreter start-up
    assert child.returncode == 3
    assert "(pe-plan destroy)" in child.stdout
    assert "is locked by pid" in child.stdout


def test_timeout_waits_for_the_holder_to_finish(state: Path) -> None:
    child = start_holder(state, "0.5")
    started = time.monotonic()
    with StateLock.acquire(state, "pe-plan plan", timeout=30) as lock:
        assert lock.holder.command == "pe-plan plan"
        assert lock.stale_holder is None
    assert time.monotonic() - started < 30
    assert child.wait(timeout=30) == 0


def test_timeout_gives_up_after_waiting(state: Path, holder: subprocess.Popen[str]) -> None:
    started = time.monotonic()
    with pytest.raises(StateError, match=f"locked by pid {holder.pid}"):
        StateLock.acquire(state, "pe-plan plan", timeout=0.3)
    assert time.monotonic() - started >= 0.3


def test_killed_holder_leaves_a_stale_lock_that_is_taken_and_reported(
    state: Path, holder: subprocess.Popen[str]
) -> None:
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert lock_path(state).exists()  # the kernel dropped the flock, not the info
    with StateLock.acquire(state, "pe-plan apply") as lock:
        assert lock.stale_holder is not None
        assert lock.stale_holder.pid == holder.pid
        assert lock.stale_holder.command == "pe-plan apply"
        assert lock.stale_warning is not None
        assert f"pid {holder.pid} (pe-plan apply)" in lock.stale_warning
        assert "no longer runs" in lock.stale_warning
    assert not lock_path(state).exists()

"""A state write that really fails (full or read-only file system) lands in an errored file.

Each case runs in a throwaway mount namespace (``unshare -m``) with a small tmpfs as the
state's directory, so it needs root; the errored file must then go to the next directory,
outside the namespace, where this test reads it back.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pe_plan.state import decode_state
from tests.integration.conftest import require


@pytest.fixture(autouse=True)
def _can_mount() -> None:
    needs = "needs root and unshare to mount a tmpfs in a private mount namespace"
    require(needs if os.geteuid() != 0 or shutil.which("unshare") is None else None)


CANNOT_MOUNT = 77

CHILD = """
import json, subprocess, sys
from pathlib import Path
import msgspec
from pe_plan.errors import StateError
from pe_plan.state import NodeInfo, StateFile, new_state

mnt, fallback, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
path = mnt / "pe-plan.state.json"
first = StateFile(path).write(new_state(NodeInfo(name="n", index=0, router_namespace="r")))
before = path.read_bytes()
if mode == "full":
    with (mnt / "filler").open("wb", buffering=0) as filler:
        try:
            while True:
                filler.write(bytes(4096))
        except OSError:
            pass
else:
    subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
try:
    StateFile(path, errored_dirs=[mnt, fallback]).write(
        msgspec.structs.replace(first, inputs_digest="changed")
    )
except StateError as error:
    print(json.dumps({
        "message": error.message,
        "hint": error.hint,
        "untouched": path.read_bytes() == before,
        "files": sorted(p.name for p in mnt.iterdir()),
    }))
"""


@pytest.mark.parametrize(
    ("mode", "reason", "files"),
    [
        ("full", "No space left on device", ["filler", "pe-plan.state.json"]),
        ("read-only", "Read-only file system", ["pe-plan.state.json"]),
    ],
)
def test_failed_write_is_saved_elsewhere_and_the_state_is_untouched(
    tmp_path: Path, mode: str, reason: str, files: list[str]
) -> None:
    mnt = tmp_path / "mnt"
    fallback = tmp_path / "fallback"
    mnt.mkdir()
    fallback.mkdir()
    # sh gets the paths as "$1".."$4", so nothing needs quoting; 77 means "cannot mount".
    script = (
        f'mount -t tmpfs -o size=64k tmpfs "$1" || exit {CANNOT_MOUNT}; '
        f'exec {shlex.quote(sys.executable)} -c "$2" "$1" "$3" "$4"'
    )
    argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"]
    run = subprocess.run(
        [*argv, str(mnt), CHILD, str(fallback), mode],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if run.returncode == CANNOT_MOUNT:
        require(f"cannot mount a tmpfs here: {run.stderr.strip()}")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    errored = fallback / "pe-plan.state.json.errored"
    assert reason in report["message"]
    assert f"the new state was saved to {errored}" in report["message"]
    assert f"cp {errored} {mnt / 'pe-plan.state.json'}" in report["hint"]
    assert report["untouched"]
    assert report["files"] == files  # no temp file left behind
    saved = decode_state(errored.read_bytes(), str(errored))
    assert (saved.serial, saved.inputs_digest) == (2, "changed")

"""Boot User-Mode Linux with the host's root file system and run one payload inside it.

The host kernel of these machines has no VRF support, so the lab runs in a UML guest (see
LAB.md in the shared notes). Each :meth:`Guest.run` is one boot: a temporary run directory
on the host holds the generated init script (PID 1 of the guest), the module directory that
``modprobe -d`` needs, UML's own runtime files and an ``out/`` directory where the payload
writes its output, exit status and any artefacts. The guest sees the host through hostfs,
so the payload (a shell command or ``python -m module``) runs from the repository as it is
on disk. The guest's ``/tmp`` (and ``/run``, ``/var/tmp``, ``/etc/frr``, ``/var/log/frr``) are
private to it, except the run directory itself: a payload cannot leave files on the host,
and cannot see scripts placed under the host's ``/tmp`` either. When the payload ends, or
the timeout expires, the UML process group is killed and the run directory removed, so
nothing is left on the host.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

UML_KERNEL = Path("/usr/bin/linux.uml")
UML_MODULES = Path("/usr/lib/uml/modules")
REPO_ROOT = Path(__file__).resolve().parents[2]
# ipv6 first: vrf, vxlan and bridge depend on it and modprobe -d does not always resolve it.
GUEST_MODULES = ("ipv6", "vrf", "vxlan", "veth", "bridge", "macvlan", "dummy")
# Host commands the lab payloads rely on, with the Debian package that ships each.
REQUIRED_TOOLS = {
    "/usr/lib/frr/zebra": "frr",
    "/usr/lib/frr/bgpd": "frr",
    "/usr/bin/vtysh": "frr",
    "/usr/sbin/modprobe": "kmod",
    "/usr/bin/tcpdump": "tcpdump",
    "/usr/sbin/ip": "iproute2",
    "/usr/sbin/bridge": "iproute2",
    "/usr/bin/ping": "iputils-ping",
    "/usr/bin/curl": "curl",
}
CONSOLE_TAIL_LINES = 30


class LabUnavailableError(Exception):
    """The lab cannot run on this machine (not root, UML or a tool missing)."""


def unavailable_reason() -> str | None:
    """Why the lab cannot run here, or None when it can."""
    if sys.platform != "linux":
        return "the lab needs Linux (User-Mode Linux)"
    if os.geteuid() != 0:
        return "the lab needs root (it boots User-Mode Linux with the host root as hostfs)"
    if not UML_KERNEL.is_file():
        return (
            f"User-Mode Linux is not installed (no {UML_KERNEL}): apt-get install user-mode-linux"
        )
    if not any(UML_MODULES.glob("*/kernel")):
        return f"no UML kernel modules under {UML_MODULES}: apt-get install user-mode-linux"
    missing = sorted({pkg for tool, pkg in REQUIRED_TOOLS.items() if not Path(tool).exists()})
    if missing:
        return f"missing Debian packages for the lab: apt-get install {' '.join(missing)}"
    return None


@dataclass(frozen=True)
class GuestRun:
    """What one boot produced: the payload's status and output, and the files it left in out/."""

    status: int | None  # None when the payload never reported (timeout, crash)
    output: str
    console_tail: str
    seconds: float
    timed_out: bool
    files: dict[str, bytes] = field(default_factory=dict)
    kept_dir: Path | None = None

    def ending(self, payload: str) -> str:
        """How a run that did not report success ended; ``payload`` names what ran in it."""
        if self.timed_out:
            return f"the guest did not finish within {self.seconds:.0f} s and was killed"
        if self.status is None:
            return f"the guest stopped before {payload} reported an exit status"
        return f"{payload} exited {self.status} in the guest"


@dataclass(frozen=True)
class Guest:
    """One UML configuration; :meth:`run` boots it once per payload."""

    memory: str = "1G"
    timeout: float = 600.0
    keep: bool = False  # keep the run directory for debugging instead of removing it
    env: dict[str, str] = field(default_factory=dict)

    def run_python(self, module: str, *args: str) -> GuestRun:
        """Run ``python -m module args`` in the guest, with this interpreter and the repo as cwd."""
        return self.run([sys.executable, "-m", module, *args])

    def run_shell(self, command: str) -> GuestRun:
        """Run a shell command line in the guest."""
        return self.run(["/bin/sh", "-c", command])

    def run(self, argv: list[str]) -> GuestRun:
        """Boot the guest, run ``argv`` from the repository root, and return what it produced.

        The environment variable ``LAB_OUT`` tells the payload where to leave artefacts; every
        regular file there is returned in :attr:`GuestRun.files`.
        """
        reason = unavailable_reason()
        if reason is not None:
            raise LabUnavailableError(reason)
        run_dir = Path(tempfile.mkdtemp(prefix="pe-lab-"))
        try:
            return self._boot(run_dir, argv)
        finally:
            if not self.keep:
                shutil.rmtree(run_dir, ignore_errors=True)

    def _boot(self, run_dir: Path, argv: list[str]) -> GuestRun:
        out = run_dir / "out"
        out.mkdir()
        modules = run_dir / "modules"
        (modules / "lib").mkdir(parents=True)
        (modules / "lib" / "modules").symlink_to(UML_MODULES)
        uml_dir = run_dir / "uml"
        uml_dir.mkdir()
        init = run_dir / "init.sh"
        init.write_text(self._init_script(run_dir, argv))
        init.chmod(0o755)
        console = run_dir / "console.log"
        command = [
            str(UML_KERNEL),
            f"mem={self.memory}",
            "root=/dev/root",
            "rootfstype=hostfs",
            "rootflags=/",
            "rw",
            f"init={init}",
            f"uml_dir={uml_dir}",
            "con=null",
            "con0=fd:0,fd:1",
        ]
        started = time.monotonic()
        with console.open("wb") as console_file:
            # A session of its own: UML forks helper processes, and a timeout kills them all.
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=console_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                timed_out = not _wait_unreaped(process.pid, self.timeout)
            finally:
                _kill_group(process)
        seconds = time.monotonic() - started
        status_file = out / "status"
        status_text = status_file.read_text().strip() if status_file.exists() else ""
        status_file.unlink(missing_ok=True)
        output_file = out / "output.txt"
        output = output_file.read_text(errors="replace") if output_file.exists() else ""
        output_file.unlink(missing_ok=True)
        files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}
        tail = console.read_text(errors="replace").splitlines()[-CONSOLE_TAIL_LINES:]
        return GuestRun(
            status=int(status_text) if status_text.isdigit() else None,
            output=output,
            console_tail="\n".join(tail),
            seconds=seconds,
            timed_out=timed_out,
            files=files,
            kept_dir=run_dir if self.keep else None,
        )

    def _init_script(self, run_dir: Path, argv: list[str]) -> str:
        out = run_dir / "out"
        modules = " ".join(GUEST_MODULES)
        env = {
            "LAB_OUT": str(out),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "HOME": "/root",
            "LANG": "C.UTF-8",
            **self.env,
        }
        exports = "\n".join(f"export {key}={shlex.quote(value)}" for key, value in env.items())
        q = shlex.quote
        shared = _under_tmp([run_dir, REPO_ROOT, Path(sys.prefix)])
        keep_before = "\n".join(
            f"mkdir -p /run/lab-keep/{i} && mount --bind {q(str(path))} /run/lab-keep/{i}"
            for i, path in enumerate(shared)
        )
        keep_after = "\n".join(
            f"mkdir -p {q(str(path))} && mount --move /run/lab-keep/{i} {q(str(path))}"
            for i, path in enumerate(shared)
        )
        return f"""#!/bin/sh
# PID 1 of a pe-plan lab guest, generated by tests/lab/guest.py.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# Runtime directories private to the guest, so netns handles and FRR sockets stay inside it.
mount -t tmpfs tmpfs /run
[ -L /var/run ] || mount -t tmpfs tmpfs /var/run
mount -t tmpfs tmpfs /var/tmp
mkdir -p /dev/shm && mount -t tmpfs tmpfs /dev/shm
# There is no usable /dev/fd otherwise (bash process substitution, some tools).
ln -sfn /proc/self/fd /dev/fd
# The guest writes to the host's disk through hostfs: give it private copies of the places
# FRR and temporary files write to. Under /tmp only this run directory (and the repository
# and venv, should they live there) stay shared with the host.
{keep_before}
mount -t tmpfs tmpfs /tmp
{keep_after}
mkdir /run/etc-frr && cp -a /etc/frr/. /run/etc-frr/ && mount --bind /run/etc-frr /etc/frr
mount -t tmpfs -o mode=0750 tmpfs /var/log/frr && chown frr:frr /var/log/frr
# What systemd-tmpfiles does at boot for the frr package (/usr/lib/tmpfiles.d/frr.conf).
install -d -o frr -g frr -m 0755 /run/frr
for module in {modules}; do
    modprobe -d {q(str(run_dir / "modules"))} "$module" || echo "modprobe $module failed" >&2
done
ip link set lo up
{exports}
cd {q(str(REPO_ROOT))}
{shlex.join(argv)} </dev/null >{q(str(out / "output.txt"))} 2>&1
echo $? >{q(str(out / "status"))}
sync
halt -f
"""


def _under_tmp(paths: list[Path]) -> list[Path]:
    """The paths under /tmp, without those inside another one of them, outermost first."""
    tmp = Path("/tmp")
    inside = sorted({p.resolve() for p in paths if p.resolve().is_relative_to(tmp)})
    return [p for p in inside if not any(p != o and p.is_relative_to(o) for o in inside)]


def _wait_unreaped(pid: int, timeout: float) -> bool:
    """Wait until ``pid`` exits, without reaping it; False when the timeout expired first.

    The exited leader stays a zombie until :func:`_kill_group` has killed the rest of its
    group, so the group id cannot have been reused by an unrelated process meanwhile.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is not None:
            return True
        time.sleep(0.2)
    return False


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill what is left of the UML process group (its helpers may outlive the main process)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()

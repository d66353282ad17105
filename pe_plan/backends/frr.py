"""FRR backend: talk to an FRR instance through vtysh, and run one in managed mode.

:class:`Vtysh` reads the running config, applies an :class:`~pe_plan.frr_diff.FrrDelta`,
and snapshots/restores the running config for rollback. It reaches the instance by its
pathspace (``vtysh -N``) or by the directory of its vty sockets (``--vty_socket``, for an
FRR running elsewhere, such as a router container). :class:`ManagedFrr` starts and stops
the daemons of one router namespace (SPEC 6, managed mode) the way LAB.md verified: each
daemon daemonised inside the namespace with a pathspace and an empty config file, the
config then loaded through vtysh; no ``/etc/frr/daemons`` or init script is involved.

Every process and signal goes through a runner passed in (:class:`CommandRunner`,
:class:`ProcessControl`), so both classes are tested with fakes; :class:`LocalHost` is the
real one.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import msgspec

from pe_plan.errors import BackendError
from pe_plan.frr_diff import FrrDelta, diff_frr
from pe_plan.frr_render import SECRET_LINE_RE, mask_secrets
from pe_plan.secrets import for_display

RUN_DIR = Path("/var/run/frr")
DAEMON_DIR = Path("/usr/lib/frr")
MANAGED_DAEMONS = ("zebra", "bgpd", "staticd", "bfdd")
# What pe-plan needs to read and write its config; other daemons are optional.
REQUIRED_DAEMONS = ("zebra", "bgpd")
FRR_USER = "frr"
# vtysh reads the change from its standard input through this path, so that passwords
# never appear in a command line (readable by every user) or in a file.
STDIN_PATH = "/proc/self/fd/0"
FAILED_LINE_RE = re.compile(r"^line (\d+): (.*)$", re.MULTILINE)
NOT_CONNECTED = "failed to connect to any daemons"
# bgpd keeps a VRF's BGP instance while the VRF has an L3VNI, and lets the L3VNI go only
# when zebra tells it that the VNI's VXLAN or its `vni` line is gone: a message that comes
# after the change that removed them, seconds later for a hundred VRFs. Until then it
# refuses `no router bgp ASN vrf X`, and the default instance's removal after them.
_WAITING_FOR_ZEBRA = ("Please unconfigure l3vni", "Dependent VRF instances exist")
_BGP_REMOVAL_RE = re.compile(r"no router bgp \d+( vrf \S+)?")
# Seconds between attempts at lines that wait for zebra: a minute in all.
RETRY_DELAYS = (0.1, 0.2, 0.5, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0)


class CommandResult(msgspec.Struct, frozen=True):
    returncode: int
    stdout: str
    stderr: str


class CommandRunner(Protocol):
    def run(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float
    ) -> CommandResult: ...


class ProcessControl(CommandRunner, Protocol):
    def cmdline(self, pid: int) -> tuple[str, ...] | None:
        """The process's argv, or None when there is no such (live) process."""

    def signal(self, pid: int, signum: int) -> None:
        """Send a signal; a process that is already gone is not an error."""


class LocalHost:
    """The real runner: subprocesses, ``/proc`` and signals of this machine."""

    def run(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float
    ) -> CommandResult:
        try:
            done = subprocess.run(
                argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
            )
        except FileNotFoundError as exc:
            raise BackendError(
                f"cannot run {argv[0]}: not found",
                hint="install FRR and iproute2 (apt-get install frr iproute2)",
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise BackendError(f"{shlex.join(argv[:4])} … did not finish in {timeout} s") from exc
        return CommandResult(returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)

    def cmdline(self, pid: int) -> tuple[str, ...] | None:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return None
        # A zombie has an empty command line: it is no longer running.
        return tuple(raw.decode(errors="replace").split("\0")[:-1]) or None

    def signal(self, pid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


class Vtysh:
    """One FRR instance as seen through vtysh.

    ``required`` are the daemons that must answer: without bgpd a running config would
    silently lack every BGP line and the plan would re-add them all.
    """

    def __init__(
        self,
        runner: CommandRunner,
        *,
        pathspace: str | None = None,
        vty_socket: Path | None = None,
        binary: str = "vtysh",
        required: Sequence[str] = REQUIRED_DAEMONS,
        timeout: float = 120.0,
        start_hint: str | None = None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
    ) -> None:
        if pathspace is None and vty_socket is None:
            msg = "Vtysh needs a pathspace or a vty socket directory"
            raise ValueError(msg)
        self.runner = runner
        self.pathspace = pathspace
        self.vty_socket = vty_socket
        self.binary = binary
        self.required = tuple(required)
        self.timeout = timeout
        self.retry_delays = tuple(retry_delays)
        self.start_hint = start_hint or self._default_hint()

    @property
    def instance(self) -> str:
        """The instance as people should recognise it in an error."""
        if self.vty_socket is not None:
            return f"with vty sockets in {self.vty_socket}"
        return f'"{self.pathspace}" (vtysh -N {self.pathspace}, in {RUN_DIR}/{self.pathspace})'

    def reachable(self) -> bool:
        result = self._vtysh("-c", "show daemons")
        return result.returncode == 0 and self._missing(result.stdout) == ()

    def running_config(self) -> str:
        """``show running-config``, once every required daemon is known to answer."""
        result = self._vtysh("-c", "show daemons", "-c", "show running-config")
        if result.returncode != 0:
            raise self._unreachable(result.stderr or result.stdout)
        daemons, _, config = result.stdout.partition("\n")
        missing = self._missing(daemons)
        if missing:
            raise self._unreachable(f"{', '.join(missing)} not running")
        return config

    def apply(self, delta: FrrDelta) -> None:
        """Apply the delta's commands in one vtysh run; any rejected line is an error.

        Why vtysh and not frr-reload.py: the plan already holds the exact delta, which
        must be applied as shown (frr-reload.py diffs again, with its own rules, and would
        e.g. remove zebra's ``no ip forwarding``); it runs one vtysh process where
        frr-reload.py runs one per removal (slow in the lab VM), it keeps passwords out of
        logs, and it names the line FRR refused. vtysh -f goes on after a refused line;
        the caller rolls back to its snapshot. BGP instances that bgpd keeps until zebra
        has caught up (see ``_WAITING_FOR_ZEBRA``) are removed again, for up to a minute.
        """
        if delta.empty:
            return
        commands: Sequence[str] = delta.commands()
        for delay in (*self.retry_delays, None):
            refusal = self._run_script(commands)
            if refusal is None:
                return
            if delay is None or not refusal.waits_for_zebra():
                raise refusal.error()
            time.sleep(delay)
            commands = refusal.lines()

    def _run_script(self, commands: Sequence[str]) -> _Refusal | None:
        script = "\n".join(commands) + "\n"
        result = self._vtysh("-f", STDIN_PATH, stdin=script)
        if NOT_CONNECTED in result.stderr:
            raise self._unreachable(result.stderr)
        failures = FAILED_LINE_RE.findall(result.stderr)
        if not failures and result.returncode == 0:
            return None
        if not failures:
            raise BackendError(
                f"vtysh failed on FRR instance {self.instance}: "
                + _redact(result.stderr.strip(), script)
            )
        return _Refusal(commands, script, result, failures)

    def snapshot(self) -> str:
        """The running config, to restore on rollback (holds secrets: never print it)."""
        return self.running_config()

    def restore(self, snapshot: str) -> None:
        """Bring the running config back to ``snapshot``, and check that it is."""
        self.apply(diff_frr(self.running_config(), snapshot))
        # Public forms compare equal exactly when the real ones do, and can be shown.
        left = diff_frr(mask_secrets(self.running_config(), ""), mask_secrets(snapshot, ""))
        if not left.empty:
            raise BackendError(
                f"FRR instance {self.instance} still differs from its snapshot after restore:\n"
                + for_display("\n".join(left.lines())),
                hint="compare `vtysh -c 'show running-config'` with the state file's FRR config",
            )

    def _vtysh(self, *args: str, stdin: str | None = None) -> CommandResult:
        argv = [self.binary]
        if self.pathspace is not None:
            argv += ["-N", self.pathspace]
        if self.vty_socket is not None:
            argv += ["--vty_socket", str(self.vty_socket)]
        return self.runner.run([*argv, *args], stdin=stdin, timeout=self.timeout)

    def _missing(self, daemons: str) -> tuple[str, ...]:
        running = set(daemons.split())
        return tuple(d for d in self.required if d not in running)

    def _unreachable(self, detail: str) -> BackendError:
        reason = detail.strip().splitlines()[-1] if detail.strip() else "no answer"
        return BackendError(
            f"FRR instance {self.instance} is not reachable: {reason}", hint=self.start_hint
        )

    def _default_hint(self) -> str:
        if self.vty_socket is not None:
            return (
                f"start the external FRR instance (e.g. the router container) so that its vty "
                f"sockets appear in {self.vty_socket}, or point pe-plan at the right directory"
            )
        return (
            "in managed mode `pe-plan apply` starts it; by hand: "
            f"ip netns exec <router namespace> {DAEMON_DIR}/zebra -N {self.pathspace} -d "
            "-A 127.0.0.1 -P 0 -f /dev/null, then the same for bgpd, staticd and bfdd"
        )


class ManagedFrr:
    """The FRR daemons of one router namespace, started and stopped by pe-plan."""

    def __init__(
        self,
        host: ProcessControl,
        *,
        namespace: str,
        pathspace: str | None = None,
        daemons: Sequence[str] = MANAGED_DAEMONS,
        run_dir: Path = RUN_DIR,
        daemon_dir: Path = DAEMON_DIR,
        user: str = FRR_USER,
        timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.namespace = namespace
        self.pathspace = pathspace or namespace
        self.daemons = tuple(daemons)
        self.run_dir = run_dir
        self.daemon_dir = daemon_dir
        self.user = user
        self.timeout = timeout

    @property
    def instance_dir(self) -> Path:
        """Where the daemons put their pid files and sockets (``-N`` picks it)."""
        return self.run_dir / self.pathspace

    def start_command(self, daemon: str) -> list[str]:
        # -f /dev/null: the config comes through vtysh; fed a whole integrated file, each
        # daemon complains about every line that belongs to another one. -P 0: no TCP vty.
        return [
            "ip",
            "netns",
            "exec",
            self.namespace,
            str(self.daemon_dir / daemon),
            "-N",
            self.pathspace,
            "-d",
            "-A",
            "127.0.0.1",
            "-P",
            "0",
            "-f",
            "/dev/null",
        ]

    @property
    def start_hint(self) -> str:
        """How to start this instance by hand (for errors that find it down)."""
        commands = "; ".join(shlex.join(self.start_command(d)) for d in self.daemons)
        return f"`pe-plan apply` starts it in managed mode; by hand: {commands}"

    def running(self) -> bool:
        """Whether every daemon is alive and listening on its vty socket."""
        return all(self._pid(d) is not None and self._vty(d).exists() for d in self.daemons)

    def _vty(self, daemon: str) -> Path:
        return self.instance_dir / f"{daemon}.vty"

    def start(self) -> None:
        """Start the daemons that are not running (nothing when all are) and wait for them.

        A daemon alive without its vty socket is being stopped (:meth:`stop` removes the
        sockets first): a stop cut short by a crash leaves daemons exiting, or still to be
        signalled, which would otherwise pass for running and be gone a moment later. They
        are stopped for good before the instance starts again.
        """
        if self.running():
            return
        if any(self._pid(d) is not None and not self._vty(d).exists() for d in self.daemons):
            self.stop()
        # The daemons drop to the frr user and create their sockets here; on a fresh
        # /var/run (the lab VM's tmpfs) neither directory exists.
        self._run(
            [
                "install",
                "-d",
                "-o",
                self.user,
                "-g",
                self.user,
                "-m",
                "0755",
                str(self.run_dir),
                str(self.instance_dir),
            ],
            "prepare the FRR runtime directory",
        )
        for daemon in self.daemons:  # zebra first: the others connect to it
            if self._pid(daemon) is None:
                self._run(self.start_command(daemon), f"start {daemon}")
        self._wait(self.running, f"the vty sockets of {', '.join(self.daemons)}")

    def stop(self) -> None:
        """Stop the daemons and remove what they leave behind (pid files, sockets)."""
        pids = {d: pid for d in reversed(self.daemons) if (pid := self._pid(d)) is not None}
        # Sockets first: whoever finds a daemon alive without one knows it is being stopped.
        for daemon in self.daemons:
            self._vty(daemon).unlink(missing_ok=True)
        for pid in pids.values():
            self.host.signal(pid, signal.SIGTERM)

        def all_gone() -> bool:
            return all(self._pid(d) != pid for d, pid in pids.items())

        try:
            self._wait(all_gone, "the daemons to exit")
        except BackendError:
            for pid in pids.values():
                self.host.signal(pid, signal.SIGKILL)
            self._wait(all_gone, "the daemons to exit after SIGKILL")
        for name in (
            *(f"{d}.{suffix}" for d in self.daemons for suffix in ("pid", "vty")),
            "zserv.api",
            "bfdd.sock",
        ):
            (self.instance_dir / name).unlink(missing_ok=True)
        if self.instance_dir.is_dir() and not any(self.instance_dir.iterdir()):
            self.instance_dir.rmdir()

    def _pid(self, daemon: str) -> int | None:
        """The pid of ``daemon`` of this instance, if it runs (a stale pid file is not)."""
        try:
            pid = int((self.instance_dir / f"{daemon}.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        argv = self.host.cmdline(pid)
        # The pid may have been reused since the daemon died: check that it is ours.
        if not argv or Path(argv[0]).name != daemon:
            return None
        if any(a == "-N" and b == self.pathspace for a, b in itertools.pairwise(argv)):
            return pid
        return None

    def _run(self, argv: list[str], what: str) -> None:
        result = self.host.run(argv, timeout=self.timeout)
        if result.returncode != 0:
            raise BackendError(
                f"cannot {what} for FRR instance {self.pathspace} in namespace "
                f"{self.namespace}: {result.stderr.strip() or result.stdout.strip()}",
                hint=f"the namespace {self.namespace} must exist (pe-plan apply creates it) "
                "and FRR must be installed (apt-get install frr)",
            )

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while not done():
            if time.monotonic() > deadline:
                raise BackendError(
                    f"timed out after {self.timeout} s waiting for {what} "
                    f"(FRR instance {self.pathspace})",
                    hint="run the start command without -d to see the daemon's own errors: "
                    + shlex.join(self.start_command(self.daemons[0])).replace(" -d ", " "),
                )
            time.sleep(0.05)


class _Refusal:
    """The lines vtysh reported as refused in one run, and why."""

    def __init__(
        self,
        commands: Sequence[str],
        script: str,
        result: CommandResult,
        failures: list[tuple[str, str]],
    ) -> None:
        self.commands = commands
        self.script = script
        self.failed = [int(number) for number, _ in failures]
        self.first_reason = failures[0][1]
        # The daemon's reason goes to stdout ("% Specify remote-as ..."); vtysh's own
        # ("% Unknown command[25]: <line>") only to stderr.
        self.reasons = [line for line in result.stdout.splitlines() if line.startswith("%")]

    def lines(self) -> list[str]:
        return [self.commands[number - 1] for number in self.failed]

    def waits_for_zebra(self) -> bool:
        """Every refused line removes a BGP instance, which bgpd keeps until zebra catches up."""
        return (
            bool(self.reasons)
            and all(_BGP_REMOVAL_RE.fullmatch(line.strip()) for line in self.lines())
            and all(any(known in why for known in _WAITING_FOR_ZEBRA) for why in self.reasons)
        )

    def error(self) -> BackendError:
        script = self.script
        first = self.commands[self.failed[0] - 1].strip()
        reasons = " ".join(self.reasons)
        reasons = reasons or re.sub(r"\[\d+\]", "", self.first_reason).partition(":")[0]
        count = len(self.failed)
        more = f" (and {count - 1} more lines)" if count > 1 else ""
        return BackendError(
            f"FRR rejected the line {_redact(first, script)!r} (line {self.failed[0]} of the "
            f"change){more}: {_redact(reasons, script)}",
            hint="pe-plan renders for FRR 8.4: check the version with vtysh -c 'show version'",
        )


def _redact(text: str, script: str) -> str:
    """``text`` with every secret of ``script`` replaced by ``(sensitive)``.

    FRR echoes refused lines inside its own messages, where a secret is no longer at a
    line's end; replacing the known values catches it wherever it is.
    """
    for match in SECRET_LINE_RE.finditer(script):
        text = text.replace(match["secret"], "(sensitive)")
    return text

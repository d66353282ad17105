"""Running commands inside the lab guest, with a log of every command for post-mortems.

Process creation is slow in UML (about 0.1 s per ``ip``, 0.5 s per ``vtysh``, 1.2 s for a
Python start and 3 to 8 s more to import pyroute2), so the lab builds namespaces with one
``ip -batch`` per namespace rather than with pyroute2 or one ``ip`` per object, and waits for
FRR by reading its log file rather than by polling vtysh.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT = 120.0


class CommandError(Exception):
    """A command the lab depends on failed; the message has its output."""


@dataclass(frozen=True)
class Completed:
    """The result of one command: exit status, combined output and duration."""

    argv: tuple[str, ...]
    status: int
    output: str
    seconds: float


def in_netns(namespace: str, argv: list[str]) -> list[str]:
    """``argv`` run inside a named network namespace."""
    return ["ip", "netns", "exec", namespace, *argv]


class Shell:
    """Runs commands and background processes in the guest, logging each to ``log``."""

    def __init__(self, log: Path) -> None:
        self._log = log
        self._background: list[subprocess.Popen[bytes]] = []

    def run(
        self,
        argv: list[str],
        *,
        check: bool = True,
        stdin: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        merge_stderr: bool = True,
    ) -> Completed:
        """Run ``argv`` to completion; raise :class:`CommandError` on failure when ``check``.

        ``merge_stderr=False`` keeps stderr out of the output (it is only logged): vtysh
        warns on stderr about a missing per-pathspace vtysh.conf, which would break JSON.
        """
        started = time.monotonic()
        errors = ""
        try:
            process = subprocess.run(
                argv,
                input=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                text=True,
                timeout=timeout,
                check=False,
            )
            status, output, errors = process.returncode, process.stdout, process.stderr or ""
        except subprocess.TimeoutExpired as expired:
            partial = expired.stdout
            text = partial.decode(errors="replace") if isinstance(partial, bytes) else partial
            status, output = -1, f"{text or ''}\n(timed out after {timeout:.0f} s)"
        done = Completed(tuple(argv), status, output, time.monotonic() - started)
        self._record(done, errors)
        if check and status != 0:
            raise CommandError(f"{shlex.join(argv)} exited {status}:\n{output.strip()}")
        return done

    def ip_batch(self, namespace: str | None, commands: list[str]) -> None:
        """Run ``ip`` commands in one process (``ip -batch``), in ``namespace`` if given."""
        prefix = ["ip"] if namespace is None else ["ip", "-n", namespace]
        self.run([*prefix, "-batch", "-"], stdin="".join(f"{c}\n" for c in commands))

    def bridge_batch(self, namespace: str, commands: list[str]) -> None:
        """Run ``bridge`` commands in one process in ``namespace``."""
        self.run(
            ["bridge", "-n", namespace, "-batch", "-"], stdin="".join(f"{c}\n" for c in commands)
        )

    def ip_json(self, namespace: str, *args: str) -> Any:
        """The JSON output of ``ip -j -n namespace args``."""
        return json.loads(self.run(["ip", "-j", "-n", namespace, *args]).output or "[]")

    def vtysh_json(self, pathspace: str, command: str) -> Any:
        """The JSON answer of one vtysh show command (``{}`` when FRR is not answering)."""
        done = self.run(["vtysh", "-N", pathspace, "-c", command], check=False, merge_stderr=False)
        if done.status != 0:
            return {}
        try:
            return json.loads(done.output)
        except json.JSONDecodeError:
            return {}

    def spawn(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        """Start a background process with its output in ``log``; :meth:`close` stops it."""
        with log.open("wb") as output:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
            )
        self._background.append(process)
        self._note(f"$ {shlex.join(argv)} &  (pid {process.pid}, output in {log})")
        return process

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
        """Stop one background process (SIGTERM, then SIGKILL)."""
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process in self._background:
            self._background.remove(process)

    def close(self) -> None:
        """Stop every background process still running."""
        for process in list(self._background):
            self.stop(process)

    def note(self, text: str) -> None:
        """Add a free-form line to the command log."""
        self._note(text)

    def _record(self, done: Completed, errors: str) -> None:
        output = (done.output + errors).rstrip()
        self._note(
            f"$ {shlex.join(done.argv)}  -> {done.status} in {done.seconds:.2f} s"
            + (f"\n{output}" if output else "")
        )

    def _note(self, text: str) -> None:
        with self._log.open("a") as log:
            log.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")

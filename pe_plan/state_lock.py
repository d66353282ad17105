"""State lock: one pe-plan command at a time per state file, and who holds it when not.

The lock is an exclusive ``flock`` on ``<state>.lock``, taken without blocking for the
whole command; the file holds JSON about the holder (pid, host, user, command, since), so a
second command fails at once with "locked by pid 1234 (pe-plan apply) since …" instead of
hanging, or waits up to a timeout it asked for. The kernel drops a ``flock`` when its
process dies, so a crashed holder never blocks anyone; but its info file stays behind, and
the next holder reports it as :attr:`StateLock.stale_holder`, because a command that died
halfway is worth a look. Release removes the file while still holding the lock; a waiter
that then locks the removed file notices and locks the new one instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import getpass
import os
import socket
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import msgspec

from pe_plan.errors import StateError

POLL_SECONDS = 0.1
MAX_INFO_BYTES = 64 * 1024


class LockHolder(msgspec.Struct, frozen=True):
    """Who holds (or held) a state lock; ``since`` is an ISO 8601 UTC time."""

    pid: int
    hostname: str
    user: str
    command: str
    since: str

    def describe(self) -> str:
        return (
            f"pid {self.pid} ({self.command}) on {self.hostname} as {self.user} since {self.since}"
        )


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(f"{state_path.name}.lock")


class StateLock:
    """An exclusive hold on a state file for one command; use :meth:`acquire`.

    ``stale_holder`` is the info a previous holder left behind when it ended without
    releasing the lock (killed, crashed), ``None`` after a clean release.
    """

    def __init__(
        self, path: Path, fd: int, holder: LockHolder, stale_holder: LockHolder | None
    ) -> None:
        self.path = path
        self.holder = holder
        self.stale_holder = stale_holder
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_path: Path, command: str, *, timeout: float = 0.0) -> StateLock:
        """Lock ``state_path`` for ``command`` (e.g. ``pe-plan apply``).

        Fails at once when another process holds it, or after ``timeout`` seconds of
        retrying, with a :class:`StateError` naming the holder.
        """
        path = lock_path(state_path)
        deadline = time.monotonic() + timeout
        fd = _lock(path, state_path, deadline)
        try:
            stale = _read_holder(fd)
            holder = LockHolder(
                pid=os.getpid(),
                hostname=socket.gethostname(),
                user=_user(),
                command=command,
                since=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            )
            os.ftruncate(fd, 0)
            os.pwrite(fd, msgspec.json.encode(holder) + b"\n", 0)
        except OSError as exc:
            # Removed while still locked, as release does: a full disk leaves nothing behind.
            with contextlib.suppress(OSError):
                path.unlink()
            os.close(fd)
            raise StateError(
                f"cannot record the lock holder in {path}: {exc.strerror}",
                hint="check the permissions of the state's directory",
            ) from exc
        return cls(path, fd, holder, stale)

    @property
    def stale_warning(self) -> str | None:
        """What to tell the user about a holder that ended without releasing the lock."""
        stale = self.stale_holder
        if stale is None:
            return None
        if stale.hostname != socket.gethostname():
            fate = f"ran on {stale.hostname}, so whether it still runs cannot be seen here"
        elif _pid_exists(stale.pid):
            fate = "has gone, and its pid now belongs to another process"
        else:
            fate = "no longer runs"
        return (
            f"the previous lock on {self.path} was not released: {stale.describe()}; that "
            f"process {fate}. Its command may have stopped halfway: an apply or destroy cut "
            "short is rolled back by `pe-plan recover` (commands refuse to plan until then), "
            "anything else shows in `pe-plan plan`"
        )

    def release(self) -> None:
        """Remove the holder info and unlock; releasing twice does nothing."""
        if self._fd is None:
            return
        # Removed while still locked, so that nobody can lock this file in between and
        # believe it holds the lock while a newcomer locks a new file of the same name.
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        except OSError:
            # A directory gone read-only: the lock still ends with the descriptor, and with
            # the holder info emptied the next command does not report a stale holder.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


def _lock(path: Path, state_path: Path, deadline: float) -> int:
    """A descriptor of ``path`` with an exclusive flock on it, retrying until ``deadline``."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StateError(
                f"cannot create the lock file {path}: {exc.strerror}",
                hint="check that the state's directory exists and is writable",
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            if time.monotonic() >= deadline:
                who = holder.describe() if holder else "another process (it has not said who)"
                raise StateError(
                    f"state {state_path} is locked by {who}; wait for it to finish",
                    hint="run the command again when the other one has finished, or give a "
                    "lock timeout to wait for it",
                ) from None
            time.sleep(POLL_SECONDS)
            continue
        if _is_current(fd, path):
            return fd
        os.close(fd)  # the holder removed this file as it released it; lock the new one


def _is_current(fd: int, path: Path) -> bool:
    try:
        on_disk = path.stat()
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


def _read_holder(fd: int) -> LockHolder | None:
    """The holder info in the lock file, ``None`` when empty or unreadable (being written)."""
    try:
        return msgspec.json.decode(os.pread(fd, MAX_INFO_BYTES, 0), type=LockHolder)
    except (OSError, msgspec.DecodeError):
        return None


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    return True


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())

"""The apply journal: what to run, in reverse, to undo an apply that did not finish.

Before each write to the node, apply appends the operation that undoes it to a JSON-lines
file next to the state and fsyncs it. If pe-plan dies (SIGKILL, power loss) the journal
stays behind; every command then refuses to plan until ``pe-plan recover`` has replayed it.
A torn last line (the crash hit the append itself) is ignored: its write never started,
because the record always comes before the write. Each undo step that has run is marked
done in the journal, so that running it again (after a rollback that failed halfway) runs
only what is left: an undo step is safe to replay on the node it was made for, not on the
node that later undo steps made. The FRR running config from before the apply, which holds
passwords, is kept beside the journal in a 0600 file of its own (:func:`snapshot_path`),
and goes with it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import msgspec

from pe_plan.errors import StateError
from pe_plan.operations import Operation


class JournalHeader(msgspec.Struct, frozen=True, tag="begin"):
    """Who wrote the journal, for which node, and the state serial it started from.

    ``state_serial`` is ``None`` when there was no state yet. Once the command has written
    its state the serial is another one: the apply was complete and recorded, and only the
    removal of the journal was missed.
    """

    pid: int
    command: str
    started: str
    node: str
    router_namespace: str
    state_serial: int | None


class UndoEntry(msgspec.Struct, frozen=True, tag="undo"):
    """Undo ``undo`` to reverse part of ``action`` (a plan address)."""

    seq: int
    action: str
    undo: Operation


class UndoneEntry(msgspec.Struct, frozen=True, tag="undone"):
    """The undo entry ``seq`` has run and worked."""

    seq: int


Line = JournalHeader | UndoEntry | UndoneEntry
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Line)


def journal_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".journal")


def snapshot_path(path: Path) -> Path:
    """Where the FRR snapshot of the journal ``path`` is kept (absolute: ``pe-plan recover``
    may run from another directory)."""
    return path.with_name(path.name + ".frr").absolute()


class Journal:
    """An open journal: of the running apply (:meth:`begin`) or of one left behind
    (:meth:`resume`)."""

    def __init__(self, path: Path, header: JournalHeader, stream: BinaryIO, seq: int) -> None:
        self.path = path
        self.header = header
        self.snapshot = snapshot_path(path)
        self._file = stream
        self._seq = seq

    @classmethod
    def begin(
        cls, path: Path, command: str, node: str, *, router_namespace: str, state_serial: int | None
    ) -> Journal:
        refuse_if_pending(path, state_serial)
        header = JournalHeader(
            pid=os.getpid(),
            command=command,
            started=datetime.now(UTC).isoformat(timespec="seconds"),
            node=node,
            router_namespace=router_namespace,
            state_serial=state_serial,
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        except OSError as err:
            raise _unwritable(path, err) from err
        journal = cls(path, header, os.fdopen(fd, "ab"), 0)
        try:
            journal._append(header)
        except StateError:
            # A journal without its header could only stop every command until removed.
            journal.close()
            path.unlink(missing_ok=True)
            raise
        _fsync_directory(path.parent)
        return journal

    @classmethod
    def resume(cls, path: Path) -> tuple[Journal, PendingJournal]:
        """Open a journal left behind, and what is left to undo in it."""
        pending = read_journal(path)
        try:
            raw = path.read_bytes()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            # A torn last line would run into the next one: cut it off (its write never started).
            os.ftruncate(fd, raw.rfind(b"\n") + 1)
        except OSError as err:
            raise _unwritable(path, err) from err
        seq = max((entry.seq for entry in pending.entries), default=0)
        return cls(path, pending.header, os.fdopen(fd, "ab"), seq), pending

    def record(self, action: str, undo: Operation) -> UndoEntry:
        """Make ``undo`` durable before the write it reverses is attempted."""
        (entry,) = self.record_all([(action, undo)])
        return entry

    def record_all(self, undos: Sequence[tuple[str, Operation]]) -> list[UndoEntry]:
        """Make several ``(action, undo)`` durable with one fsync, before any of their writes.

        For a batch of writes sent together: an fsync takes about 2 ms, as long as the
        writes of a whole VNI.
        """
        entries = []
        for action, undo in undos:
            self._seq += 1
            entries.append(UndoEntry(seq=self._seq, action=action, undo=undo))
        if entries:
            self._append(*entries)
        return entries

    def undone(self, entry: UndoEntry) -> None:
        """Mark ``entry`` as run, so that running the journal again skips it.

        A mark that cannot be written does not stop the rollback that makes it: running
        that step again is the lesser harm.
        """
        try:
            self._append(UndoneEntry(seq=entry.seq))
        except StateError:
            return

    def _append(self, *lines: Line) -> None:
        try:
            self._file.write(b"".join(_encoder.encode(line) + b"\n" for line in lines))
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as err:
            raise _unwritable(self.path, err) from err

    def close(self) -> None:
        self._file.close()

    def finish(self) -> None:
        """The apply is complete or fully undone: the journal is no longer needed."""
        self.close()
        discard(self.path)


def discard(path: Path) -> None:
    """Remove the journal ``path``, then its FRR snapshot.

    In that order: a journal whose undo steps include restoring the snapshot is never left
    without it.
    """
    try:
        path.unlink(missing_ok=True)
        _fsync_directory(path.parent)
        snapshot_path(path).unlink(missing_ok=True)
    except OSError as err:
        raise StateError(
            f"cannot remove the journal {path} or its FRR snapshot: {err.strerror}",
            hint="check the state's directory, then remove the journal and its .frr file by hand",
        ) from err


class PendingJournal(msgspec.Struct, frozen=True):
    """A journal left behind: its header and the undo entries not marked as run."""

    header: JournalHeader
    entries: tuple[UndoEntry, ...]


def read_journal(path: Path) -> PendingJournal:
    """The header and the undo entries still to run of a journal left behind."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise StateError(f"{path}: cannot read the journal: {err.strerror}") from err
    lines = raw.split(b"\n")
    parsed: list[Line] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            parsed.append(_decoder.decode(line))
        # RecursionError: msgspec's answer to JSON nested thousands of levels deep.
        except (msgspec.DecodeError, RecursionError) as err:
            if number == len(lines):
                break  # torn last line: its write never started
            raise StateError(f"{path}:{number}: journal is corrupt: {err}") from err
    if not parsed or not isinstance(parsed[0], JournalHeader):
        raise StateError(f"{path}: journal has no header line")
    done = {line.seq for line in parsed if isinstance(line, UndoneEntry)}
    entries = tuple(e for e in parsed[1:] if isinstance(e, UndoEntry) and e.seq not in done)
    return PendingJournal(header=parsed[0], entries=entries)


def recorded(pending: PendingJournal, state_serial: int | None) -> bool:
    """Whether the command of ``pending`` wrote its state (now at ``state_serial``): it
    completed, and only the removal of its journal was missed."""
    return pending.header.state_serial != state_serial


def refuse_if_pending(path: Path, state_serial: int | None) -> str | None:
    """Stop any command while an interrupted apply's journal is on disk.

    The journal of a command that recorded its state is removed instead; what is returned
    then says so, to tell the user.
    """
    if not path.exists():
        return None
    pending = read_journal(path)
    header = pending.header
    if recorded(pending, state_serial):
        discard(path)
        return (
            f"removed the journal {path} of `pe-plan {header.command}` (pid {header.pid}, "
            f"started {header.started}): it had completed and recorded the state"
        )
    raise StateError(
        f"an interrupted `pe-plan {header.command}` (pid {header.pid}, started "
        f"{header.started}) left the journal {path} with {len(pending.entries)} step(s) "
        "to undo; the node may be half configured",
        hint="run `pe-plan recover` with the same node and state options to roll it back (or "
        "`pe-plan recover --forward -f CONFIG` to keep what was done and finish the apply)",
    )


def _unwritable(path: Path, err: OSError) -> StateError:
    return StateError(
        f"cannot write the journal {path}: {err.strerror}",
        hint="the journal lives next to the state file: check that its directory is writable "
        "and has space",
    )


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""The apply journal: what to run, in reverse, to undo an apply that did not finish.

Before each write to the node, apply appends the operation that undoes it to a JSON-lines
file next to the state and fsyncs it. If pe-plan dies (SIGKILL, power loss) the journal
stays behind; every command then refuses to plan until ``pe-plan recover`` has replayed it.
A torn last line (the crash hit the append itself) is ignored: its write never started,
because the record always comes before the write.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from pe_plan.errors import StateError
from pe_plan.operations import Operation


class JournalHeader(msgspec.Struct, frozen=True, tag="begin"):
    pid: int
    command: str
    started: str
    node: str


class UndoEntry(msgspec.Struct, frozen=True, tag="undo"):
    """Undo ``undo`` to reverse part of ``action`` (a plan address)."""

    seq: int
    action: str
    undo: Operation


Line = JournalHeader | UndoEntry
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Line)


def journal_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".journal")


class Journal:
    """An open journal of the running apply."""

    def __init__(self, path: Path, header: JournalHeader) -> None:
        self.path = path
        self.header = header
        self._seq = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "ab")
        self._append(header)
        _fsync_directory(path.parent)

    @classmethod
    def begin(cls, path: Path, command: str, node: str) -> Journal:
        refuse_if_pending(path)
        header = JournalHeader(
            pid=os.getpid(),
            command=command,
            started=datetime.now(UTC).isoformat(timespec="seconds"),
            node=node,
        )
        return cls(path, header)

    def record(self, action: str, undo: Operation) -> None:
        """Make ``undo`` durable before the write it reverses is attempted."""
        self._seq += 1
        self._append(UndoEntry(seq=self._seq, action=action, undo=undo))

    def _append(self, line: Line) -> None:
        self._file.write(_encoder.encode(line) + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def finish(self) -> None:
        """The apply is complete or fully undone: the journal is no longer needed."""
        self.close()
        self.path.unlink(missing_ok=True)
        _fsync_directory(self.path.parent)


class PendingJournal(msgspec.Struct, frozen=True):
    header: JournalHeader
    entries: tuple[UndoEntry, ...]


def read_journal(path: Path) -> PendingJournal:
    """The header and the undo entries of a journal left behind."""
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
        except msgspec.DecodeError as err:
            if number == len(lines):
                break  # torn last line: its write never started
            raise StateError(f"{path}:{number}: journal is corrupt: {err}") from err
    if not parsed or not isinstance(parsed[0], JournalHeader):
        raise StateError(f"{path}: journal has no header line")
    entries = tuple(e for e in parsed[1:] if isinstance(e, UndoEntry))
    return PendingJournal(header=parsed[0], entries=entries)


def refuse_if_pending(path: Path) -> None:
    """Stop any command while an interrupted apply's journal is on disk."""
    if not path.exists():
        return
    pending = read_journal(path)
    header = pending.header
    raise StateError(
        f"an interrupted `pe-plan {header.command}` (pid {header.pid}, started "
        f"{header.started}) left the journal {path} with {len(pending.entries)} step(s) "
        "to undo; the node may be half configured",
        hint="run `pe-plan recover` to roll it back (or `pe-plan recover --forward` to keep "
        "what was done and record it), then plan again",
    )


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""One error tree for every condition a user can cause.

Each error carries its exit status and an optional hint (what the user should do). The CLI
has a single handler that prints ``Error: <message>`` and the hint, and exits with the
status; no traceback reaches the user for these.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_ROLLED_BACK = 3
EXIT_USAGE = 64


class Position(msgspec.Struct, frozen=True):
    """Where a value came from: file and 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


class Problem(msgspec.Struct, frozen=True):
    """One validation finding, always tied to a place, a resource and a field."""

    position: Position
    resource: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.resource}: " if self.resource else ""
        field = f"{self.field}: " if self.field else ""
        return f"{self.position}: {where}{field}{self.message}"


class PePlanError(Exception):
    """Base of every user-facing error."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InputError(PePlanError):
    """A file cannot be read or parsed at all (one problem, reported on one line)."""


class ValidationError(PePlanError):
    """The config was read but breaks one or more rules; all problems are listed."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(
            problems, key=lambda p: (p.position.file, p.position.line, p.resource, p.field)
        )
        count = len(self.problems)
        summary = f"{count} problem{'s' if count != 1 else ''} found in the configuration"
        super().__init__("\n".join([summary, *(str(p) for p in self.problems)]))


class StateError(PePlanError):
    """The state file is unusable (corrupt, foreign, locked); it is never overwritten."""


class StateWriteError(StateError):
    """A new state could not replace the state file.

    ``saved_to`` is the file it was saved to instead, ``None`` when it could be saved
    nowhere (the message then holds it); ``reason`` is the failed write alone, without what
    was done about it.
    """

    def __init__(self, message: str, *, hint: str, reason: str, saved_to: Path | None) -> None:
        super().__init__(message, hint)
        self.reason = reason
        self.saved_to = saved_to


class BackendError(PePlanError):
    """The kernel or FRR refused or could not be reached."""


class PlanError(PePlanError):
    """The plan cannot be made (a conflict with an unmanaged object, a stale saved plan)."""


class RolledBackError(PePlanError):
    """Apply failed and the node was restored; the message says what failed and was undone."""

    exit_code = EXIT_ROLLED_BACK

"""Golden-file comparison with an Expected/Got report."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest


class Golden:
    def __init__(self, *, update: bool) -> None:
        self.update = update

    def check(self, path: Path, got: str) -> None:
        """Fail with Expected/Got and a diff unless ``path`` holds exactly ``got``."""
        if self.update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(got)
            return
        if not path.exists():
            pytest.fail(f"golden file {path} is missing; run pytest --update-golden")
        expected = path.read_text()
        if expected != got:
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    got.splitlines(keepends=True),
                    fromfile=f"Expected ({path})",
                    tofile="Got",
                )
            )
            pytest.fail(f"golden mismatch for {path}\n{diff}")

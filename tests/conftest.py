"""Shared test switches: ``--update-golden`` rewrites golden files instead of comparing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden_support import Golden


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files with what the code produces now",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    """Compare text with a golden file (or rewrite it with --update-golden)."""
    return Golden(update=bool(request.config.getoption("--update-golden")))


REPO = Path(__file__).resolve().parent.parent

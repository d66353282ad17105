"""Shared test switches and plugins.

``--update-golden`` rewrites golden files instead of comparing; the reliability report
(:mod:`tests.reliability.report`) is printed at the end of any run whose tests record into it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.golden_support import Golden

pytest_plugins = ("tests.reliability.report",)


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

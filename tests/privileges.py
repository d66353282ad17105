"""Tests that need root (or User-Mode Linux) skip with the reason, except in CI.

Under ``CI=true`` a skip would hide that a whole layer of tests never ran, so it fails.
"""

from __future__ import annotations

import os

import pytest


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true, so not skipping")
    pytest.skip(reason)


def require_root(what: str) -> None:
    if os.geteuid() != 0:
        skip_or_fail(f"needs root to {what}")

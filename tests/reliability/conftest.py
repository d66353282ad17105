"""Fixtures of the reliability tests.

``workspace`` is for input tests (no root needed): a directory and a node file naming
namespaces that do not exist. ``host_node`` is the integration tests' throwaway node on the
host kernel (root and FRR, skipped without them unless ``CI=true``).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import host_node
from tests.reliability.cli import Workspace

__all__ = ["host_node", "workspace"]


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    suffix = uuid.uuid4().hex[:8]
    host, router = f"rel-absent-h-{suffix}", f"rel-absent-r-{suffix}"
    node_file = tmp_path / "node.yaml"
    node_file.write_text(
        f"nodeIndex: {{index: 0}}\nrouterNamespace: {router}\nhostNamespace: {host}\n"
        "vtepDevice: lo\n"
    )
    return Workspace(tmp_path, node_file, (host, router))

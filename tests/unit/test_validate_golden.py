"""Golden error texts of load and validate, one folder per bad input under tests/golden/validate.

A case holds ``input.yaml`` (a config file), ``input/`` (a config directory) or ``node.yaml``
(a node file), and ``expected.txt``: exactly what the user is told. Each case runs from its
own folder, so the file names in the messages are relative and the goldens do not depend on
where the repository is checked out.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from pe_plan.errors import PePlanError
from pe_plan.load import load_paths
from pe_plan.validate import load_node_file, validate
from tests.conftest import REPO
from tests.golden_support import Golden

CASES_DIR = REPO / "tests" / "golden" / "validate"
CASES = sorted(path for path in CASES_DIR.iterdir() if path.is_dir())


def error_text(case: Path) -> str:
    """The message of the error that loading and validating the case's input raises."""
    with contextlib.chdir(case):
        try:
            if Path("node.yaml").exists():
                load_node_file(Path("node.yaml"))
            else:
                config = "input.yaml" if Path("input.yaml").exists() else "input"
                validate(load_paths([Path(config)]))
        except PePlanError as err:
            return err.message + "\n"
    pytest.fail(f"{case.name}: the input was accepted")


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_error_text(case: Path, golden: Golden) -> None:
    golden.check(case / "expected.txt", error_text(case))


def test_there_are_enough_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_messages_name_files_relative_to_the_case(case: Path) -> None:
    text = (case / "expected.txt").read_text()
    assert str(REPO) not in text
    for line in text.splitlines()[1:] if "problem" in text.splitlines()[0] else [text]:
        assert line.startswith(("input", "node.yaml")), line

"""The CLI's exact output for the offline verbs, and the desired state of every example.

``show --desired`` is the config → desired-objects golden of each scenario: its text (objects
grouped by namespace, then the FRR config) and its JSON (objects with dependencies).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.faults import cli as run
from tests.golden_support import Golden

EXAMPLES = sorted(p for p in (REPO / "examples").iterdir() if p.is_dir())
GOLDEN = REPO / "tests" / "golden" / "desired"


@pytest.fixture(autouse=True)
def _in_repo() -> object:
    # Goldens hold paths relative to the repository.
    cwd = Path.cwd()
    os.chdir(REPO)
    yield
    os.chdir(cwd)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
@pytest.mark.parametrize("index", [0, 1])
def test_desired_state_of_every_example(example: Path, index: int, golden: Golden) -> None:
    node = f"examples/{example.name}/nodes/node{index}.yaml"
    config = f"examples/{example.name}"
    status, text = run("show", "--desired", "-f", config, "--node-file", node)
    assert status == 0, text
    golden.check(GOLDEN / example.name / f"node{index}.txt", text)
    status, data = run("show", "--desired", "--json", "-f", config, "--node-file", node)
    assert status == 0, data
    golden.check(GOLDEN / example.name / f"node{index}.json", data)


def test_show_desired_names_the_seed_objects_of_node_1() -> None:
    status, text = run("show", "--desired", "-f", "examples/layer2", "--node-index", "1")
    assert status == 0
    assert "vxlan.local=100.65.0.1" in text
    assert "host-100 (veth)" in text
    assert "      192.169.10.3/24" in text
    assert "br-pe-110 (bridge) up=true master=red mac=00:f3:00:00:00:6f" in text
    assert "      192.170.1.1/24" in text
    assert "router bgp 64514 vrf red" in text


def test_validate_says_valid() -> None:
    assert run("validate", "-f", "examples/layer2/openpe.yaml") == (
        0,
        "The configuration is valid (3 resources).\n",
    )


def test_validate_with_an_index_that_does_not_fit() -> None:
    status, text = run("validate", "-f", "examples/layer2/openpe.yaml", "--node-index", "300")
    assert status == 1
    fit = "use a larger CIDR or a smaller node index"
    assert text.splitlines() == [
        "Error: 3 problems found in the configuration",
        (
            "examples/layer2/openpe.yaml:10: L3VNI/red: spec.localcidr.ipv4: node index 300 "
            "does not fit 192.169.10.0/24: the host-side IP would be address number 302 of a "
            f"network of 256; {fit}"
        ),
        (
            "examples/layer2/openpe.yaml:31: Underlay/underlay: spec.routeridcidr: node index 300 "
            "does not fit 10.0.0.0/24: the router-id would be address number 301 of a network of "
            f"256; {fit}"
        ),
        (
            "examples/layer2/openpe.yaml:33: Underlay/underlay: spec.vtepcidr: node index 300 does "
            "not fit 100.65.0.0/24: the VTEP IP would be address number 300 of a network of 256; "
            f"{fit}"
        ),
    ]


def test_usage_errors_exit_64() -> None:
    status, text = run("plan")
    assert status == 64
    assert "Missing option '-f'" in text


def test_password_is_never_shown() -> None:
    status, text = run(
        "show",
        "--desired",
        "-f",
        "examples/red-blue",
        "--node-file",
        "examples/red-blue/nodes/node0.yaml",
    )
    assert status == 0
    assert "password (sensitive)" in text
    secret = (REPO / "examples" / "red-blue" / "openpe.yaml").read_text()
    password = secret.split("password:", 1)[1].split()[0].strip("'\"")
    assert password not in text


def test_help_lists_every_verb() -> None:
    status, text = run("--help")
    assert status == 0
    for verb in ("validate", "plan", "apply", "destroy", "recover", "refresh", "import", "show"):
        assert f"  {verb} " in text

"""Fuzzed configs and node files: pe-plan accepts them or rejects them cleanly, never worse.

Configs are drawn from the schema models of both dialects (so that many are valid), then
broken at the data level (fields dropped, wrong types, huge numbers, odd unicode, unknown
keys) and at the text level (cut short, bytes put in, lines doubled so that keys repeat).
For each input, ``pe-plan validate`` and ``pe-plan plan`` must exit 0 or 1, with
``Error: ...`` first and only problem lines after it when they reject it, and no traceback.
A ``plan`` of an input that does not validate must fail exactly as ``validate`` does,
before touching anything: no lock or state file appears, no namespace is created. Its node
file names namespaces that do not exist, so that even a valid input cannot reach a real
node from here.

The bulk runs in this process through the CLI's error handler; a sample runs ``pe-plan``
as a user does, in subprocesses with a timeout, two at a time. A few valid configs (their
NIC made the node's) plan against a real throwaway node (root), which must not change.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO
from tests.faults import picture
from tests.integration.conftest import HostNode
from tests.reliability import strategies
from tests.reliability.cli import Workspace, check, in_process, in_subprocess, validate_and_plan
from tests.reliability.node import changes, remains
from tests.reliability.report import ReliabilityReport

FUZZ = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SAMPLE = settings(FUZZ, max_examples=10)
SAMPLE_BATCH = 6  # inputs per subprocess example: 60 subprocess runs of each verb
REAL_NODE = settings(
    FUZZ,
    max_examples=6,
    suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.filter_too_much],
)

configs = strategies.configs().flatmap(strategies.mutated).map(strategies.dump)
config_files = configs.flatmap(strategies.mangled)
node_files = strategies.node_files().flatmap(lambda node: strategies.mutated([node]))


def on_toswitch(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Underlay's NIC made the throwaway node's, so that a valid config can plan."""
    spec = documents[0]["spec"]
    if "nics" in spec:
        spec["nics"] = ["toswitch"]
    else:
        nic = {"type": "NetworkDevice", "networkDevice": {"interfaceName": "toswitch"}}
        spec["interfaces"] = [nic]
    return documents


@FUZZ
@given(text=config_files)
def test_fuzzed_configs_are_accepted_or_rejected_cleanly(
    reliability_report: ReliabilityReport, workspace: Workspace, text: bytes
) -> None:
    config = workspace.write(text, "config.yaml")
    validate_and_plan(reliability_report, workspace, config, in_process)


@FUZZ
@given(text=node_files.map(strategies.dump).flatmap(strategies.mangled))
def test_fuzzed_node_files_are_accepted_or_rejected_cleanly(
    reliability_report: ReliabilityReport, workspace: Workspace, text: bytes
) -> None:
    node_file = workspace.write(text, "node-fuzzed.yaml")
    config = REPO / "examples" / "l2-stretch" / "openpe.yaml"
    ended = in_process(["validate", "-f", str(config), "--node-file", str(node_file)])
    check(reliability_report, ended, [config, node_file])


@SAMPLE
@given(texts=st.lists(config_files, min_size=SAMPLE_BATCH, max_size=SAMPLE_BATCH))
def test_a_sample_through_the_real_command_line(
    reliability_report: ReliabilityReport, workspace: Workspace, texts: list[bytes]
) -> None:
    paths = [workspace.write(text, f"sample{i}.yaml") for i, text in enumerate(texts)]
    for path in paths:
        shutil.rmtree(workspace.state_dir(path))  # the previous example's, empty
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(
            pool.map(
                lambda p: validate_and_plan(reliability_report, workspace, p, in_subprocess), paths
            )
        )


@pytest.mark.netns
@pytest.mark.frr  # the throwaway node is the integration tests', which want FRR
@REAL_NODE
@given(text=strategies.configs().map(on_toswitch).map(strategies.dump))
def test_valid_configs_plan_against_a_real_node_and_change_nothing(
    reliability_report: ReliabilityReport, host_node: HostNode, tmp_path: Path, text: str
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(text)
    assume(in_process(["validate", "-f", str(config)]).status == 0)
    before = picture(host_node)
    planned = in_process(["plan", "-f", str(config), *host_node.node_args])
    event(f"plan {check(reliability_report, planned, [config, host_node.node_file]).value}")
    assert changes(host_node, before) + remains(host_node) == []

"""A BGP password never leaves FRR: every artefact of a full run is searched for it.

The host kernel has no VRFs, so the config is the L2-only example with a password on its
neighbor. One run goes through everything a user can do: validate (also a rejected
password), plan (text, JSON, saved to a file, the file shown), apply of the saved plan,
show, refresh, a second apply that changes FRR (so that a backup of the state appears), a
third that fails on purpose after its FRR change (its journal and FRR snapshot are copied
while it runs), destroy. The password must appear in none of their outputs, errors or
files, except the FRR snapshot, which holds the running config by design: that one must
be private (0600) and gone once the apply ended. Root and FRR needed.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.integration.conftest import HostNode
from tests.reliability.fault_apply import apply_with_fault
from tests.reliability.node import nothing_left, pe_plan, stretch_config
from tests.reliability.report import ReliabilityReport

pytestmark = [pytest.mark.netns, pytest.mark.frr]


def test_the_password_appears_in_no_output_and_no_file(
    reliability_report: ReliabilityReport, host_node: HostNode, tmp_path: Path
) -> None:
    password = f"s3cr3t-{uuid.uuid4().hex[:12]}"
    node = host_node.node_args
    first = stretch_config(tmp_path, "first.yaml", password=password)
    second = stretch_config(tmp_path, "second.yaml", password=password, neighbors=2)
    third = stretch_config(tmp_path, "third.yaml", password=password, neighbors=3)
    bad = tmp_path / "bad.yaml"
    bad.write_text(first.read_text().replace(password, f'"{password} x"'))
    saved = tmp_path / "plan.json"
    outputs: dict[str, str] = {}

    def run(name: str, *args: str, status: int = 0) -> None:
        done = pe_plan(*args)
        outputs[name] = done.stdout + done.stderr
        assert done.returncode == status, outputs[name]

    run("validate", "validate", "-f", str(first))
    run("validate rejected", "validate", "-f", str(bad), status=1)
    run("plan", "plan", "-f", str(first), *node)
    run("plan --json", "plan", "-f", str(first), *node, "--json")
    run("plan --out", "plan", "-f", str(first), *node, "--out", str(saved))
    run("show plan", "show", str(saved))
    run("apply plan", "apply", str(saved), *node)
    run("show state", "show", str(host_node.state))
    run("show --json", "show", str(host_node.state), "--json")
    run("refresh", "refresh", *node, "--json")
    run("apply second", "apply", "-f", str(second), *node, "--auto-approve", "--json")
    evidence = tmp_path / "evidence"
    failed = apply_with_fault(
        "fail",
        host_node,
        third,
        tmpdir=tmp_path,
        evidence=evidence,
    )
    assert failed.exit_code == 3, failed.message
    outputs["failed apply"] = f"{failed.message}\n{failed.hint}"
    run("plan after", "plan", "-f", str(second), *node, "--detailed-exitcode")
    run("destroy", "destroy", *node, "--auto-approve")

    # The snapshot held the running config, password and all, while the apply ran.
    assert password in (evidence / "snapshot").read_text()
    assert (evidence / "snapshot-mode").read_text() == "600\n"
    assert (tmp_path / "state.json.backup").exists()
    files = {
        str(path): path.read_bytes()
        for path in tmp_path.rglob("*")
        if path.is_file() and path.parent != evidence and path not in (first, second, third, bad)
    }
    files[str(evidence / "journal")] = (evidence / "journal").read_bytes()
    assert str(host_node.state) in files
    found = [name for name, text in outputs.items() if password in text]
    found += [name for name, data in files.items() if password.encode() in data]
    # Among the leftovers: the snapshot, which must be gone.
    nothing_left(reliability_report.record_fault, host_node, found)

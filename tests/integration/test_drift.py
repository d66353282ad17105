"""Drift, conflicts, import and saved plans on a real node (host kernel, l2-stretch).

What Terraform users rely on, end to end through the CLI: changes made by hand are reported
(``refresh``) and repaired (``apply``); an object pe-plan needs but does not own stops the
plan until it is removed or imported; a saved plan applies without a question while fresh
and is refused, saying why, once the node changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pe_plan.errors import EXIT_CHANGES
from tests.conftest import REPO
from tests.faults import cli
from tests.integration.conftest import HostNode, ip

pytestmark = [pytest.mark.netns, pytest.mark.frr]

STRETCH = REPO / "examples" / "l2-stretch"


def apply(node: HostNode) -> None:
    status, text = cli("apply", "-f", str(STRETCH), *node.node_args, "--auto-approve")
    assert status == 0, text


def test_refresh_reports_and_records_changes_made_by_hand(host_node: HostNode) -> None:
    node = host_node
    apply(node)
    assert cli("refresh", *node.node_args, "--detailed-exitcode")[0] == 0
    ip("-n", node.router_ns, "link", "del", "vni210")
    ip("-n", node.host_ns, "link", "set", "host-210", "mtu", "1400")
    status, text = cli("refresh", *node.node_args, "--detailed-exitcode")
    assert status == EXIT_CHANGES
    assert "# link.router.vni210 has been deleted" in text
    assert "~ mtu = 1450 -> 1400" in text
    status, text = cli("plan", "-f", str(STRETCH), *node.node_args)
    assert status == 0
    assert text.index("Objects have changed outside pe-plan") < text.index("will perform")
    assert "Plan: 1 to add, 1 to change, 0 to destroy." in text
    # --write records the node as found: the deleted VXLAN leaves the state.
    assert cli("refresh", *node.node_args, "--write")[0] == 0
    owned = {r["address"] for r in json.loads(node.state.read_bytes())["resources"]}
    assert "link.router.vni210" not in owned
    apply(node)
    status, text = cli("plan", "-f", str(STRETCH), *node.node_args, "--detailed-exitcode")
    assert (status, text.strip()) == (0, "No changes. The node matches the configuration.")


def test_an_unmanaged_object_stops_the_plan_until_imported(host_node: HostNode) -> None:
    node = host_node
    ip("-n", node.host_ns, "link", "add", "br-hs-210", "type", "bridge")
    ip("-n", node.host_ns, "link", "set", "br-hs-210", "up")
    status, text = cli("plan", "-f", str(STRETCH), *node.node_args)
    assert status == 1
    assert "link.host.br-hs-210 (bridge)" in text
    assert "pe-plan import link.host.br-hs-210" in text
    status, text = cli("import", "link.host.br-hs-210", "-f", str(STRETCH), *node.node_args)
    assert status == 0, text
    resources = json.loads(node.state.read_bytes())["resources"]
    assert [r["adopted"] for r in resources if r["address"] == "link.host.br-hs-210"] == [True]
    apply(node)


def test_import_refuses_an_object_that_differs(host_node: HostNode) -> None:
    node = host_node
    ip("-n", node.host_ns, "link", "add", "br-hs-210", "type", "bridge")  # down: differs
    status, text = cli("import", "link.host.br-hs-210", "-f", str(STRETCH), *node.node_args)
    assert status == 1
    assert "up is false, the configuration wants true" in text
    assert not node.state.exists()


def test_a_saved_plan_applies_while_fresh_and_is_refused_once_stale(
    host_node: HostNode, tmp_path: Path
) -> None:
    node = host_node
    saved = tmp_path / "plan.json"
    assert cli("plan", "-f", str(STRETCH), *node.node_args, "--out", str(saved))[0] == 0
    ip("-n", node.host_ns, "link", "add", "stray0", "type", "bridge")  # unrelated: still fresh
    stale = tmp_path / "stale.json"
    assert cli("plan", "-f", str(STRETCH), *node.node_args, "--out", str(stale))[0] == 0
    status, text = cli("apply", str(saved), *node.node_args)
    assert status == 0, text
    status, text = cli("apply", str(stale), *node.node_args)
    assert status == 1
    assert "the saved plan is stale" in text
    assert "a state was written since the plan was made" in text

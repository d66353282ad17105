"""What the integration tests share: their requirements, the FRR daemons, a throwaway node.

A test that needs root or FRR is skipped without them, but fails when ``CI=true``: there a
skip would hide that it never ran. :func:`host_node` is a node on the host kernel as the
apply tests need it: a host namespace holding the underlay NIC ``toswitch`` (a veth whose
far end is in a namespace of its own), a node file naming that namespace (pe-plan must not
run under ``ip netns exec``) with the VTEP on ``lo`` (the host kernel has no dummy links),
and a state path. Names carry a random suffix; everything is removed afterwards, whatever
state the node was left in.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pe_plan.backends.frr import DAEMON_DIR, RUN_DIR, LocalHost

NIC_ADDRESS = "192.168.11.3/24"  # where examples/l2-stretch's neighbor expects this node


def require(missing: str | None) -> None:
    """Skip the test for what is ``missing``, or fail it when ``CI=true``."""
    if missing is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{missing}; CI=true, so not skipping")
    pytest.skip(missing)


def root_missing() -> str | None:
    return None if os.geteuid() == 0 else "needs root to create network namespaces"


def frr_missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, FRR daemons)"
    if not (DAEMON_DIR / "zebra").exists() or shutil.which("vtysh") is None:
        return "needs FRR (apt-get install frr)"
    if shutil.which("ip") is None:
        return "needs iproute2"
    return None


def frr_daemons(pathspace: str) -> list[int]:
    """The pids of the FRR daemons running with pathspace ``pathspace``."""
    host = LocalHost()
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    return [
        pid
        for pid in pids
        if (argv := host.cmdline(pid)) is not None
        and argv[0].startswith(str(DAEMON_DIR))
        and pathspace in argv
    ]


def ip(*argv: str) -> str:
    return subprocess.run(["ip", *argv], check=True, capture_output=True, text=True).stdout


@dataclass(frozen=True)
class HostNode:
    """A throwaway node; pe-plan creates ``router_ns`` and runs FRR with it as pathspace."""

    host_ns: str
    router_ns: str
    wire_ns: str
    node_file: Path
    state: Path

    @property
    def node_args(self) -> tuple[str, ...]:
        return ("--node-file", str(self.node_file), "--state", str(self.state))

    @property
    def journal(self) -> Path:
        return self.state.with_name(self.state.name + ".journal")

    @property
    def snapshot(self) -> Path:
        return self.state.with_name(self.state.name + ".journal.frr")

    @property
    def lock(self) -> Path:
        return self.state.with_name(self.state.name + ".lock")

    def remove(self) -> None:
        """Stop FRR (SIGKILL after a grace period) and delete every namespace of the node."""
        for signum in (signal.SIGTERM, signal.SIGKILL):
            for pid in frr_daemons(self.router_ns):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)
            deadline = time.monotonic() + 10
            while frr_daemons(self.router_ns) and time.monotonic() < deadline:
                time.sleep(0.05)
        shutil.rmtree(RUN_DIR / self.router_ns, ignore_errors=True)
        for namespace in (self.router_ns, self.host_ns, self.wire_ns):
            subprocess.run(["ip", "netns", "del", namespace], check=False, capture_output=True)


@pytest.fixture
def host_node(tmp_path: Path) -> Iterator[HostNode]:
    require(frr_missing())
    suffix = uuid.uuid4().hex[:8]
    node = HostNode(
        host_ns=f"t-host-{suffix}",
        router_ns=f"t-router-{suffix}",
        wire_ns=f"t-wire-{suffix}",
        node_file=tmp_path / "node.yaml",
        state=tmp_path / "state.json",
    )
    node.node_file.write_text(
        "nodeIndex: {index: 0}\n"
        "nodeName: t0\n"
        f"routerNamespace: {node.router_ns}\n"
        f"hostNamespace: {node.host_ns}\n"
        "vtepDevice: lo\n"
    )
    try:
        ip("netns", "add", node.host_ns)
        ip("netns", "add", node.wire_ns)
        ip("-n", node.host_ns, "link", "add", "toswitch", "type", "veth", "peer", "name", "wire")
        ip("-n", node.host_ns, "link", "set", "wire", "netns", node.wire_ns)
        ip("-n", node.host_ns, "addr", "add", NIC_ADDRESS, "dev", "toswitch")
        ip("-n", node.host_ns, "link", "set", "toswitch", "up")
        ip("-n", node.wire_ns, "link", "set", "wire", "up")
        yield node
    finally:
        node.remove()

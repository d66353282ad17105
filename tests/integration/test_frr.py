"""The FRR backend against a real FRR 8.4.4 in a throwaway network namespace.

Needs root and Debian's frr: skipped otherwise, but failing when ``CI=true`` (CI must run
them). Each test gets its own namespace and managed instance, removed afterwards whatever
happens.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import msgspec
import pytest

from pe_plan.backends.frr import LocalHost, ManagedFrr, Vtysh
from pe_plan.config import Config, L3Vni, Neighbor
from pe_plan.errors import BackendError
from pe_plan.frr_diff import FrrContextDelta, FrrDelta, diff_frr, parse_frr
from pe_plan.frr_render import mask_secrets
from tests.integration.conftest import frr_daemons, frr_missing, require
from tests.unit.test_frr_render import example_config, render

pytestmark = pytest.mark.frr


class Instance(msgspec.Struct):
    managed: ManagedFrr
    vtysh: Vtysh


@pytest.fixture
def frr() -> Iterator[Instance]:
    require(frr_missing())
    namespace = f"pe-frr-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    host = LocalHost()
    managed = ManagedFrr(host, namespace=namespace)
    try:
        managed.start()
        yield Instance(managed, Vtysh(host, pathspace=namespace, start_hint=managed.start_hint))
    finally:
        try:
            managed.stop()
        finally:
            subprocess.run(["ip", "netns", "del", namespace], check=True)


def converge(vtysh: Vtysh, desired: str) -> None:
    vtysh.apply(diff_frr(vtysh.running_config(), desired))
    assert diff_frr(vtysh.running_config(), desired).empty


def body(text: str) -> list[str]:
    """Config lines in order, without what FRR adds itself (header, hostname, zebra's view
    of forwarding) and without the ``!`` separators."""
    skip = ("Building configuration", "Current configuration", "frr ", "hostname", "no ip")
    return [
        line
        for line in text.splitlines()
        if line not in ("", "!", "end") and not line.startswith(skip)
    ]


@pytest.mark.parametrize(("example", "index"), [("layer2", 0), ("red-blue", 1), ("dual-stack", 1)])
def test_rendered_config_is_what_frr_prints_back(frr: Instance, example: str, index: int) -> None:
    desired = render(example_config(example), index)
    converge(frr.vtysh, desired)
    running = frr.vtysh.running_config()
    assert body(running) == body(desired)
    assert len(body(running)) > 10
    assert diff_frr(mask_secrets(running, "x"), mask_secrets(desired, "x")).empty


def test_changes_apply_and_restore_gives_back_the_exact_running_config(frr: Instance) -> None:
    config = example_config("red-blue")
    converge(frr.vtysh, render(config))
    snapshot = frr.vtysh.snapshot()
    assert config.underlay is not None
    replace = msgspec.structs.replace
    changed = replace(
        config,
        underlay=replace(
            config.underlay,
            neighbors=(
                replace(config.underlay.neighbors[0], asn=64513, password=None, hold_time=30),
                Neighbor(asn=64512, address="192.168.11.5", connect_time=5, bfd=True),
            ),
        ),
        l3vnis=(
            replace(config.l3vnis[0], vni=101, export_rts=("64514:101",)),
            *config.l3vnis[1:],
            L3Vni(name="green", asn=64514, vni=300, vrf="green", local_cidr_ipv4="192.169.30.0/24"),
        ),
    )
    converge(frr.vtysh, render(changed))
    frr.vtysh.restore(snapshot)
    assert frr.vtysh.running_config() == snapshot


def test_as_change_and_removing_everything(frr: Instance) -> None:
    config = example_config("layer2")
    assert config.underlay is not None
    converge(frr.vtysh, render(config))
    moved = msgspec.structs.replace(
        config, underlay=msgspec.structs.replace(config.underlay, asn=64600)
    )
    converge(frr.vtysh, render(moved))
    converge(frr.vtysh, render(Config()))
    assert not any(len(c) == 1 and c[0].startswith("router") for c in parse_frr(render(Config())))


def test_vty_socket_directory_reaches_the_same_instance(frr: Instance) -> None:
    """Without -N, vtysh reads /etc/frr/vtysh.conf and prints its service line: ignored."""
    converge(frr.vtysh, render(example_config("layer2")))
    by_socket = Vtysh(LocalHost(), vty_socket=frr.managed.instance_dir)
    assert by_socket.reachable()
    assert diff_frr(by_socket.running_config(), frr.vtysh.running_config()).empty


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("neighbor 192.168.11.2 no-such-option 1", "% Unknown command"),
        ("neighbor 192.168.11.99 timers connect 5", "% Specify remote-as or peer-group"),
    ],
)
def test_a_line_frr_refuses_is_named(frr: Instance, line: str, reason: str) -> None:
    converge(frr.vtysh, render(example_config("layer2")))
    bogus = FrrDelta(contexts=(FrrContextDelta(context=("router bgp 64514",), add=(line,)),))
    with pytest.raises(BackendError) as caught:
        frr.vtysh.apply(bogus)
    assert caught.value.message.startswith(
        f"FRR rejected the line {line!r} (line 2 of the change): {reason}"
    )


def test_stop_leaves_no_daemon_and_no_socket(frr: Instance) -> None:
    assert frr.managed.running()
    frr.managed.start()  # idempotent
    pathspace = frr.managed.pathspace
    frr.managed.stop()
    assert not frr.managed.running()
    assert not frr.managed.instance_dir.exists()
    assert not frr_daemons(pathspace)
    with pytest.raises(BackendError, match="is not reachable") as caught:
        frr.vtysh.running_config()
    assert caught.value.hint is not None
    assert f"ip netns exec {frr.managed.namespace}" in caught.value.hint
    frr.managed.start()
    assert frr.vtysh.reachable()

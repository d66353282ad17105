"""FRR parse, normalise and diff: captured running configs, traps, and properties.

The running configs in ``tests/data/frr`` are real FRR 8.4.4 output (``capture.py``
there). The property tests apply a delta's commands to a model of FRR
(:mod:`tests.unit.frr_sim`) that refuses what FRR refuses.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pe_plan.config import Config, L2Vni, L3Vni, Neighbor, Underlay
from pe_plan.frr_diff import FrrContextDelta, FrrDelta, ParsedConfig, diff_frr, parse_frr
from pe_plan.frr_render import mask_secrets
from tests.conftest import REPO
from tests.golden_support import Golden
from tests.unit.frr_sim import FrrRejectedError, simulate
from tests.unit.test_frr_render import example_config, render

DATA = REPO / "tests" / "data" / "frr"
GOLDEN = REPO / "tests" / "golden" / "frr-diff"


def captured(name: str) -> str:
    return (DATA / f"{name}.running.conf").read_text()


def rendered(example: str, index: int) -> str:
    return render(example_config(example), index)


def as_sets(config: ParsedConfig) -> dict[tuple[str, ...], frozenset[str]]:
    return {context: frozenset(lines) for context, lines in config.items()}


# Captured running configs.


@pytest.mark.parametrize(("example", "index"), [("layer2", 0), ("red-blue", 1), ("dual-stack", 0)])
def test_rendered_config_reads_back_from_frr_unchanged(example: str, index: int) -> None:
    running = captured(f"{example}-node{index}")
    desired = rendered(example, index)
    assert diff_frr(running, desired).empty
    assert diff_frr(mask_secrets(running, "x"), mask_secrets(desired, "x")).empty
    # The order too: what FRR prints is what was rendered, context for context.
    assert list(parse_frr(running).items()) == list(parse_frr(desired).items())


def test_parse_running_config() -> None:
    parsed = parse_frr(captured("layer2-node0"))
    assert parsed[()] == (
        "log stdout informational",
        "log timestamp precision 3",
        "ip nht resolve-via-default",
        "ipv6 nht resolve-via-default",
    )
    assert parsed[("vrf red",)] == ("vni 100",)
    assert parsed[("router bgp 64514 vrf red", "address-family l2vpn evpn")] == (
        "advertise ipv4 unicast",
        "advertise ipv6 unicast",
    )
    assert parsed[("route-map allowall permit 1",)] == ()
    assert not any("forwarding" in line or "hostname" in line for line in parsed[()])


def test_empty_running_config_has_nothing() -> None:
    assert parse_frr(captured("empty")) == {(): ()}


def test_unmanaged_lines_are_removed_and_hidden_defaults_ignored(golden: Golden) -> None:
    """The extras are removed; ``port 179`` and ``restart-time 120`` never showed."""
    delta = diff_frr(captured("layer2-node0-extra"), rendered("layer2", 0))
    golden.check(GOLDEN / "unmanaged" / "delta.txt", "\n".join(delta.lines()) + "\n")
    golden.check(GOLDEN / "unmanaged" / "commands.txt", "\n".join(delta.commands()) + "\n")
    # The extra neighbor goes by its remote-as line alone (cascade trap).
    assert "  no neighbor 192.168.11.50 activate" not in delta.commands()


def test_from_empty_commands(golden: Golden) -> None:
    delta = diff_frr(captured("empty"), rendered("layer2", 0))
    golden.check(GOLDEN / "from-empty" / "commands.txt", "\n".join(delta.commands()) + "\n")
    assert simulate(parse_frr(captured("empty")), delta.commands()) == parse_frr(
        rendered("layer2", 0)
    )


# Normalisation: lines that differ only in spelling, or by a default, make no change.

CANONICAL = """\
log stdout informational
interface eth0
 description uplink
exit
router bgp 64514
 neighbor 192.168.11.2 remote-as 64512
 neighbor 192.168.11.2 ebgp-multihop 255
 neighbor fd00:1::2 remote-as 64512
 !
 address-family ipv4 unicast
  network 192.170.1.0/24
 exit-address-family
 !
 address-family ipv6 unicast
  network fd00:170::/64
 exit-address-family
exit
router bgp 64514 vrf red
 !
 address-family l2vpn evpn
  route-target import 64514:100
  route-target export 64514:100
 exit-address-family
exit
"""

SPELLED_DIFFERENTLY = """\
Building configuration...

Current configuration:
!
frr version 8.4.4
frr defaults traditional
hostname some-other-name
service integrated-vtysh-config
no ip forwarding
ipv6 forwarding
log   stdout    info
log timestamp precision 0
! a comment
interface eth0 vrf red
\tdescription  uplink
router bgp 64514
 bgp ebgp-requires-policy
 bgp graceful-restart restart-time 120
 neighbor 192.168.11.2 remote-as 64512
 neighbor 192.168.11.2 ebgp-multihop
 neighbor 192.168.11.2 port 179
 neighbor FD00:1:0:0::2 remote-as 64512
 address-family ipv4
  network 192.170.1.1/24
 exit-address-family
 address-family ipv6
  network FD00:170:0::1/64
router bgp 64514 vrf red
 address-family l2vpn evpn
  route-target both 64514:100
line vty
 exec-timeout 0 0
end
"""


def test_spelling_defaults_and_unchangeable_lines_make_no_change() -> None:
    assert diff_frr(SPELLED_DIFFERENTLY, CANONICAL).empty
    assert diff_frr(CANONICAL, SPELLED_DIFFERENTLY).empty


def test_log_levels_are_expanded_and_the_default_level_dropped() -> None:
    assert parse_frr("log stdout debugging\nlog syslog warn\n")[()] == (
        "log stdout",
        "log syslog warnings",
    )


# The delta and its commands.

BASE = """\
router bgp 64514
 bgp router-id 10.0.0.1
 neighbor 192.168.11.2 remote-as 64512
 neighbor 192.168.11.2 password s3cret
 neighbor 192.168.11.2 timers 3 9
 neighbor 192.168.11.3 remote-as 64512
 address-family ipv4 unicast
  neighbor 192.168.11.2 activate
  neighbor 192.168.11.2 allowas-in
  neighbor 192.168.11.3 activate
 exit-address-family
exit
router bgp 64514 vrf red
 bgp router-id 10.0.0.1
exit
"""


def test_removed_neighbor_goes_by_its_remote_as_line_only() -> None:
    desired = BASE.replace(" neighbor 192.168.11.2", " ! gone")
    delta = diff_frr(BASE, desired)
    assert delta.commands() == (
        "router bgp 64514",
        " no neighbor 192.168.11.2 remote-as 64512",
        "exit",
    )
    assert simulate(parse_frr(BASE), delta.commands()) == parse_frr(desired)


def test_single_valued_settings_are_overwritten_not_removed() -> None:
    desired = BASE.replace("remote-as 64512\n neighbor 192.168.11.2 password", "remote-as 1\n")
    desired = desired.replace(" s3cret", " neighbor 192.168.11.2 password other")
    desired = desired.replace("timers 3 9", "timers 10 30")
    delta = diff_frr(BASE, desired)
    assert delta.contexts == (
        FrrContextDelta(
            context=("router bgp 64514",),
            add=(
                "neighbor 192.168.11.2 remote-as 1",
                "neighbor 192.168.11.2 password other",
                "neighbor 192.168.11.2 timers 10 30",
            ),
        ),
    )


def test_removing_a_password_needs_no_secret() -> None:
    desired = BASE.replace(" neighbor 192.168.11.2 password s3cret\n", "")
    commands = diff_frr(mask_secrets(BASE, "x"), mask_secrets(desired, "x")).commands()
    assert commands == ("router bgp 64514", " no neighbor 192.168.11.2 password", "exit")


def test_as_change_recreates_the_vrf_instances_after_removing_them() -> None:
    desired = BASE.replace("router bgp 64514\n", "router bgp 64600\n")
    delta = diff_frr(BASE, desired)
    actions = {d.context: d.action for d in delta.contexts if len(d.context) == 1}
    assert actions == {
        ("router bgp 64514",): "delete",
        ("router bgp 64600",): "create",
        ("router bgp 64514 vrf red",): "replace",
    }
    commands = delta.commands()
    assert commands.index("no router bgp 64514 vrf red") < commands.index("no router bgp 64514")
    assert commands.index("no router bgp 64514") < commands.index("router bgp 64600")
    assert simulate(parse_frr(BASE), commands) == parse_frr(desired)


def test_whole_context_goes_with_one_line_and_vrf_line_by_line() -> None:
    running = "vrf red\n vni 100\nexit-vrf\n" + BASE
    delta = diff_frr(running, BASE.split("router bgp 64514 vrf red", maxsplit=1)[0])
    assert delta.commands() == ("no router bgp 64514 vrf red", "vrf red", " no vni 100", "exit-vrf")
    assert delta.lines() == ("  vrf red", "-   vni 100", "- router bgp 64514 vrf red")


def test_negative_lines_are_removed_by_their_positive_form() -> None:
    running = "router bgp 1\n no bgp default ipv4-unicast\nexit\n"
    delta = diff_frr(running, "router bgp 1\nexit\n")
    assert delta.commands() == ("router bgp 1", " bgp default ipv4-unicast", "exit")


def test_lines_show_a_tree_of_changes() -> None:
    desired = BASE.replace("  neighbor 192.168.11.3 activate\n", "  network 10.1.0.0/16\n")
    delta = diff_frr(mask_secrets(BASE, "x"), mask_secrets(desired, "x"))
    assert delta.lines() == (
        "  router bgp 64514",
        "    address-family ipv4 unicast",
        "-     neighbor 192.168.11.3 activate",
        "+     network 10.1.0.0/16",
    )


def test_reveal_makes_a_public_delta_applicable() -> None:
    desired = BASE.replace("s3cret", "n3w")
    public = diff_frr(mask_secrets(BASE, "x"), mask_secrets(desired, "x"))
    assert "n3w" not in "\n".join(public.commands())
    assert " neighbor 192.168.11.2 password n3w" in public.reveal(desired, "x").commands()


def test_empty_delta() -> None:
    assert FrrDelta().empty
    assert FrrDelta().commands() == ()
    assert diff_frr(BASE, BASE).empty


# Properties over rendered configs.

NEIGHBOR_ADDRESSES = ("192.168.11.2", "192.168.11.3", "fd00:1::2")


@st.composite
def neighbors(draw: st.DrawFn) -> tuple[Neighbor, ...]:
    addresses = draw(st.lists(st.sampled_from(NEIGHBOR_ADDRESSES), unique=True, max_size=3))
    result = []
    for address in addresses:
        timers = draw(st.sampled_from([None, (3, 9), (10, 30)]))
        result.append(
            Neighbor(
                asn=draw(st.sampled_from([64512, 64514])),
                address=address,
                port=draw(st.sampled_from([None, 179, 180])),
                password=draw(st.sampled_from([None, "s3cret", "other"])),
                keepalive_time=timers[0] if timers else None,
                hold_time=timers[1] if timers else None,
                connect_time=draw(st.sampled_from([None, 5])),
                ebgp_multihop=draw(st.booleans()),
                bfd=draw(st.booleans()),
            )
        )
    return tuple(result)


@st.composite
def configs(draw: st.DrawFn) -> Config:
    if draw(st.integers(0, 7)) == 0:
        return Config()
    asn = draw(st.sampled_from([64514, 64600]))
    l3vnis = []
    for vrf, vnis, subnet in (("red", (100, 101), "10"), ("blue", (200,), "11")):
        if draw(st.booleans()):
            l3vnis.append(
                L3Vni(
                    name=vrf,
                    asn=draw(st.sampled_from([asn, 64514])),
                    vni=draw(st.sampled_from(vnis)),
                    vrf=vrf,
                    host_asn=draw(st.sampled_from([None, 64515, 64516])),
                    local_cidr_ipv4=f"192.169.{subnet}.0/24",
                    local_cidr_ipv6=draw(st.sampled_from([None, f"fd00:{subnet}::/64"])),
                    import_rts=tuple(draw(st.sets(st.sampled_from(["64514:100", "64514:20"])))),
                    export_rts=tuple(draw(st.sets(st.sampled_from(["64514:100", "1.2.3.4:5"])))),
                )
            )
    vrfs: list[str | None] = [None, *(l3.vrf for l3 in l3vnis)]
    l2vnis = [
        L2Vni(
            name=f"segment{vni}",
            vni=vni,
            vrf=(domain := draw(st.sampled_from(vrfs))),
            gateway_ips=gateways if domain else (),
        )
        for vni, gateways in (
            (110, ("192.170.1.1/24",)),
            (111, ("192.170.2.1/24", "fd00:170:2::1/64")),
        )
        if draw(st.booleans())
    ]
    return Config(
        underlay=Underlay(
            name="underlay",
            asn=asn,
            vtep_cidr=draw(st.sampled_from(["100.65.0.0/24", "fd00:65::/64"])),
            nics=("toswitch",),
            neighbors=draw(neighbors()),
        ),
        l3vnis=tuple(l3vnis),
        l2vnis=tuple(l2vnis),
    )


UNMANAGED = """\
log syslog informational
ip route 10.99.0.0/16 blackhole
interface eth9
 description not managed by pe-plan
exit
route-map extra permit 10
 set metric 10
exit
router bgp 64999 vrf black
 neighbor 10.9.9.9 remote-as 1
 neighbor 10.9.9.9 description unmanaged
exit
"""


@settings(max_examples=200, deadline=None)
@given(config=configs(), index=st.integers(0, 1))
def test_a_rendered_config_has_no_diff_with_itself(config: Config, index: int) -> None:
    text = render(config, index)
    assert diff_frr(text, text).empty
    assert parse_frr(text) == parse_frr("\n".join(parse_and_print(text)))


def parse_and_print(text: str) -> list[str]:
    """The parsed config written out again as FRR text (no exits: the parser climbs)."""
    out: list[str] = []
    for context, lines in parse_frr(text).items():
        out.extend(context[-1:])
        out.extend(lines)
    return out


@settings(max_examples=200, deadline=None)
@given(before=configs(), after=configs(), index=st.integers(0, 1), extra=st.booleans())
def test_applying_the_delta_gives_the_desired_config(
    before: Config, after: Config, index: int, extra: bool
) -> None:
    running = render(before, index) + (UNMANAGED if extra else "")
    desired = render(after, index)
    delta = diff_frr(running, desired)
    try:
        result = simulate(parse_frr(running), delta.commands())
    except FrrRejectedError as error:
        pytest.fail(f"FRR would refuse: {error}\n" + "\n".join(delta.commands()))
    assert as_sets(result) == as_sets(parse_frr(desired))

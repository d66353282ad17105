"""FRR rendering: golden configs of every example and node, secrets, and the shapes.

Golden files: ``tests/golden/frr/<example>/node<i>.frr.conf`` hold the real text (the
examples' passwords are examples). Each must also read back unchanged from a real FRR; the
captured running configs in ``tests/data/frr`` check that offline (``test_frr_diff``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pe_plan.config import Config, L2Vni, L3Vni, Neighbor, Underlay
from pe_plan.derive import derive
from pe_plan.errors import PlanError
from pe_plan.frr_render import mask_secrets, render_frr, reveal_secrets
from pe_plan.load import load_paths
from pe_plan.secrets import marker
from pe_plan.validate import validate
from tests.conftest import REPO
from tests.golden_support import Golden

EXAMPLES = REPO / "examples"
GOLDEN = REPO / "tests" / "golden" / "frr"
SALT = "golden"
SECRET = "s3cret"  # noqa: S105 - a made-up test password
EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "openpe.yaml").exists())


def example_config(name: str) -> Config:
    return validate(load_paths([EXAMPLES / name / "openpe.yaml"]))


def render(config: Config, index: int = 0) -> str:
    frr = render_frr(config, derive(config, index), hostname=f"node{index}", secret_salt=SALT)
    return frr.text


@pytest.mark.parametrize("index", [0, 1])
@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_examples_render_golden(example: str, index: int, golden: Golden) -> None:
    golden.check(GOLDEN / example / f"node{index}.frr.conf", render(example_config(example), index))


def test_layer2_is_the_reference_shape() -> None:
    """Reference 3.2 (c) with the node's router-id in both instances (LAB pitfall 8)."""
    text = render(example_config("layer2"), 1)
    assert "vrf red\n vni 100\nexit-vrf\n" in text
    assert text.count(" bgp router-id 10.0.0.2\n") == 2
    assert "  network 100.65.0.1/32\n" in text
    assert "  network 192.169.10.3/32\n  network 192.170.1.0/24\n" in text
    assert " neighbor 192.169.10.3 remote-as 64515\n" in text
    evpn = text.split(" address-family l2vpn evpn\n")[1].split(" exit-address-family")[0]
    assert evpn == (
        "  neighbor 192.168.11.2 activate\n"
        "  neighbor 192.168.11.2 allowas-in\n"
        "  advertise-all-vni\n"
    )


def test_password_is_in_text_and_masked_in_public() -> None:
    config = example_config("red-blue")
    frr = render_frr(config, derive(config, 0), hostname="node0", secret_salt=SALT)
    line = " neighbor 192.168.11.2 password {}\n"
    assert line.format("example-fabric-secret") in frr.text
    assert "example-fabric-secret" not in frr.public
    assert frr.public == frr.text.replace(
        line.format("example-fabric-secret"), line.format(marker("example-fabric-secret", SALT))
    )


def test_mask_secrets_is_deterministic_per_salt_and_idempotent() -> None:
    text = " neighbor 10.0.0.9 password s3cret\n"
    masked = mask_secrets(text, "a")
    assert masked == f" neighbor 10.0.0.9 password {marker('s3cret', 'a')}\n"
    assert mask_secrets(text, "a") == masked
    assert mask_secrets(text, "b") != masked
    assert mask_secrets(masked, "a") == masked
    assert mask_secrets("password zebra\nenable password x\n", "a").count("(sensitive:") == 2


def test_reveal_secrets_puts_the_passwords_back() -> None:
    source = " neighbor 10.0.0.9 password s3cret\n"
    public = mask_secrets("neighbor 10.0.0.9 password s3cret", "a")
    assert reveal_secrets(public, source, "a") == "neighbor 10.0.0.9 password s3cret"
    with pytest.raises(PlanError, match="no longer has"):
        reveal_secrets(public, " neighbor 10.0.0.9 password other\n", "a")


UNDERLAY = Underlay(
    name="underlay",
    asn=64514,
    vtep_cidr="100.65.0.0/24",
    nics=("toswitch",),
    neighbors=(Neighbor(asn=64512, address="192.168.11.2"),),
)


def test_no_underlay_renders_the_minimal_config(golden: Golden) -> None:
    golden.check(GOLDEN / "minimal" / "node0.frr.conf", render(Config()))


def test_neighbor_options_in_frr_spelling_without_defaults(golden: Golden) -> None:
    """Every neighbor option, a default port (hidden) and an IPv6 neighbor, in FRR's order."""
    underlay = Underlay(
        name="underlay",
        asn=64514,
        vtep_cidr="100.65.0.0/24",
        nics=("toswitch",),
        neighbors=(
            Neighbor(asn=64512, address="fd00:1::2"),
            Neighbor(
                asn=64512,
                address="192.168.11.2",
                port=180,
                password=SECRET,
                hold_time=9,
                keepalive_time=3,
                connect_time=5,
                ebgp_multihop=True,
                bfd=True,
            ),
            Neighbor(asn=64514, address="192.168.11.3", port=179),
        ),
    )
    text = render(Config(underlay=underlay))
    golden.check(GOLDEN / "neighbor-options" / "node0.frr.conf", text)
    assert "port 179" not in text
    assert " neighbor 192.168.11.3 allowas-in" not in text  # iBGP: no allowas-in
    assert "l2vpn evpn\n  neighbor" not in text  # no VNI: not activated in evpn


def test_l3vni_without_host_session_and_route_targets(golden: Golden) -> None:
    """Reference 3.2 (d): only the gateway subnet, and route targets in FRR's order."""
    config = Config(
        underlay=UNDERLAY,
        l3vnis=(
            L3Vni(
                name="red",
                asn=64514,
                vni=100,
                vrf="red",
                local_cidr_ipv4="192.169.10.0/24",
                import_rts=("64514:20", "64514:100"),
                export_rts=("64514:100",),
            ),
        ),
        l2vnis=(
            L2Vni(name="a", vni=110, vrf="red", gateway_ips=("192.170.1.1/24",)),
            L2Vni(name="b", vni=120),
        ),
    )
    text = render(config)
    golden.check(GOLDEN / "no-host-session" / "node0.frr.conf", text)
    assert "192.169.10" not in text
    assert "vni 120" not in text  # an L2VNI adds nothing: advertise-all-vni finds it


def test_dual_stack_renders_one_vrf_instance() -> None:
    text = render(example_config("dual-stack"))
    assert text.count("router bgp 64514 vrf red\n") == 1
    assert text.count("vrf red\n vni 100\n") == 1
    ipv6 = text.split("vrf red\n")[-1].split(" address-family ipv6 unicast\n")[1]
    assert ipv6.startswith("  network 2001:db8:169:10::2/128\n  network 2001:db8:170:1::/64\n")


def test_golden_files_have_no_orphans() -> None:
    expected = {f"{e}/node{i}.frr.conf" for e in EXAMPLE_NAMES for i in (0, 1)} | {
        "minimal/node0.frr.conf",
        "neighbor-options/node0.frr.conf",
        "no-host-session/node0.frr.conf",
    }
    found = {str(p.relative_to(GOLDEN)) for p in Path(GOLDEN).rglob("*.frr.conf")}
    assert found == expected

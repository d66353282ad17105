"""Validate: normalisation of both dialects, the rules of SPEC section 3, and node files.

The exact error texts live in the golden cases (test_validate_golden.py); these tests pin
the normalised Config, the paths problems point at, and the node-index helpers.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pe_plan.config import (
    Config,
    HostMaster,
    L2Vni,
    L3Vni,
    Neighbor,
    NodeSettings,
    Underlay,
)
from pe_plan.derive import derive, derive_problems
from pe_plan.desired import NodeFacts, build_desired
from pe_plan.errors import InputError, Position, ValidationError
from pe_plan.load import Document, load_paths, load_text
from pe_plan.model import Link
from pe_plan.schema import MAX_NAME, MAX_VNI, NAME_PATTERN, field_path
from pe_plan.validate import index_from_addresses, load_node_file, validate
from tests.conftest import REPO
from tests.seed import SEED_CONFIG, SEED_FILE

EXAMPLES = REPO / "examples"
EXAMPLE_DIRS = sorted(path for path in EXAMPLES.iterdir() if path.is_dir())
SEED_COPY = EXAMPLES / "layer2" / "openpe.yaml"
LEGACY = "apiVersion: openpe.openperouter.github.io/v1alpha1"
CURRENT = "apiVersion: network.openperouter.io/v1alpha1"
LEGACY_UNDERLAY = f"""{LEGACY}
kind: Underlay
metadata:
  name: underlay
spec:
  asn: 64514
  vtepcidr: 100.65.0.0/24
  nics: [toswitch]
  neighbors:
    - asn: 64512
      address: 192.168.11.2
"""
CURRENT_UNDERLAY = f"""{CURRENT}
kind: Underlay
metadata:
  name: underlay
spec:
  asn: 64514
  tunnelEndpoint:
    cidrs: [100.65.0.0/24]
  interfaces:
    - type: NetworkDevice
      networkDevice:
        interfaceName: toswitch
  neighbors:
    - asn: 64512
      address: 192.168.11.2
"""


def validate_text(*documents: str) -> Config:
    return validate(load_text("---\n".join(documents), "test.yaml"))


def problems_of(*documents: str) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        validate_text(*documents)
    return [f"{p.position.line} {p.resource} {p.field}" for p in caught.value.problems]


def without_sources(config: Config) -> Config:
    return msgspec.structs.replace(config, sources={})


def test_the_seed_loads_verbatim_to_the_expected_config() -> None:
    config = validate(load_paths([SEED_COPY]))
    assert without_sources(config) == SEED_CONFIG
    assert sorted(config.sources) == ["L2VNI/layer2", "L3VNI/red", "Underlay/underlay"]
    source = config.sources["L2VNI/layer2"]
    assert source.fields["spec.l2gatewayip"] == Position(file=str(SEED_COPY), line=24)
    assert source.api_version == "openpe.openperouter.github.io/v1alpha1"


def test_the_layer2_example_is_the_seed() -> None:
    assert (EXAMPLES / "layer2" / "openpe.yaml").read_text() == SEED_FILE.read_text()


def test_the_current_dialect_example_normalises_like_the_seed() -> None:
    config = validate(load_paths([EXAMPLES / "layer2-current" / "openpe.yaml"]))
    assert without_sources(config) == SEED_CONFIG
    assert config.sources["L2VNI/layer2"].api_version == "network.openperouter.io/v1alpha1"


@pytest.mark.parametrize("example", EXAMPLE_DIRS, ids=[d.name for d in EXAMPLE_DIRS])
def test_every_example_validates_and_derives_for_both_nodes(example: Path) -> None:
    config = validate(load_paths([example / "openpe.yaml"]))
    assert config.underlay is not None
    assert config.underlay.nics == ("toswitch",)
    for index in (0, 1):
        settings = load_node_file(example / "nodes" / f"node{index}.yaml")
        assert settings.index == index
        assert derive(config, index).vtep_ip == f"100.65.0.{index}"


def test_examples_cover_the_scenarios_of_the_readme() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    for example in EXAMPLE_DIRS:
        assert f"`{example.name}/`" in readme


def test_red_blue_exercises_a_password_and_timers() -> None:
    config = validate(load_paths([EXAMPLES / "red-blue" / "openpe.yaml"]))
    assert config.underlay is not None
    (neighbor,) = config.underlay.neighbors
    assert neighbor.password
    assert (neighbor.hold_time, neighbor.keepalive_time) == (9, 3)
    assert [(l2.name, l2.vrf) for l2 in config.l2vnis] == [
        ("red-pods", "red"),
        ("blue-pods", "blue"),
    ]


def test_l2_stretch_has_no_vrf_and_a_managed_bridge() -> None:
    config = validate(load_paths([EXAMPLES / "l2-stretch" / "openpe.yaml"]))
    assert config.l3vnis == ()
    assert config.l2vnis == (
        L2Vni(name="stretch", vni=210, host_master=HostMaster(managed=True, name="br-hs-210")),
    )


def test_dual_stack_keeps_both_families() -> None:
    config = validate(load_paths([EXAMPLES / "dual-stack" / "openpe.yaml"]))
    (l3,) = config.l3vnis
    assert (l3.local_cidr_ipv4, l3.local_cidr_ipv6) == ("192.169.10.0/24", "2001:db8:169:10::/64")
    assert config.l2vnis[0].gateway_ips == ("192.170.1.1/24", "2001:db8:170:1::1/64")


def test_a_named_bridge_is_external_in_both_dialects() -> None:
    legacy = f"""{LEGACY}
kind: L2VNI
metadata: {{name: legacy}}
spec:
  vni: 110
  hostmaster: {{type: bridge, name: br-legacy}}
"""
    current = f"""{CURRENT}
kind: L2VNI
metadata: {{name: current}}
spec:
  vni: 111
  hostMaster:
    type: LinuxBridge
    linuxBridge: {{lifecycle: External, name: br-current}}
"""
    config = validate_text(LEGACY_UNDERLAY, legacy, current)
    assert [l2.host_master for l2 in config.l2vnis] == [
        HostMaster(managed=False, name="br-legacy"),
        HostMaster(managed=False, name="br-current"),
    ]


def test_without_hostmaster_the_host_leg_stays_unattached() -> None:
    l2 = f"{LEGACY}\nkind: L2VNI\nmetadata: {{name: bare}}\nspec: {{vni: 110}}\n"
    assert validate_text(LEGACY_UNDERLAY, l2).l2vnis[0].host_master is None


def test_the_seed_vrf_defaults_to_the_l3vni_name() -> None:
    l3 = f"{LEGACY}\nkind: L3VNI\nmetadata: {{name: blue}}\nspec: {{asn: 64514, vni: 200}}\n"
    (l3vni,) = validate_text(LEGACY_UNDERLAY, l3).l3vnis
    assert (l3vni.vrf, l3vni.host_asn, l3vni.local_cidr_ipv4) == ("blue", None, None)


def test_a_current_l3vni_without_host_session_uses_the_underlay_asn() -> None:
    l3 = f"""{CURRENT}
kind: L3VNI
metadata: {{name: blue}}
spec:
  vrf: blue
  vni: 200
  exportRTs: ["64514:200"]
  importRTs: ["10.0.0.1:200"]
"""
    (l3vni,) = validate_text(CURRENT_UNDERLAY, l3).l3vnis
    assert l3vni == L3Vni(
        name="blue",
        asn=64514,
        vni=200,
        vrf="blue",
        export_rts=("64514:200",),
        import_rts=("10.0.0.1:200",),
    )


def test_current_neighbor_options_are_normalised() -> None:
    underlay = CURRENT_UNDERLAY.replace(
        "      address: 192.168.11.2\n",
        """      address: 192.168.11.2
      port: 1179
      holdTimeSeconds: 0
      keepaliveTimeSeconds: 0
      connectTimeSeconds: 5
      bfd: {}
      properties:
        - type: ebgpMultiHop
""",
    ).replace(
        "    cidrs: [100.65.0.0/24]\n", "    cidrs: [100.65.0.0/24]\n  routerIDCIDR: 10.1.0.0/24\n"
    )
    config = validate_text(underlay)
    assert config.underlay == Underlay(
        name="underlay",
        asn=64514,
        vtep_cidr="100.65.0.0/24",
        nics=("toswitch",),
        router_id_cidr="10.1.0.0/24",
        neighbors=(
            Neighbor(
                asn=64512,
                address="192.168.11.2",
                port=1179,
                hold_time=0,
                keepalive_time=0,
                connect_time=5,
                ebgp_multihop=True,
                bfd=True,
            ),
        ),
    )


def test_mixed_dialects_resolve_a_routing_domain_by_l3vni_name() -> None:
    l3 = f"""{LEGACY}
kind: L3VNI
metadata: {{name: tenant}}
spec: {{asn: 64514, vni: 100, vrf: red, hostasn: 64515, localcidr: {{ipv4: 192.169.10.0/24}}}}
"""
    l2 = f"""{CURRENT}
kind: L2VNI
metadata: {{name: layer2}}
spec:
  vni: 110
  routingDomain: {{type: L3VNI, l3vni: {{name: tenant}}}}
  gatewayIPs: [192.170.1.1/24]
"""
    config = validate_text(CURRENT_UNDERLAY, l3, l2)
    assert config.l2vnis[0].vrf == "red"


def test_resources_keep_document_order() -> None:
    names = ["c", "a", "b"]
    l2s = [
        f"{LEGACY}\nkind: L2VNI\nmetadata: {{name: {n}}}\nspec: {{vni: {110 + i}}}\n"
        for i, n in enumerate(names)
    ]
    assert [l2.name for l2 in validate_text(*l2s, LEGACY_UNDERLAY).l2vnis] == names


def test_every_problem_is_reported_at_once() -> None:
    l2 = f"""{LEGACY}
kind: L2VNI
metadata: {{name: layer2}}
spec:
  vni: 0
  vrf: nowhere
  hostmaster: {{type: bridge}}
  l2gatewayip: 192.170.1.0/24
"""
    assert problems_of(LEGACY_UNDERLAY.replace("192.168.11.2", "bad"), l2) == [
        "11 Underlay/underlay spec.neighbors.0.address",
        "17 L2VNI/layer2 spec.vni",
    ]
    valid_vni = l2.replace("vni: 0", "vni: 110")
    assert problems_of(LEGACY_UNDERLAY, valid_vni) == [
        "18 L2VNI/layer2 spec.vrf",
        "19 L2VNI/layer2 spec.hostmaster",
        "20 L2VNI/layer2 spec.l2gatewayip",
    ]


def test_a_broken_l3vni_does_not_make_its_l2vni_dangle() -> None:
    l3 = f"{LEGACY}\nkind: L3VNI\nmetadata: {{name: red}}\nspec: {{asn: 64514, vni: abc}}\n"
    l2 = f"{LEGACY}\nkind: L2VNI\nmetadata: {{name: layer2}}\nspec: {{vni: 110, vrf: red}}\n"
    assert problems_of(LEGACY_UNDERLAY, l3, l2) == ["16 L3VNI/red spec.vni"]


def test_a_broken_underlay_is_not_a_missing_one() -> None:
    l2 = f"{LEGACY}\nkind: L2VNI\nmetadata: {{name: layer2}}\nspec: {{vni: 110}}\n"
    assert problems_of(LEGACY_UNDERLAY.replace("asn: 64514", "asn: x"), l2) == [
        "6 Underlay/underlay spec.asn"
    ]


def test_an_underlay_alone_is_a_valid_config() -> None:
    config = validate_text(LEGACY_UNDERLAY.replace("  vtepcidr: 100.65.0.0/24\n", ""))
    assert config.underlay is not None
    assert config.underlay.vtep_cidr is None


def test_a_password_never_appears_in_a_message() -> None:
    secret = "top secret"  # noqa: S105 - the point is that it never shows
    underlay = LEGACY_UNDERLAY.replace(
        "      address: 192.168.11.2\n", f"      address: 192.168.11.2\n      password: {secret}\n"
    )
    with pytest.raises(ValidationError) as caught:
        validate_text(underlay)
    assert secret not in caught.value.message
    assert "password" in caught.value.message


@pytest.mark.parametrize(
    ("field", "legacy", "current"),
    [
        ("vtep_cidr", "spec.vtepcidr", "spec.tunnelEndpoint.cidrs.0"),
        ("router_id_cidr", "spec.routeridcidr", "spec.routerIDCIDR"),
        ("nics", "spec.nics.0", "spec.interfaces.0.networkDevice.interfaceName"),
        ("neighbors.hold_time", "spec.neighbors.0.holdTime", "spec.neighbors.0.holdTimeSeconds"),
    ],
)
def test_field_path_spells_underlay_fields_per_dialect(
    field: str, legacy: str, current: str
) -> None:
    legacy_source = validate_text(LEGACY_UNDERLAY).sources["Underlay/underlay"]
    current_source = validate_text(CURRENT_UNDERLAY).sources["Underlay/underlay"]
    assert field_path(legacy_source, field) == legacy
    assert field_path(current_source, field) == current


def test_field_path_points_a_defaulted_vrf_at_the_name() -> None:
    l3 = f"{LEGACY}\nkind: L3VNI\nmetadata: {{name: blue}}\nspec: {{asn: 64514, vni: 200}}\n"
    source = validate_text(LEGACY_UNDERLAY, l3).sources["L3VNI/blue"]
    assert field_path(source, "vrf") == "metadata.name"


def test_derive_problems_point_at_the_current_dialect_paths() -> None:
    config = validate(load_paths([EXAMPLES / "layer2-current" / "openpe.yaml"]))
    problems = derive_problems(config, 300)
    assert [(p.resource, p.field, p.position.line) for p in problems] == [
        ("Underlay/underlay", "spec.tunnelEndpoint.cidrs.0", 44),
        ("Underlay/underlay", "spec.routerIDCIDR", 40),
        ("L3VNI/red", "spec.hostSession.localCIDR.ipv4", 15),
    ]


def test_derive_problems_of_a_config_without_sources_name_the_resource() -> None:
    (problem, *_) = derive_problems(SEED_CONFIG, 300)
    assert str(problem).startswith("<config>:1: Underlay/underlay: spec.vtepcidr: node index 300")


@given(vni=st.integers(min_value=1, max_value=MAX_VNI))
def test_every_valid_vni_gives_a_valid_managed_bridge_name(vni: int) -> None:
    l2 = f"""{LEGACY}
kind: L2VNI
metadata: {{name: layer2}}
spec: {{vni: {vni}, hostmaster: {{type: bridge, autocreate: true}}}}
"""
    (l2vni,) = validate_text(LEGACY_UNDERLAY, l2).l2vnis
    assert l2vni.host_master == HostMaster(managed=True, name=f"br-hs-{vni}")
    assert is_interface_name(l2vni.host_master.name)


def test_names_derived_from_the_largest_vnis_fit_the_kernel() -> None:
    l3 = f"""{LEGACY}
kind: L3VNI
metadata: {{name: red}}
spec: {{asn: 64514, vni: {MAX_VNI}, hostasn: 64515, localcidr: {{ipv4: 192.169.10.0/24}}}}
"""
    l2 = f"""{LEGACY}
kind: L2VNI
metadata: {{name: layer2}}
spec:
  vni: {MAX_VNI - 1}
  vrf: red
  hostmaster: {{type: bridge, autocreate: true}}
  l2gatewayip: 192.170.1.1/24
"""
    config = validate_text(LEGACY_UNDERLAY, l3, l2)
    state = build_desired(config, NodeSettings(index=0), derive(config, 0), NodeFacts(), None)
    names = {obj.name for obj in state.objects.values() if isinstance(obj, Link)}
    assert {f"br-hs-{MAX_VNI - 1}", f"host-{MAX_VNI}", f"br-pe-{MAX_VNI}"} <= names
    assert all(is_interface_name(name) for name in names), sorted(names)


def is_interface_name(name: str) -> bool:
    return len(name) <= MAX_NAME and re.fullmatch(NAME_PATTERN, name) is not None


# The node file and the node index.


def test_a_node_file_with_an_interface(tmp_path: Path) -> None:
    node = tmp_path / "node.yaml"
    node.write_text(
        "nodeIndex: {interfaceName: eth0, cidr: 192.168.11.0/24}\n"
        "routerNamespace: pe0\nfrr: {mode: external, pathspace: router0}\n"
    )
    assert load_node_file(node) == NodeSettings(
        interface_name="eth0",
        cidr="192.168.11.0/24",
        router_namespace="pe0",
        frr_mode="external",
        frr_pathspace="router0",
        source=Position(file=str(node), line=1),
    )


def test_a_node_file_without_index_keeps_the_defaults(tmp_path: Path) -> None:
    node = tmp_path / "node.yaml"
    node.write_text("nodeName: node-a\n")
    settings = load_node_file(node)
    assert (settings.index, settings.router_namespace, settings.frr_mode, settings.pathspace) == (
        None,
        "perouter",
        "managed",
        "perouter",
    )


@pytest.mark.parametrize(
    ("addresses", "cidr", "index"),
    [
        (["192.168.11.3/24"], None, 3),
        (["fe80::1/64", "2001:db8:11::5/64", "192.168.11.4/24"], None, 4),
        (["fe80::1/64", "2001:db8:11::5/64"], None, 5),
        (["10.0.0.7/8", "192.168.11.9/24"], "192.168.11.0/24", 9),
        (["192.168.11.9/24", "2001:db8:11::12/64"], "2001:db8:11::/64", 0x12),
        (["172.16.1.2/16"], None, 0x102),
    ],
)
def test_index_from_addresses(addresses: list[str], cidr: str | None, index: int) -> None:
    assert index_from_addresses(addresses, cidr, "eth0") == index


def test_index_from_addresses_without_a_match() -> None:
    with pytest.raises(
        InputError, match=r"no address matching cidr 10\.0\.0\.0/8 found on interface eth0"
    ):
        index_from_addresses(["192.168.11.3/24"], "10.0.0.0/8", "eth0")
    with pytest.raises(InputError, match="no IP address found on interface eth0"):
        index_from_addresses(["fe80::1/64"], None, "eth0")


# Robustness: whatever a user writes ends in a Config or a ValidationError, never a traceback.

TRICKY_STRINGS = [
    "",
    " ",
    "red",
    "L2VNI",
    "bridge",
    "Managed",
    "External",
    "192.168.1.1",
    "192.168.1.0/24",
    "192.168.1.255/24",
    "1.2.3.4/33",
    "0.0.0.0/0",
    "255.255.255.255/32",
    "::",
    "fd00::/8",
    "2001:db8::1/128",
    "64514:100",
    "1:2:3",
    "x" * 20,
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False),
    st.sampled_from(TRICKY_STRINGS),
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


def replaced(tree: Any, parts: list[str], value: Any) -> Any:
    """A copy of ``tree`` with the value at ``parts`` (dict keys, list indexes) replaced."""
    if not parts:
        return value
    head, *rest = parts
    if isinstance(tree, list):
        index = int(head)
        return [replaced(item, rest, value) if i == index else item for i, item in enumerate(tree)]
    return {key: replaced(item, rest, value) if key == head else item for key, item in tree.items()}


@pytest.fixture(scope="module")
def example_documents() -> dict[str, list[Document]]:
    return {example.name: load_paths([example / "openpe.yaml"]) for example in EXAMPLE_DIRS}


@given(data=st.data())
def test_a_mutated_example_is_a_config_or_a_validation_error(
    example_documents: dict[str, list[Document]], data: st.DataObject
) -> None:
    example = data.draw(st.sampled_from(EXAMPLE_DIRS))
    documents = list(example_documents[example.name])
    index = data.draw(st.integers(min_value=0, max_value=len(documents) - 1))
    document = documents[index]
    path = data.draw(st.sampled_from(sorted(p for p in document.positions if p)))
    mutated = msgspec.structs.replace(
        document, data=replaced(document.data, path.split("."), data.draw(VALUES))
    )
    documents[index] = mutated
    assert outcome(documents) in {"valid", "invalid"}


def outcome(documents: list[Document]) -> str:
    try:
        validate(documents)
    except ValidationError as err:
        return "invalid" if err.problems else "an error without problems"
    return "valid"


def test_node_file_with_an_external_frr_by_its_sockets(tmp_path: Path) -> None:
    node_file = tmp_path / "node.yaml"
    node_file.write_text(
        "nodeIndex: {index: 2}\nfrr:\n  mode: external\n  vtySocket: /run/router/frr\n"
    )
    settings = load_node_file(node_file)
    assert (settings.index, settings.frr_mode) == (2, "external")
    assert settings.frr_vty_socket == "/run/router/frr"

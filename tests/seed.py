"""The seed scenario as the normalised Config that both dialects must produce."""

from __future__ import annotations

from pe_plan.config import Config, HostMaster, L2Vni, L3Vni, Neighbor, Underlay
from tests.conftest import REPO

# The seed document the project comes from, beside the repository (as CI lays it out);
# examples/layer2/openpe.yaml must stay a verbatim copy of it.
SEED_FILE = REPO.parent / "shared" / "seed" / "openpe.yaml"

SEED_CONFIG = Config(
    underlay=Underlay(
        name="underlay",
        asn=64514,
        vtep_cidr="100.65.0.0/24",
        nics=("toswitch",),
        neighbors=(Neighbor(asn=64512, address="192.168.11.2"),),
    ),
    l3vnis=(
        L3Vni(
            name="red",
            asn=64514,
            vni=100,
            vrf="red",
            host_asn=64515,
            local_cidr_ipv4="192.169.10.0/24",
        ),
    ),
    l2vnis=(
        L2Vni(
            name="layer2",
            vni=110,
            vrf="red",
            host_master=HostMaster(managed=True, name="br-hs-110"),
            gateway_ips=("192.170.1.1/24",),
        ),
    ),
)

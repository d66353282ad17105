"""The rtnetlink codec without a kernel: requests decoded back, and hand-made replies.

A link request (``ifinfomsg`` plus attributes) has the layout of the kernel's link message,
so decoding what the builders pack checks both sides; the integration tests check them
against the kernel.
"""

from __future__ import annotations

import struct

from pe_plan.backends import rtnl
from pe_plan.backends.dump import AddrRecord, BridgePortRecord, LinkRecord, VxlanRecord


def _decode_one(request: rtnl.Request) -> tuple[bytes, rtnl.Reply]:
    data = rtnl.frame(request, seq=7)
    (reply,) = rtnl.replies(data)
    assert (reply.type, reply.flags, reply.seq) == (request.type, request.flags, 7)
    return data, reply


def test_vxlan_create_request_round_trip() -> None:
    body = rtnl.ifinfo(up=True) + rtnl.link_attrs(
        name="vni110", mtu=1450, mac="00:F3:00:00:00:6F".lower(), group=7, master=4
    )
    data = rtnl.vxlan_data(vni=110, local="100.65.0.0", port=4790, learning=False, link=9)
    request = rtnl.new_link(body + rtnl.link_info("vxlan", data))
    assert request.flags == rtnl.NLM_F_REQUEST | rtnl.NLM_F_ACK | 0x600  # CREATE | EXCL
    assert rtnl.decode_link(*_decode_one(request)) == LinkRecord(
        index=0,
        name="vni110",
        flags=rtnl.IFF_UP,
        mtu=1450,
        kind="vxlan",
        mac="00:f3:00:00:00:6f",
        master=4,
        group=7,
        vxlan=VxlanRecord(vni=110, local="100.65.0.0", port=4790, learning=False, link=9),
    )


def test_ipv6_vxlan_vrf_and_addrgenmode_round_trip() -> None:
    data = rtnl.vxlan_data(vni=5, local="2001:db8::1", port=4789, learning=True, link=None)
    vxlan = rtnl.ifinfo() + rtnl.link_attrs(name="v6", addrgenmode="none")
    decoded = rtnl.decode_link(*_decode_one(rtnl.new_link(vxlan + rtnl.link_info("vxlan", data))))
    assert decoded.vxlan == VxlanRecord(vni=5, local="2001:db8::1", learning=True)
    assert (decoded.addrgenmode, decoded.flags) == ("none", 0)
    vrf = rtnl.ifinfo() + rtnl.link_attrs(name="red") + rtnl.link_info("vrf", rtnl.vrf_data(12))
    assert rtnl.decode_link(*_decode_one(rtnl.new_link(vrf))).vrf_table == 12


def test_bridge_port_flags_round_trip() -> None:
    body = rtnl.link_attrs(name="vni110") + rtnl.bridge_port_info(
        neigh_suppress=True, learning=False
    )
    request = rtnl.set_link(rtnl.ifinfo() + body)
    assert request.flags == rtnl.NLM_F_REQUEST | rtnl.NLM_F_ACK
    assert rtnl.decode_link(*_decode_one(request)).bridge_port == BridgePortRecord(
        neigh_suppress=True, learning=False
    )


def test_veth_peer_is_nested_and_not_mistaken_for_the_link() -> None:
    peer = rtnl.ifinfo() + rtnl.link_attrs(name="pe-110", netns_fd=3, mtu=1400)
    body = rtnl.ifinfo() + rtnl.link_attrs(name="host-110")
    link = rtnl.decode_link(
        *_decode_one(rtnl.new_link(body + rtnl.link_info("veth", rtnl.veth_data(peer))))
    )
    assert (link.name, link.kind, link.mtu) == ("host-110", "veth", 0)


def test_address_requests_round_trip() -> None:
    add = rtnl.address(add=True, index=4, cidr="2001:db8::2/64")
    assert add.flags & rtnl.NLM_F_REPLACE  # adding an existing address is not an error
    assert rtnl.decode_address(*_decode_one(add)) == AddrRecord(
        index=4, family=6, address="2001:db8::2", prefixlen=64
    )
    delete = rtnl.address(add=False, index=2, cidr="192.170.1.1/24")
    assert delete.type == rtnl.RTM_DELADDR
    assert rtnl.decode_address(*_decode_one(delete)) == AddrRecord(
        index=2, family=4, address="192.170.1.1", prefixlen=24
    )


def _error_reply(error: int, flags: int, tail: bytes) -> bytes:
    payload = struct.pack("=i", -error) + struct.pack("=IHHII", 40, 16, 5, 3, 0) + tail
    return struct.pack("=IHHII", 16 + len(payload), rtnl.NLMSG_ERROR, flags, 3, 0) + payload


def test_errors_acknowledgements_and_extended_ack_messages() -> None:
    message = rtnl.string(rtnl.NLMSGERR_ATTR_MSG, "Unknown device type")
    capped = rtnl.NLM_F_CAPPED | rtnl.NLM_F_ACK_TLVS
    data = _error_reply(95, capped, message) + _error_reply(0, rtnl.NLM_F_CAPPED, b"")
    data += _error_reply(17, rtnl.NLM_F_CAPPED, b"")
    decoded = [rtnl.decode_error(data, reply) for reply in rtnl.replies(data)]
    assert decoded == [(95, "Unknown device type"), (0, None), (17, None)]


def test_nsid_reply() -> None:
    body = struct.pack("=Bxxx", 0) + struct.pack("=HHi", 8, rtnl.NETNSA_NSID, 2)
    data = rtnl.frame(rtnl.Request(rtnl.RTM_NEWNSID, 0, body), seq=1)
    (reply,) = rtnl.replies(data)
    assert rtnl.decode_nsid(data, reply) == 2
    unassigned = rtnl.frame(
        rtnl.Request(rtnl.RTM_NEWNSID, 0, body[:4] + struct.pack("=HHi", 8, 1, -1)), seq=1
    )
    assert rtnl.decode_nsid(unassigned, next(rtnl.replies(unassigned))) is None

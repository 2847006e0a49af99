"""model/items.py: Mist items cut down to what the dashboard reads as they arrive."""

from __future__ import annotations

from typing import Any

import pytest

from model.items import (
    PEER_PATH_FIELDS,
    InterfaceStat,
    gateway_id_from_mac,
    gateway_stat,
    peer_path,
    port_stat,
)
from tests.fixtures.snapshots import DENVER_GW, load


@pytest.fixture
def mist() -> dict[str, Any]:
    return load("examples.json")


def test_compact_items_keep_only_what_the_dashboard_reads(mist):
    """gateway_stat / port_stat / peer_path: tuples, normalised once, idempotent; an item that
    is not a gateway (or names no MAC) has no compact form."""
    raw = mist["listOrgDevicesStats"][0]
    compact = gateway_stat(raw)
    assert compact is not None and compact.id == DENVER_GW
    assert gateway_stat(compact) is compact
    wan = [i for i in compact.interfaces if i.wan]
    assert wan and all(isinstance(i, InterfaceStat) for i in compact.interfaces)
    assert gateway_stat({**raw, "type": "switch"}) is None
    assert gateway_stat({"mac": None}) is None
    row = mist["searchOrgSwOrGwPorts"]["results"][0]
    port = port_stat(row)
    assert port is not None and port_stat(port) is port
    assert port_stat({**row, "mac": None}) is None
    path = peer_path({**mist["searchOrgPeerPathStats"]["results"][0], "latency": "9"})
    assert path is not None and path.latency is None  # a string is not a number
    assert list(path.as_dict()) == list(PEER_PATH_FIELDS)
    assert peer_path({"port_id": "ge-0/0/0"}) is None


def test_a_peer_path_keeps_the_vpn_name_and_hop_count_when_mist_sends_them(mist):
    """Not in Mist's vpn_peer_stat schema, so never relied on: kept when an answer has them."""
    raw = mist["searchOrgPeerPathStats"]["results"][0]
    assert "vpn_name" not in raw and "hop_count" not in raw
    bare = peer_path(raw)
    assert bare is not None and (bare.vpn_name, bare.hop_count) == (None, None)
    told = peer_path({**raw, "vpn_name": "Corp_VPN", "hop_count": 2})
    assert told is not None and told.as_dict()["vpn_name"] == "Corp_VPN"
    assert told.as_dict()["hop_count"] == 2
    odd = peer_path({**raw, "vpn_name": {"x": 1}, "hop_count": -3})
    assert odd is not None and (odd.vpn_name, odd.hop_count) == (None, None)


def test_interfaces_are_node0_then_node1_in_key_order_and_ha_follows_if2_stat():
    compact = gateway_stat(
        {
            "mac": "aabbcc",
            "if_stat": {"ge-0/0/1.0": {"port_usage": "wan"}, "ge-0/0/0.0": {}, "junk": None},
            "if2_stat": {"ge-7/0/0.0": {"port_id": "ge-7/0/0", "ips": ["192.0.2.1/30"]}},
        }
    )
    assert compact is not None
    assert compact.id == gateway_id_from_mac("aabbcc") == "00000000-0000-0000-1000-aabbcc"
    assert [(i.node, i.port_id, i.wan) for i in compact.interfaces] == [
        ("node0", "ge-0/0/0", False),
        ("node0", "ge-0/0/1", True),
        ("node1", "ge-7/0/0", False),
    ]
    assert compact.interfaces[2].ip == "192.0.2.1/30" and compact.ha is True


def test_values_stay_within_what_json_and_the_rate_math_can_hold():
    """model.values: counters within 0 ≤ v < 2**64, no int beyond ±2**64 as a number, text
    cut at 256 characters, NaN and infinities nothing, physical ranges capped."""
    from model.values import TEXT_MAX, bounded, counter, number, scalar, text

    assert [counter(v) for v in (1e308, 10**400, 2**64, -1, float("nan"))] == [None] * 5
    assert counter(2**64 - 1) == 2**64 - 1 and counter(12.0) == 12
    assert number(10**4000) is None and number(-(2**64)) is None and number(2**63) == 2**63
    assert text("x" * 10_000_000) == "x" * TEXT_MAX and TEXT_MAX == 256
    assert text({"a": 1}) is None and text(float("nan")) is None and text(7) == "7"
    assert scalar(float("inf")) is None and scalar([1]) is None and scalar(True) is True
    assert scalar("é" * 300) == "é" * 256 and scalar(1.5) == 1.5
    assert bounded(10**4000, 0, 60_000) == 60_000 and bounded(1e308, 0, 5) == 5
    assert bounded(-3, 0, 100) == 0 and bounded(float("nan"), 0, 1) is None


def test_hostile_items_are_cut_down_or_dropped_and_logged(caplog):
    """Peer path quality within its physical range; 10 MB names cut to 256 characters; an
    item whose reading raises is dropped (None) and logged, never failing its page."""
    huge = peer_path(
        {"mac": "aa", "latency": 10**4000, "jitter": 1e308, "loss": 1e9, "mos": -1,
         "peer_router_name": "r" * 10_000_000, "uptime": float("nan"), "mtu": {"x": 1}}
    )  # fmt: skip
    assert huge is not None
    assert (huge.latency, huge.jitter, huge.loss, huge.mos) == (60_000, 60_000, 100, 0)
    assert huge.peer_router_name == "r" * 256 and huge.uptime is None and huge.mtu is None
    stat = gateway_stat({"mac": "m" * 1000, "name": "n" * 1000, "model": float("nan")})
    assert stat is not None and stat.name == "n" * 256 and stat.model is None
    assert stat.mac == "m" * 256 and len(stat.id) == 24 + 256

    class Hostile(dict):
        def get(self, *args: Any) -> Any:
            raise RuntimeError("no reading this")

    with caplog.at_level("WARNING", logger="model"):
        assert gateway_stat(Hostile()) is None
        assert port_stat(Hostile()) is None
        assert peer_path(Hostile()) is None
    assert caplog.text.count("dropped a Mist item") == 3

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

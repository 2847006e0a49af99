"""mist.device_events against mistsim through the real SDK: the org's gateway events of the
asked types, in time order, following `next` page by page; nothing to tell is one call."""

from __future__ import annotations

import time

from model.mist_events import MIST_TYPES
from tests.fixtures.mist_connect import connect


def test_a_days_events_follow_next_and_a_quiet_window_is_one_call(mistsim_factory):
    sim = mistsim_factory(gateways=300, sites=150)
    connection = connect(sim)
    now = int(time.time())
    day = connection.device_events(sim.org_id, start=now - 86400, end=now, types=MIST_TYPES)
    assert len(day.items) > 1000, "a day of a 300-gateway org's flaps spans pages"
    assert day.calls == -(-len(day.items) // 1000)
    assert sim.calls()["by_endpoint"]["GET /api/v1/orgs/{org_id}/devices/events/search"] == (
        day.calls
    )
    facts = ("timestamp", "mac", "type", "port_id", "peer_mac", "peer_port_id")
    keys = [tuple(e.get(name) for name in facts) for e in day.items]
    assert len(set(keys)) == len(keys), "no page read twice"
    assert [e["timestamp"] for e in day.items] == sorted(e["timestamp"] for e in day.items)
    assert {e["type"] for e in day.items} <= set(MIST_TYPES)
    ports_only = connection.device_events(
        sim.org_id, start=now - 86400, end=now, types=("GW_PORT_DOWN",)
    )
    assert ports_only.items and {e["type"] for e in ports_only.items} == {"GW_PORT_DOWN"}
    quiet = connection.device_events(
        sim.org_id, start=now - 86400, end=now, types=("GW_CONNECTED",)
    )  # nothing reconnected: one call tells so
    assert (quiet.items, quiet.calls) == ([], 1)

"""Circuit events: what changed between two refreshes (model/events.py), stored per org
(store/events.py), and end to end through the real SDK, mistsim and redis-server."""

from __future__ import annotations

import json
from typing import Any

from model.events import EVENT_FIELDS, EVENT_TYPES, derive_events, system_events
from model.items import GatewayStat, PeerPath
from model.snapshot import Gateway, Snapshot, WanPort
from store.events import (
    Retention,
    count_events,
    decode_member,
    encode_member,
    read_event_page,
    read_events_org,
    read_state,
    write_events,
)
from tests.test_worker import make_worker

ORG = {"id": "org-1", "name": "Acme"}
SITES = [{"id": "site-1", "name": "Denver"}]


def port(port_id: str, *, up: bool | None = True, enabled: bool = True, degraded: bool = False):
    return WanPort(
        port_id, "node0", "wan", None, "ISP", "AS1", "broadband", enabled, up,
        enabled and up is False, 1000, None, None, 0, "dhcp", False, 1, 1,
        150.0 if degraded else 20.0, 1.0, 0.0, 4.3, degraded, 0, 0, None,
    )  # fmt: skip


def gateway(gateway_id: str, *ports: WanPort, status: str = "connected") -> Gateway:
    stat = GatewayStat(
        gateway_id, gateway_id[-4:], f"gw-{gateway_id}", "site-1", "SRX", "22", status,
        1, 1, None, None, False, (),
    )  # fmt: skip
    ups = sum(1 for p in ports if p.up)
    return Gateway(stat, ups, len(ports), 0, 0, any(p.degraded for p in ports), ports)


def path(port_id: str, up: bool, mac: str = "gw1") -> PeerPath:
    return PeerPath(
        port_id, "hub", "ge-0/0/1", "hubmac", "site-2", "ipsec", up, up, 1,
        20.0, 1.0, 0.0, 4.3, 1400, 1, mac,
    )  # fmt: skip


def snapshot(*records: Gateway, paths: dict | None = None, now: float = 1000.0) -> Snapshot:
    return Snapshot(ORG, SITES, list(records), paths or {}, [], now)


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return sorted((event["type"], event["port_id"]) for event in events)


def test_the_first_refresh_learns_and_raises_nothing():
    derived = derive_events(None, snapshot(gateway("gw1", port("ge-0/0/0", up=False))))
    assert derived.events == []
    assert derived.state["ports"]["gw1\tge-0/0/0"][0] is False


def test_a_port_down_and_up_again_are_two_events_with_names_and_values():
    first = derive_events(None, snapshot(gateway("gw1", port("ge-0/0/0"), port("ge-0/0/1"))))
    down = derive_events(
        first.state,
        snapshot(gateway("gw1", port("ge-0/0/0", up=False), port("ge-0/0/1")), now=1060),
    )
    [event] = down.events
    assert list(event) == list(EVENT_FIELDS)
    assert event["type"] == "port_down" and event["severity"] == EVENT_TYPES["port_down"]
    assert (event["before"], event["after"], event["time"]) == (True, False, 1060)
    assert event["org_name"] == "Acme" and event["site_name"] == "Denver"
    assert event["gateway_name"] == "gw-gw1" and event["source"] == "refresh"
    up = derive_events(
        down.state, snapshot(gateway("gw1", port("ge-0/0/0"), port("ge-0/0/1")), now=1120)
    )
    assert kinds(up.events) == [("port_up", "ge-0/0/0")]
    assert up.events[0]["id"] != event["id"]


def test_every_wan_port_down_is_its_own_critical_event():
    first = derive_events(None, snapshot(gateway("gw1", port("a"), port("b"))))
    down = derive_events(
        first.state, snapshot(gateway("gw1", port("a", up=False), port("b", up=False)))
    )
    assert kinds(down.events) == [
        ("gateway_wan_down", None),
        ("port_down", "a"),
        ("port_down", "b"),
    ]
    assert EVENT_TYPES["gateway_wan_down"] == "critical"
    disabled = derive_events(
        first.state, snapshot(gateway("gw1", port("a", enabled=False), port("b")))
    )
    assert kinds(disabled.events) == [("port_disabled", "a")]


def test_an_offline_gateway_is_one_event_and_its_ports_keep_their_state():
    first = derive_events(None, snapshot(gateway("gw1", port("a"))))
    offline = derive_events(
        first.state, snapshot(gateway("gw1", port("a", up=None), status="disconnected"))
    )
    assert kinds(offline.events) == [("gateway_offline", None)]
    assert offline.events[0]["severity"] == "critical"
    back = derive_events(offline.state, snapshot(gateway("gw1", port("a"))))
    assert kinds(back.events) == [("gateway_online", None)]


def test_degraded_and_recovered_must_hold_for_the_hold_count():
    state = derive_events(None, snapshot(gateway("gw1", port("a")))).state
    seen = []
    for degraded in (True, False, True, True, True, False, False):
        derived = derive_events(
            state, snapshot(gateway("gw1", port("a", degraded=degraded))), hold=2
        )
        state = derived.state
        seen.append([event["type"] for event in derived.events])
    assert seen == [[], [], [], ["circuit_degraded"], [], [], ["circuit_recovered"]]
    one = derive_events(
        derive_events(None, snapshot(gateway("gw1", port("a")))).state,
        snapshot(gateway("gw1", port("a", degraded=True))),
        hold=1,
    )
    [event] = one.events
    assert event["after"]["degraded"] is True and event["after"]["latency"] == 150.0


def test_peer_paths_down_and_up():
    record = gateway("gw1", port("a"))
    first = derive_events(None, snapshot(record, paths={("gw1", "mac"): [path("a", True)]}))
    down = derive_events(first.state, snapshot(record, paths={("gw1", "mac"): [path("a", False)]}))
    [event] = down.events
    assert (event["type"], event["peer_name"], event["peer_port_id"]) == (
        "path_down",
        "hub",
        "ge-0/0/1",
    )
    up = derive_events(down.state, snapshot(record, paths={("gw1", "mac"): [path("a", True)]}))
    assert [e["type"] for e in up.events] == ["path_up"]


def test_system_conditions_raise_once_and_clear_once():
    events, kept = system_events({}, ORG, 10.0, failing=True, exhausted=False, stale=False)
    assert [e["type"] for e in events] == ["refresh_failing"]
    again, kept = system_events(kept, ORG, 20.0, failing=True, exhausted=True, stale=True)
    assert sorted(e["type"] for e in again) == ["data_stale", "tokens_exhausted"]
    cleared, kept = system_events(kept, ORG, 30.0, failing=False, exhausted=False, stale=False)
    assert sorted(e["type"] for e in cleared) == [
        "data_fresh",
        "refresh_recovered",
        "tokens_recovered",
    ]
    assert kept == {"failing": False, "exhausted": False, "stale": False}


def test_the_store_keeps_newest_first_pages_and_trims_by_age_and_count(redis_server):
    client = redis_server.client()
    events, _ = system_events({}, ORG, 0.0, failing=True)
    member = encode_member(events[0])
    decoded = decode_member(member, 0.0)
    assert (decoded.type, decoded.severity) == ("refresh_failing", "warning")
    assert json.loads(decoded.body) == events[0]
    stream = []
    for n in range(10):
        made, _ = system_events({}, ORG, 100.0 + n, failing=n % 2 == 0, exhausted=n % 2 == 1)
        stream += made
    write_events(client, "org-1", stream, {}, 110.0, Retention(max_age=5.5, max_events=100))
    assert read_events_org(client) == "org-1"
    page = read_event_page(client, "org-1", newest=1e12, oldest=0, skip=0, count=3)
    assert [e.time for e in page] == [109.0, 108.0, 107.0]
    assert count_events(client, "org-1") == 5  # 105 … 109 stay: 104 and older are gone
    write_events(client, "org-1", [], {}, 110.0, Retention(max_age=100, max_events=2))
    assert count_events(client, "org-1") == 2


# ---------------------------------------------------------------- end to end


def stored_events(client, org_id: str) -> list[dict[str, Any]]:
    page = read_event_page(client, org_id, newest=1e12, oldest=0, skip=0, count=10_000)
    return [json.loads(event.body) for event in page]


def quiet_gateway(client) -> dict[str, Any]:
    """A connected spoke whose WAN ports are all up, each with peer paths."""
    body = json.loads(client.get("mist:gateways"))
    for record in body["gateways"]:
        ports = record["ports"]
        if (
            record["status"] == "connected"
            and len(ports) >= 2
            and all(p["up"] and p["peers_total"] and not p["degraded"] for p in ports)
        ):
            return record
    raise AssertionError("no quiet gateway in the simulated org")


def new_events(client, org_id: str, seen: set[str], gateway_id: str) -> list[tuple[str, Any]]:
    found = [e for e in stored_events(client, org_id) if e["id"] not in seen]
    seen.update(e["id"] for e in found)
    return sorted((e["type"], e["port_id"]) for e in found if e["gateway_id"] == gateway_id)


def test_port_down_gateway_offline_and_degraded_quality_become_events(mistsim, redis_server):
    instance = make_worker(mistsim, redis_server, interval=60)
    client = redis_server.client()
    assert instance.refresh()
    org_id = mistsim.org_id
    assert read_state(client, org_id) is not None
    record = quiet_gateway(client)
    mac, gateway_id = record["mac"], record["id"]
    first, second = record["ports"][0]["port_id"], record["ports"][1]["port_id"]
    seen = {e["id"] for e in stored_events(client, org_id)}

    mistsim.admin("POST", "link", json={"mac": mac, "port_id": first, "state": "down"})
    assert instance.refresh()
    found = new_events(client, org_id, seen, gateway_id)
    assert ("port_down", first) in found
    assert any(kind == "path_down" for kind, _ in found)

    mistsim.admin("POST", "link", json={"mac": mac, "port_id": second, "state": "down"})
    assert instance.refresh()
    assert ("gateway_wan_down", None) in new_events(client, org_id, seen, gateway_id)

    for port_id in (first, second):
        mistsim.admin("POST", "link", json={"mac": mac, "port_id": port_id, "state": "up"})
    mistsim.admin("POST", "gateway", json={"mac": mac, "connected": False})
    assert instance.refresh()
    assert new_events(client, org_id, seen, gateway_id) == [("gateway_offline", None)]

    mistsim.admin("POST", "gateway", json={"mac": mac, "connected": True})
    mistsim.admin("POST", "quality", json={"mac": mac, "port_id": first, "latency": 400})
    assert instance.refresh()
    back = new_events(client, org_id, seen, gateway_id)
    assert ("gateway_online", None) in back and ("port_up", first) in back
    assert ("circuit_degraded", first) not in back  # held: one refresh is not enough
    assert instance.refresh()
    assert ("circuit_degraded", first) in new_events(client, org_id, seen, gateway_id)


def test_a_failing_refresh_is_an_event_and_so_is_its_recovery(mistsim, redis_server):
    instance = make_worker(mistsim, redis_server, interval=60)
    client = redis_server.client()
    assert instance.refresh()
    mistsim.set_faults(outage=True)
    instance.mist.timeout = 0.5
    assert not instance.refresh()
    assert not instance.refresh()
    mistsim.clear_faults()
    assert instance.refresh()
    system = [e["type"] for e in stored_events(client, mistsim.org_id) if e["gateway_id"] is None]
    assert system == ["refresh_recovered", "refresh_failing"]

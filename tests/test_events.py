"""Circuit events: what changed between two refreshes (model/events.py), stored per org
(store/events.py), and end to end through the real SDK, mistsim and redis-server."""

from __future__ import annotations

import csv
import io
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
        150.0 if degraded else 20.0, 1.0, 0.0, 4.3, degraded, 0, 0, None, None, None, (),
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
        20.0, 1.0, 0.0, 4.3, 1400, 1, None, None, mac,
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
    """A connected spoke whose WAN ports are all up, each with peer paths, and steady for
    hours (no scheduled flap of mistsim's, seen by a refresh or told by Mist's events)."""
    body = json.loads(client.get("mist:gateways"))
    steady = body["generated_at"] - 4 * 3600
    for record in body["gateways"]:
        ports = record["ports"]
        if (
            record["status"] == "connected"
            and len(ports) >= 2
            and all(p["up"] and p["peers_total"] and not p["degraded"] for p in ports)
            and all((p["last_flapped"] or 0) < steady for p in ports)
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
    offline = new_events(client, org_id, seen, gateway_id)
    assert [kind for kind in offline if kind[0].startswith("gateway")] == [
        ("gateway_offline", None)
    ]
    # the links came back before the gateway left: only Mist's events can tell it
    assert ("port_up", first) in offline and ("port_up", second) in offline

    mistsim.admin("POST", "gateway", json={"mac": mac, "connected": True})
    mistsim.admin("POST", "quality", json={"mac": mac, "port_id": first, "latency": 400})
    assert instance.refresh()
    back = new_events(client, org_id, seen, gateway_id)
    assert ("gateway_online", None) in back
    assert ("port_up", first) not in back  # the stats see it now: Mist told it already
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


# ---------------------------------------------------------------- /api/events


def fill(client, count: int = 30) -> list[dict[str, Any]]:
    """`count` events over two gateways, 10 s apart, some sharing a time."""
    events = []
    for n in range(count):
        record = gateway(f"gw{n % 2}", port("a"))
        first = derive_events(None, snapshot(record))
        down = derive_events(
            first.state,
            snapshot(gateway(f"gw{n % 2}", port("a", up=n % 3 == 0)), now=1000.0 + 10 * (n // 2)),
        )
        made = down.events or system_events({}, ORG, 1000.0 + 10 * (n // 2), failing=True)[0]
        events += made
    write_events(client, "org-1", events, {}, 2000.0, Retention(max_age=10**9))
    return events


def app_client(redis_server):
    import app as web

    return web.create_app({"REDIS_CLIENT": redis_server.client()}).test_client()


def every_page(web, **args: Any) -> list[dict[str, Any]]:
    """/api/events followed cursor by cursor to its end (each page a filtered answer, never
    cached), the events of every page in order."""
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = web.get(
            "/api/events", query_string={**args, **({"cursor": cursor} if cursor else {})}
        )
        assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
        body = answer.get_json()
        seen += body["events"]
        cursor = body["next"]
        if cursor is None:
            return seen


def test_events_are_served_newest_first_in_pages_that_join_up(redis_server):
    stored = fill(redis_server.client())
    web = app_client(redis_server)
    seen = every_page(web, limit=7)
    assert sorted(e["id"] for e in seen) == sorted(e["id"] for e in stored)
    assert len({e["id"] for e in seen}) == len(seen)
    times = [e["time"] for e in seen]
    assert times == sorted(times, reverse=True)


def test_event_filters(redis_server):
    stored = fill(redis_server.client())
    web = app_client(redis_server)

    def ids(**args: Any) -> list[str]:
        answer = web.get("/api/events", query_string={"limit": 1000, **args})
        assert answer.status_code == 200, answer.get_json()
        return sorted(e["id"] for e in answer.get_json()["events"])

    def expected(keep) -> list[str]:
        return sorted(e["id"] for e in stored if keep(e))

    assert ids(type="port_down") == expected(lambda e: e["type"] == "port_down")
    assert ids(severity="warning,critical") == expected(lambda e: e["severity"] != "info")
    assert ids(gateway="gw1") == expected(lambda e: e["gateway_id"] == "gw1")
    assert ids(site="site-1") == expected(lambda e: e["site_id"] == "site-1")
    assert ids(since="1050", until="1100") == expected(lambda e: 1050 <= e["time"] <= 1100)
    assert ids(since="1970-01-01T00:17:30Z") == expected(lambda e: e["time"] >= 1050)
    paged = web.get("/api/events", query_string={"type": "refresh_failing", "limit": 2}).get_json()
    assert len(paged["events"]) == 2 and paged["next"]


def test_bad_event_filters_are_a_400_json_naming_them(redis_server):
    web = app_client(redis_server)
    for args, word in (
        ({"since": "yesterday"}, "since"),
        ({"until": "-5"}, "until"),
        ({"type": "port_exploded"}, "type"),
        ({"severity": "meh"}, "severity"),
        ({"gateway": "<script>"}, "gateway"),
        ({"site": ""}, "site"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"cursor": "abc"}, "cursor"),
        ({"since": "200", "until": "100"}, "since"),
    ):
        answer = web.get("/api/events", query_string=args)
        assert answer.status_code == 400, args
        assert answer.is_json and word in answer.get_json()["error"]
        assert "<script>" not in answer.get_data(as_text=True)


def test_no_events_yet_is_an_empty_page(redis_server):
    assert app_client(redis_server).get("/api/events").get_json() == {"events": [], "next": None}


def test_events_csv_is_excel_safe(redis_server):
    client = redis_server.client()
    hostile = {**ORG, "name": "=HYPERLINK(1)"}
    events, _ = system_events({}, hostile, 1000.0, failing=True)
    events[0]["gateway_name"] = "=cmd|' /C calc'!A0"
    write_events(client, "org-1", events, {}, 1000.0)
    answer = app_client(redis_server).get("/api/events.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["time", "id", "type", "severity"]
    assert rows[1][0] == "1970-01-01T00:16:40Z" and rows[1][2] == "refresh_failing"
    assert rows[1][6].startswith("'=")
    assert app_client(redis_server).get("/api/events.csv?type=nope").status_code == 400

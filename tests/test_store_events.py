"""An org's events in Redis (store/events.py and its event_* modules) on a real redis-server:
recent events in the sorted set, closed hours packed into blocks, read back as stored."""

from __future__ import annotations

import json
import math
from typing import Any

from model.events import make_event
from store.event_pack import GRACE, HOUR, read_meta
from store.events import (
    Filter,
    Retention,
    count_events,
    encode_member,
    find_page,
    read_event_page,
    write_events,
)
from store.keys import event_blocks_key, events_key

ORG = "org-1"
START = 1_790_000_000 // HOUR * HOUR  # an hour line
FOREVER = Retention(max_age=10**9)


def facts(n: int, *, name: str | None = None) -> dict[str, Any]:
    return {
        "org_id": ORG,
        "org_name": "Acme",
        "site_id": f"site-{n % 3}",
        "site_name": f"Site {n % 3}",
        "gateway_id": f"gw-{n % 5}",
        "gateway_name": name or f"gw{n % 5}-name",
    }


def varied(n: int, when: float) -> dict[str, Any]:
    """One of every shape of event: ports, paths with peers, gateways, degraded values,
    the worker's own (no gateway), Mist's, ids the facts do not give."""
    kind = n % 6
    if kind == 0:
        return make_event("port_down", when, "refresh", **facts(n), port_id="ge-0/0/1",
                          before=True, after=False)  # fmt: skip
    if kind == 1:
        return make_event("path_up", when, "mist", **facts(n), port_id="ge-0/0/2",
                          peer_mac="020000000001", peer_name="dc1-hub", peer_port_id="ge-0/0/0",
                          before=False, after=True)  # fmt: skip
    if kind == 2:
        after = {"degraded": True, "latency": 180.5 + n, "jitter": 31.2, "loss": 2.41, "mos": 3.6}
        return make_event("circuit_degraded", when, "refresh+mist", **facts(n),
                          port_id="ge-0/0/0", before=False, after=after)  # fmt: skip
    if kind == 3:
        return make_event("refresh_failing", when, org_id=ORG, org_name="Acme",
                          before=False, after=True)  # fmt: skip
    if kind == 4:
        event = make_event("gateway_offline", when, "mist", **facts(n), before=True, after=False)
        event["id"] = f"mist-{n}"  # an id the facts do not give is kept as it is
        return event
    event = make_event("port_up", when, **facts(n), port_id="ge-0/0/1", before=False, after=True)
    event["id"] = f"{int(when * 1000) - 1:013d}" + event["id"][13:]  # ms floored, not rounded
    return event


def stream(count: int, hours: float, start: float = START) -> list[dict[str, Any]]:
    """`count` events over `hours`, several sharing a time."""
    step = hours * HOUR / count
    return [varied(n, start + round(n * step / 2) * 2 + 0.123) for n in range(count)]


def newest_first(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events, key=lambda e: (e["time"], encode_member(e)), reverse=True)


def everything(client) -> list[dict[str, Any]]:
    page = read_event_page(client, ORG, newest=math.inf, oldest=0, skip=0, count=100_000)
    return [json.loads(event.body) for event in page]


def pack(client, now: float, retention: Retention = FOREVER) -> None:
    """A write of no events at `now`: packs what closed, trims."""
    write_events(client, ORG, [], {}, now, retention)


def test_every_field_survives_the_pack_in_the_same_order(redis_server):
    client = redis_server.client()
    events = stream(60, 2)
    events.append(make_event("port_down", START + 30, **facts(1), port_id="a", before=1, after=0))
    far = make_event("port_up", START + 40, **facts(2), port_id="a", before=0, after=1)
    far["id"] = "0000000000001" + far["id"][13:]  # an id whose ms are far from its time
    events.append(far)
    write_events(client, ORG, events, {}, START + HOUR + GRACE - 1, FOREVER)
    assert read_meta(client, ORG).counts == {}  # the hours closed less than GRACE ago
    before = everything(client)
    assert before == newest_first(events)
    pack(client, START + 2 * HOUR + GRACE + 1)
    meta = read_meta(client, ORG)
    assert sorted(meta.counts) == [START, START + HOUR]
    assert client.zcard(events_key(ORG)) == 0
    after = everything(client)
    assert after == before  # every field, the kept ids, the order of ties
    assert [list(e) for e in after] == [list(e) for e in before]  # and the keys' order
    assert count_events(client, ORG) == len(events)
    blocks = client.hgetall(event_blocks_key(ORG))
    packed = sum(len(v) for k, v in blocks.items() if k != b"meta")
    assert packed < 40 * len(events)  # a few bytes per event, not hundreds


def pages(client, flt: Filter, limit: int, **bounds: float) -> list[dict[str, Any]]:
    """Every page of a query, cursor to cursor."""
    start, seen = (bounds.get("until", math.inf), 0), []
    while True:
        found, position = find_page(
            client, ORG, flt, start=start, oldest=bounds.get("since", 0.0), limit=limit,
            budget=50_000,
        )  # fmt: skip
        seen += [json.loads(event.body) for event in found]
        if position is None:
            return seen
        start = position


def test_filters_and_cursors_run_across_the_set_and_the_blocks(redis_server):
    client = redis_server.client()
    events = stream(150, 4)
    write_events(client, ORG, events, {}, START + 3 * HOUR + GRACE + 1, FOREVER)
    meta = read_meta(client, ORG)
    assert sorted(meta.counts) == [START, START + HOUR, START + 2 * HOUR]
    assert client.zcard(events_key(ORG)) > 0  # the last hour is still in the set
    ordered = newest_first(events)
    cases: list[tuple[Filter, Any]] = [
        (Filter(), lambda e: True),
        (Filter(types=frozenset({"port_down", "path_up"})),
         lambda e: e["type"] in ("port_down", "path_up")),
        (Filter(severities=frozenset({"warning"})), lambda e: e["severity"] == "warning"),
        (Filter(gateway="gw-3"), lambda e: e["gateway_id"] == "gw-3"),
        (Filter(site="site-1", types=frozenset({"port_up"})),
         lambda e: e["site_id"] == "site-1" and e["type"] == "port_up"),
    ]  # fmt: skip
    for flt, keep in cases:
        for limit in (1, 7, 1000):
            assert pages(client, flt, limit) == [e for e in ordered if keep(e)], (flt, limit)
    since, until = START + 1.5 * HOUR, START + 3.2 * HOUR
    windowed = pages(client, Filter(), 9, since=since, until=until)
    assert windowed == [e for e in ordered if since <= e["time"] <= until]


def test_a_cursor_made_in_the_set_holds_once_its_hour_is_packed(redis_server):
    client = redis_server.client()
    events = stream(40, 1)
    write_events(client, ORG, events, {}, START + HOUR + 60, FOREVER)
    first, position = find_page(
        client, ORG, Filter(), start=(math.inf, 0), oldest=0, limit=5, budget=50_000
    )
    assert position is not None and position[1] >= 1
    pack(client, START + HOUR + GRACE + 1)
    assert client.zcard(events_key(ORG)) == 0
    rest, _ = find_page(client, ORG, Filter(), start=position, oldest=0, limit=1000, budget=50_000)
    seen = [json.loads(e.body) for e in first + rest]
    assert seen == newest_first(events)


def test_late_events_go_into_their_packed_hour(redis_server):
    client = redis_server.client()
    events = stream(30, 1)
    write_events(client, ORG, events, {}, START + HOUR + GRACE + 1, FOREVER)
    assert read_meta(client, ORG).counts == {START: 30}
    late = [varied(7, START + 600.5), varied(8, START + 2 * HOUR + 5)]
    write_events(client, ORG, late, {}, START + 2 * HOUR + 10, FOREVER)
    assert read_meta(client, ORG).counts == {START: 31}
    assert client.zcard(events_key(ORG)) == 1
    assert everything(client) == newest_first(events + late)


def test_trims_by_age_and_by_count(redis_server):
    client = redis_server.client()
    events = stream(100, 5)
    now = START + 5 * HOUR + GRACE + 1
    write_events(client, ORG, events, {}, now, FOREVER)
    assert len(read_meta(client, ORG).counts) == 5
    line = START + 2.5 * HOUR  # in the middle of the third hour
    aged = Retention(max_age=now - line, max_events=1000)
    pack(client, now, aged)
    kept = [e for e in events if e["time"] >= line]
    assert everything(client) == newest_first(kept)
    assert count_events(client, ORG) == len(kept)
    assert min(read_meta(client, ORG).counts) == START + 2 * HOUR  # older blocks dropped
    pack(client, now, Retention(max_age=10**9, max_events=25))
    assert count_events(client, ORG) == 25
    assert everything(client) == newest_first(kept)[:25]
    pack(client, now, Retention(max_age=10**9, max_events=0))
    assert count_events(client, ORG) == 0 and everything(client) == []


def test_the_events_survive_a_restart_of_redis(redis_server):
    client = redis_server.client()
    events = stream(50, 3)
    write_events(client, ORG, events, {}, START + 2 * HOUR + GRACE + 1, FOREVER)
    assert read_meta(client, ORG).counts and client.zcard(events_key(ORG))
    redis_server.stop()
    redis_server.start()
    client = redis_server.client()
    assert client.ttl(event_blocks_key(ORG)) == -1 and client.ttl(events_key(ORG)) == -1
    assert everything(client) == newest_first(events)


def test_a_renamed_gateway_keeps_each_event_under_its_name_then(redis_server):
    client = redis_server.client()
    old = make_event("port_down", START + 10, **facts(1), port_id="a", before=True, after=False)
    new = make_event("port_up", START + 20, **facts(1, name="renamed"), port_id="a",
                     before=False, after=True)  # fmt: skip
    write_events(client, ORG, [old, new], {}, START + HOUR + GRACE + 1, FOREVER)
    assert everything(client) == [new, old]
    assert pages(client, Filter(gateway="gw-1"), 1) == [new, old]
    assert pages(client, Filter(gateway="gw-2"), 10) == []

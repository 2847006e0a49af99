"""The refresh's event step with Mist's own record, end to end: the real SDK reads mistsim's
device events over HTTPS, the worker merges them with the derived events into redis-server,
and /api/events serves them (refresh/events.py, model/mist_events.py, mist/device_events.py).
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

from store.status import read_status
from tests.test_events import app_client, quiet_gateway
from tests.test_worker import make_worker

SEARCH = "GET /api/v1/orgs/{org_id}/devices/events/search"


def served_events(redis_server, gateway_id: str) -> list[dict[str, Any]]:
    """Every event /api/events serves for one gateway, newest first."""
    answer = app_client(redis_server).get(
        "/api/events", query_string={"gateway": gateway_id, "limit": 1000}
    )
    assert answer.status_code == 200
    return list(answer.get_json()["events"])


def port_events(events: list[dict[str, Any]], port_id: str) -> list[tuple[str, str]]:
    """(type, source) of a port's own events, oldest first."""
    return [
        (e["type"], e["source"])
        for e in reversed(events)
        if e["port_id"] == port_id and e["type"].startswith("port_")
    ]


def flaps(events: list[dict[str, Any]], port_id: str) -> int:
    """Downs followed by an up: what a NOC counts as flaps of one port."""
    kinds = [kind for kind, _ in port_events(events, port_id)]
    return sum(1 for pair in pairwise(kinds) if pair == ("port_down", "port_up"))


def stream_status(redis_server) -> dict[str, Any]:
    status = read_status(redis_server.client())
    assert status is not None
    return dict(status["datasets"]["mist_events"])


def test_a_flap_between_refreshes_and_a_down_both_saw(mistsim, redis_server):
    instance = make_worker(mistsim, redis_server, interval=60)
    assert instance.refresh()
    record = quiet_gateway(redis_server.client())
    mac, gateway_id = record["mac"], record["id"]
    first, second = record["ports"][0]["port_id"], record["ports"][1]["port_id"]

    mistsim.reset()  # count this refresh's calls only
    mistsim.admin("POST", "flap", json={"mac": mac, "port_id": first, "seconds": 6})
    assert instance.refresh()
    events = served_events(redis_server, gateway_id)
    assert port_events(events, first) == [("port_down", "mist"), ("port_up", "mist")]
    down, up = (e for e in reversed(events) if e["port_id"] == first and e["type"][:5] == "port_")
    assert round(up["time"] - down["time"]) == 6  # Mist's own times, not the refresh's
    assert flaps(events, first) == 1
    assert {e["type"] for e in events if e["source"] == "mist"} >= {"path_down", "path_up"}
    assert mistsim.calls()["by_endpoint"][SEARCH] == 1
    read = stream_status(redis_server)
    assert (read["calls"], read["error"]) == (1, None)
    # every event told of this gateway was read (mistsim's own flapping circuits elsewhere
    # in the org may be told in the same window)
    assert read["items"] >= len([e for e in events if e["source"] == "mist"]) >= 4

    mistsim.reset()
    mistsim.admin("POST", "link", json={"mac": mac, "port_id": second, "state": "down"})
    assert instance.refresh()
    events = served_events(redis_server, gateway_id)
    assert port_events(events, second) == [("port_down", "refresh+mist")]
    [both] = [e for e in events if e["port_id"] == second and e["type"] == "port_down"]
    assert (both["before"], both["after"]) == (True, False)
    status = read_status(redis_server.client())
    assert status is not None and both["time"] < status["last_update"]  # Mist's time
    assert mistsim.calls()["by_endpoint"][SEARCH] == 1

    mistsim.reset()
    known = {e["id"] for e in events}
    mistsim.admin("POST", "path", json={"mac": mac, "port_id": first, "state": "down"})
    assert instance.refresh()
    events = served_events(redis_server, gateway_id)
    paths = [e for e in events if e["id"] not in known]
    assert {e["type"] for e in paths} == {"path_down"}  # the link stayed up
    assert paths and {e["source"] for e in paths} == {"refresh+mist"}  # one event per path
    assert len({(e["peer_mac"], e["peer_port_id"]) for e in paths}) == len(paths)

    for _ in range(2):  # steady: nothing new, one call, the overlap tells nothing twice
        mistsim.reset()
        assert instance.refresh()
        assert mistsim.calls()["by_endpoint"][SEARCH] == stream_status(redis_server)["calls"] == 1
    assert served_events(redis_server, gateway_id) == events


def test_a_failed_read_never_fails_the_refresh_and_the_next_read_fills_the_gap(
    mistsim, redis_server
):
    instance = make_worker(mistsim, redis_server, interval=60)
    assert instance.refresh()
    record = quiet_gateway(redis_server.client())
    mac, gateway_id, first = record["mac"], record["id"], record["ports"][0]["port_id"]
    mistsim.set_faults(outage=True, paths="/devices/events/search")
    mistsim.admin("POST", "flap", json={"mac": mac, "port_id": first, "seconds": 3})
    assert instance.refresh()
    assert stream_status(redis_server)["error"]
    assert port_events(served_events(redis_server, gateway_id), first) == []
    mistsim.clear_faults()
    assert instance.refresh()
    assert stream_status(redis_server)["error"] is None
    events = served_events(redis_server, gateway_id)
    assert port_events(events, first) == [("port_down", "mist"), ("port_up", "mist")]
    stored = json.dumps(events)
    assert "token" not in stored.lower()

"""Mist's own events (model/mist_events.py): read into our events and merged with the
derived ones, so a flap between two refreshes is recorded and a change both saw is one."""

from __future__ import annotations

from typing import Any

from model.events import EVENT_FIELDS, derive_events
from model.mist_events import MAX_LOOKBACK, OVERLAP, convert, merge, read_window
from tests.test_events import gateway, path, port, snapshot

MAC = "gw1"  # tests.test_events.gateway's MAC is the id's last 4 characters


def mist(kind: str, when: Any, **facts: Any) -> dict[str, Any]:
    return {"type": kind, "timestamp": when, "mac": MAC, "site_id": "site-1", **facts}


def up_snapshot(now: float, *, up: bool = True, path_up: bool = True):
    record = gateway("gw1", port("a", up=up), port("b"))
    return snapshot(record, paths={("gw1", MAC): [path("a", path_up)]}, now=now)


class Refreshes:
    """Refreshes one after the other, each with the Mist events read in its window."""

    def __init__(self) -> None:
        self.state: dict[str, Any] | None = None
        self.stored: list[dict[str, Any]] = []

    def run(self, now: float, raw: list[dict[str, Any]] | None, **shape: bool) -> list[dict]:
        shot = up_snapshot(now, **shape)
        derived = derive_events(self.state, shot)
        told = convert(raw or [], shot)
        merged = merge(derived.events, told, self.state, now=now, read=raw is not None)
        self.state = {**derived.state, "mist": merged.state}
        self.stored += merged.events
        return merged.events


def summary(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((e["type"], e["port_id"], e["time"], e["source"]) for e in events)


def test_mist_events_become_our_events_with_mist_times_and_snapshot_names():
    shot = up_snapshot(1000.0)
    raw = [
        mist("GW_PORT_DOWN", 990.5, port_id="a", text="Port a down"),
        mist("GW_VPN_PATH_DOWN", 991, port_id="a", peer_mac="HUBMAC", peer_port_id="ge-0/0/1"),
        mist("GW_DISCONNECTED", 992, mac="AA:BB:CC:00:11:22"),
        mist("AP_CONFIGURED", 993),  # not a type we read
        mist("GW_PORT_UP", "soon", port_id="a"),  # no usable time
        "not an event",
    ]
    down, path_down, offline = convert(raw, shot)
    assert list(down) == list(EVENT_FIELDS)
    assert (down["type"], down["time"], down["source"]) == ("port_down", 990.5, "mist")
    names = (down["gateway_name"], down["site_name"], down["org_name"])
    assert names == ("gw-gw1", "Denver", "Acme")
    assert (down["before"], down["after"], down["port_id"]) == (True, False, "a")
    assert (path_down["peer_mac"], path_down["peer_name"]) == ("hubmac", "hub")
    assert offline["gateway_id"] == "00000000-0000-0000-1000-aabbcc001122"
    assert offline["gateway_name"] is None and offline["type"] == "gateway_offline"


def test_a_flap_between_two_refreshes_is_a_down_and_an_up_from_mist():
    refreshes = Refreshes()
    refreshes.run(1000.0, [])
    found = refreshes.run(
        1060.0, [mist("GW_PORT_DOWN", 1020, port_id="a"), mist("GW_PORT_UP", 1031, port_id="a")]
    )
    assert summary(found) == [
        ("port_down", "a", 1020, "mist"),
        ("port_up", "a", 1031, "mist"),
    ]


def test_a_down_both_saw_is_one_event_with_mists_time_and_the_refreshs_values():
    refreshes = Refreshes()
    refreshes.run(1000.0, [])
    raw = [mist("GW_PORT_DOWN", 1030, port_id="a")]
    [event] = refreshes.run(1060.0, raw, up=False)
    assert (event["type"], event["time"], event["source"]) == ("port_down", 1030, "refresh+mist")
    assert (event["before"], event["after"]) == (True, False)
    assert event["id"] == convert(raw, up_snapshot(1060.0))[0]["id"]
    # the next read overlaps this one: the same Mist event is not told twice
    assert refreshes.run(1120.0, raw, up=False) == []


def test_paths_pair_by_port_and_peer():
    refreshes = Refreshes()
    refreshes.run(1000.0, [])
    raw = [mist("GW_VPN_PATH_DOWN", 1030, port_id="a", peer_mac="hubmac", peer_port_id="ge-0/0/1")]
    [event] = refreshes.run(1060.0, raw, path_up=False)
    assert (event["type"], event["source"], event["time"]) == ("path_down", "refresh+mist", 1030)
    other_peer = [mist("GW_VPN_PATH_UP", 1070, port_id="a", peer_mac="other", peer_port_id="x")]
    found = refreshes.run(1120.0, other_peer, path_up=True)
    assert sorted((e["type"], e["source"]) for e in found) == [
        ("path_up", "mist"),
        ("path_up", "refresh"),
    ]


def test_down_up_down_between_refreshes_keeps_all_three():
    refreshes = Refreshes()
    refreshes.run(1000.0, [])
    raw = [
        mist("GW_PORT_DOWN", 1010, port_id="a"),
        mist("GW_PORT_UP", 1020, port_id="a"),
        mist("GW_PORT_DOWN", 1040, port_id="a"),
    ]
    assert summary(refreshes.run(1060.0, raw, up=False)) == [
        ("port_down", "a", 1010, "mist"),
        ("port_down", "a", 1040, "refresh+mist"),
        ("port_up", "a", 1020, "mist"),
    ]


def test_a_late_mist_event_pairs_with_the_refresh_that_already_told_it():
    refreshes = Refreshes()
    refreshes.run(1000.0, [])
    assert summary(refreshes.run(1060.0, [], up=False)) == [("port_down", "a", 1060, "refresh")]
    late = [mist("GW_PORT_DOWN", 1050, port_id="a")]  # indexed by Mist after our read
    assert refreshes.run(1120.0, late, up=False) == []


def test_stats_that_lag_mist_pair_with_the_mist_event_already_stored():
    refreshes = Refreshes()
    refreshes.run(1000.0, [])
    early = [mist("GW_PORT_DOWN", 1055, port_id="a")]
    assert summary(refreshes.run(1060.0, early)) == [("port_down", "a", 1055, "mist")]
    assert refreshes.run(1120.0, [], up=False) == []  # the stats show it now: told already


def test_a_change_back_in_between_is_never_paired_across_it():
    refreshes = Refreshes()
    refreshes.run(1000.0, [])
    refreshes.run(1060.0, [], up=False)  # down (Mist has not told it)
    refreshes.run(1120.0, [mist("GW_PORT_UP", 1100, port_id="a")], up=False)  # stats lag
    found = refreshes.run(1180.0, [mist("GW_PORT_DOWN", 1150, port_id="a")], up=False)
    assert summary(found) == [("port_down", "a", 1150, "mist")]  # a new down, not the first
    assert [e["type"] for e in refreshes.stored] == ["port_down", "port_up", "port_down"]


def test_the_read_window_follows_the_last_read_and_a_failed_read_keeps_it():
    assert read_window(None, 1000.0, 60) == (940, 1001)
    refreshes = Refreshes()
    refreshes.run(1000.0, [])
    assert read_window(refreshes.state, 1060.0, 60) == (int(1000 - OVERLAP), 1061)
    refreshes.run(1060.0, None)  # the read failed: the next one starts where the last ended
    assert read_window(refreshes.state, 1120.0, 60) == (int(1000 - OVERLAP), 1121)
    far = 1000 + 3 * MAX_LOOKBACK
    assert read_window(refreshes.state, far, 60) == (int(far - MAX_LOOKBACK), int(far) + 1)


def test_a_state_it_cannot_read_is_no_reason_to_fail():
    shot = up_snapshot(1060.0)
    bad = {"mist": {"until": "x", "seen": [5, "?"], "recent": [["port_down"], "x", None]}}
    raw = [mist("GW_PORT_DOWN", 1030, port_id="a")]
    merged = merge([], convert(raw, shot), bad, now=1060.0, read=True)
    assert [e["type"] for e in merged.events] == ["port_down"]
    assert read_window(bad, 1060.0, 60) == (1000, 1061)

"""Availability's running sums (sla/accumulator.py): what a NOC reads as a circuit's
availability, flaps and time down over 24 h, 7 d and 30 d, refresh after refresh."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sla.accumulator import (
    DAY,
    DEGRADED,
    ENABLED,
    FLAPS_EVER,
    HOUR,
    IN_SERVICE,
    KNOWN,
    ONLINE,
    UP,
    Accumulator,
    advance,
    availability,
    needed,
    path_key,
    port_key,
    totals,
)

START = 20_000 * DAY  # a UTC midnight
PORT = port_key("gw1", "ge-0/0/0")
OTHER = port_key("gw1", "ge-0/0/1")
PATH = path_key("gw1", "ge-0/0/0", "hubmac", "ge-0/0/1")
UP_FLAGS = IN_SERVICE | UP
DOWN_FLAGS = IN_SERVICE
STEP = 300  # a refresh every 5 minutes


def event(kind: str, when: float, port: str | None = "ge-0/0/0", **more: Any) -> dict[str, Any]:
    return {"type": kind, "time": when, "gateway_id": "gw1", "port_id": port, **more}


class Worker:
    """The worker's use of the sums: read the leaving buckets, advance, store the closed
    ones, and keep the state as JSON between refreshes (as Redis does)."""

    def __init__(self, max_gap: int = 900) -> None:
        self.max_gap = max_gap
        self.stored: dict[str, Any] | None = None
        self.buckets: dict[str, Any] = {}

    @property
    def acc(self) -> Accumulator:
        found = Accumulator.from_json(self.stored)
        assert found is not None
        return found

    def refresh(
        self, now: float, final: Mapping[str, int], events: Iterable[Mapping[str, Any]] = ()
    ) -> Accumulator:
        before = Accumulator.from_json(self.stored)
        names = needed(before, now).buckets
        leaving = {name: self.buckets[name] for name in names if name in self.buckets}
        acc, closed = advance(
            before, now, list(events), final, max_gap=self.max_gap, leaving=leaving
        )
        self.buckets.update(json.loads(json.dumps(closed)))
        self.buckets = {
            name: {int(slot): bucket for slot, bucket in buckets.items()}
            for name, buckets in self.buckets.items()
        }
        self.stored = json.loads(json.dumps(acc.to_json()))
        return acc

    def run(self, start: float, end: float, flags: Mapping[str, int]) -> None:
        """Refreshes every STEP from `start` (excluded) to `end`, nothing changing."""
        now = start + STEP
        while now <= end:
            self.refresh(now, flags)
            now += STEP

    def figures(self, key: str = PORT) -> dict[str, tuple[float | None, int, int, int, int]]:
        record = self.acc.circuits[key]
        found = {}
        for window in ("24h", "7d", "30d"):
            observed, down, slow, flaps = totals(record, window)
            found[window] = (availability(observed, down), observed, down, slow, flaps)
        return found


def test_a_port_down_one_hour_in_a_day_is_95_83_percent():
    worker = Worker()
    worker.refresh(START, {PORT: UP_FLAGS})
    worker.run(START, START + 10 * HOUR, {PORT: UP_FLAGS})
    # the refresh that sees it down: counted down from then on, as the event says
    worker.refresh(START + 10 * HOUR + STEP, {PORT: DOWN_FLAGS},
                   [event("port_down", START + 10 * HOUR + STEP)])  # fmt: skip
    worker.run(START + 10 * HOUR + STEP, START + 11 * HOUR, {PORT: DOWN_FLAGS})
    worker.refresh(START + 11 * HOUR + STEP, {PORT: UP_FLAGS},
                   [event("port_up", START + 11 * HOUR + STEP)])  # fmt: skip
    worker.run(START + 11 * HOUR + STEP, START + DAY, {PORT: UP_FLAGS})
    figures = worker.figures()
    assert figures["7d"] == (95.833, DAY, HOUR, 0, 1)
    assert figures["30d"] == figures["7d"]
    assert figures["24h"] == figures["7d"]  # the day just ended is the last 24 h
    assert worker.acc.circuits[PORT][FLAPS_EVER] == 1


def test_mist_timestamps_count_a_flap_between_two_refreshes():
    worker = Worker()
    worker.refresh(START, {PORT: UP_FLAGS})
    mist = [
        event("port_down", START + 100, source="mist"),
        event("port_up", START + 160, source="mist"),
    ]
    worker.refresh(START + STEP, {PORT: UP_FLAGS}, mist)
    assert worker.figures()["24h"] == (80.0, STEP, 60, 0, 1)


def test_the_same_down_told_twice_is_one_flap():
    worker = Worker()
    worker.refresh(START, {PORT: UP_FLAGS})
    told_twice = [
        event("port_down", START + 100, source="mist"),
        event("port_down", START + STEP),  # what the refresh saw
    ]
    worker.refresh(START + STEP, {PORT: DOWN_FLAGS}, told_twice)
    assert worker.figures()["24h"][4] == 1
    # and a down no event told of (say, one de-duplicated away) is a flap too
    worker.refresh(START + 2 * STEP, {PORT: UP_FLAGS}, [event("port_up", START + 2 * STEP)])
    worker.refresh(START + 3 * STEP, {PORT: DOWN_FLAGS})
    assert worker.figures()["24h"][4] == 2


def test_time_not_observed_counts_neither_up_nor_down():
    worker = Worker()
    worker.refresh(START + 12 * HOUR, {PORT: UP_FLAGS})  # first seen at noon
    worker.run(START + 12 * HOUR, START + DAY, {PORT: UP_FLAGS})
    assert worker.figures()["7d"] == (100.0, 12 * HOUR, 0, 0, 0)
    # its gateway offline for an hour: neither up nor down
    offline = (ENABLED | KNOWN) & ~ONLINE
    at = START + DAY
    worker.refresh(at + STEP, {PORT: offline}, [event("gateway_offline", at + STEP, None)])
    worker.run(at + STEP, at + HOUR + STEP, {PORT: offline})
    worker.refresh(at + HOUR + 2 * STEP, {PORT: UP_FLAGS},
                   [event("gateway_online", at + HOUR + 2 * STEP, None)])  # fmt: skip
    observed = worker.figures()["7d"][1]
    assert observed == 12 * HOUR + STEP  # the hour offline is not in it
    # a disabled port is not observed either
    disabled = IN_SERVICE & ~ENABLED
    worker.refresh(at + HOUR + 3 * STEP, {PORT: disabled})
    worker.refresh(at + HOUR + 4 * STEP, {PORT: disabled})
    assert worker.figures()["7d"][1] == observed + STEP
    assert worker.figures()["7d"][0] == 100.0


def test_a_worker_away_longer_than_max_gap_observes_nothing_of_the_gap():
    worker = Worker(max_gap=900)
    worker.refresh(START, {PORT: DOWN_FLAGS})
    worker.refresh(START + 5 * HOUR, {PORT: DOWN_FLAGS})
    assert worker.figures()["24h"] == (0.0, 900, 900, 0, 0)


def test_degraded_time_is_counted_while_up():
    worker = Worker()
    worker.refresh(START, {PORT: UP_FLAGS | DEGRADED})
    worker.refresh(START + STEP, {PORT: UP_FLAGS})
    worker.refresh(START + 2 * STEP, {PORT: UP_FLAGS})
    assert worker.figures()["24h"] == (100.0, 2 * STEP, 0, STEP, 0)


def test_windows_roll_off_24_hours_7_and_30_days_later():
    worker = Worker(max_gap=DAY)
    worker.refresh(START, {PORT: UP_FLAGS, OTHER: UP_FLAGS})
    worker.refresh(START + HOUR, {PORT: DOWN_FLAGS, OTHER: UP_FLAGS},
                   [event("port_down", START + HOUR)])  # fmt: skip
    worker.refresh(START + 2 * HOUR, {PORT: UP_FLAGS, OTHER: UP_FLAGS},
                   [event("port_up", START + 2 * HOUR)])  # fmt: skip
    for hour in range(3, 24 * 31 + 1):  # hourly refreshes for 31 days
        worker.refresh(START + hour * HOUR, {PORT: UP_FLAGS, OTHER: UP_FLAGS})
        if hour == 26:  # the down hour has left the last 24 h, not the days
            assert worker.figures()["24h"] == (100.0, 24 * HOUR, 0, 0, 0)
            assert worker.figures()["7d"][2:] == (HOUR, 0, 1)
        if hour == 8 * 24 + 1:  # a week on: only the 30 d window still has it
            assert worker.figures()["7d"] == (100.0, 7 * DAY + HOUR, 0, 0, 0)
            assert worker.figures()["30d"][2:] == (HOUR, 0, 1)
    figures = worker.figures()
    assert figures["30d"] == (100.0, 30 * DAY, 0, 0, 0)
    assert worker.figures(OTHER)["30d"] == (100.0, 30 * DAY, 0, 0, 0)
    assert worker.acc.circuits[PORT][FLAPS_EVER] == 1  # the counter never rolls off


def test_a_worker_away_for_days_starts_its_windows_clean():
    worker = Worker()
    worker.refresh(START, {PORT: UP_FLAGS})
    worker.refresh(START + STEP, {PORT: DOWN_FLAGS}, [event("port_down", START + STEP)])
    worker.refresh(START + 2 * STEP, {PORT: DOWN_FLAGS})
    worker.refresh(START + 40 * DAY, {PORT: UP_FLAGS}, [event("port_up", START + 40 * DAY)])
    for window, figures in worker.figures().items():
        assert figures == (None, 0, 0, 0, 0), window
    worker.refresh(START + 40 * DAY + STEP, {PORT: UP_FLAGS})
    assert worker.figures()["30d"] == (100.0, STEP, 0, 0, 0)


def test_peer_paths_and_gateway_events_reach_each_circuit_of_the_gateway():
    worker = Worker()
    flags = {PORT: UP_FLAGS, PATH: UP_FLAGS}
    worker.refresh(START, flags)
    worker.refresh(START + STEP, {PORT: UP_FLAGS, PATH: DOWN_FLAGS},
                   [{"type": "path_down", "time": START + 10, "gateway_id": "gw1",
                     "port_id": "ge-0/0/0", "peer_mac": "hubmac",
                     "peer_port_id": "ge-0/0/1"}])  # fmt: skip
    assert worker.figures(PATH)["24h"] == (round(100 * 10 / STEP, 3), STEP, STEP - 10, 0, 1)
    worker.refresh(START + 2 * STEP, {PORT: UP_FLAGS, PATH: DOWN_FLAGS},
                   [event("gateway_offline", START + STEP + 100, None)])  # fmt: skip
    assert worker.figures(PORT)["24h"][1] == STEP + 100


def test_a_circuit_gone_from_the_org_leaves_once_its_windows_are_empty():
    worker = Worker(max_gap=DAY)
    worker.refresh(START, {PORT: UP_FLAGS, OTHER: UP_FLAGS})
    worker.refresh(START + HOUR, {PORT: UP_FLAGS, OTHER: UP_FLAGS})
    for day in range(1, 32):
        worker.refresh(START + day * DAY, {PORT: UP_FLAGS})
    assert OTHER not in worker.acc.circuits
    assert PORT in worker.acc.circuits


def test_an_unreadable_or_older_state_starts_afresh():
    assert Accumulator.from_json(None) is None
    assert Accumulator.from_json({"v": 0, "t": 1}) is None
    acc, closed = advance(None, START, [], {PORT: UP_FLAGS}, max_gap=900)
    assert closed == {} and acc.circuits[PORT][0] == UP_FLAGS
    assert availability(0, 0) is None


def test_a_clock_step_back_counts_nothing_and_learns_new_circuits():
    worker = Worker()
    worker.refresh(START, {PORT: UP_FLAGS})
    worker.refresh(START + STEP, {PORT: UP_FLAGS})
    worker.refresh(START + 10, {PORT: DOWN_FLAGS, OTHER: UP_FLAGS})
    assert worker.figures()["24h"] == (100.0, STEP, 0, 0, 0)
    assert OTHER in worker.acc.circuits
    assert worker.acc.circuits[PORT][0] == DOWN_FLAGS


def test_refreshes_within_one_second_still_count_a_flap():
    """Sums move by whole seconds; a down and an up told by refreshes less than a second
    apart (a small org, refreshed back to back) are still one flap."""
    worker = Worker()
    worker.refresh(START + 5000.1, {PORT: UP_FLAGS})
    worker.refresh(START + 5000.5, {PORT: DOWN_FLAGS}, [event("port_down", START + 5000.4)])
    worker.refresh(START + 5000.9, {PORT: UP_FLAGS}, [event("port_up", START + 5000.8)])
    assert worker.figures()["24h"] == (None, 0, 0, 0, 1)
    assert worker.acc.circuits[PORT][FLAPS_EVER] == 1

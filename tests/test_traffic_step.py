"""traffic/step.py: a refresh's volumes. The 24 h one says when the history does not cover
the day yet; the 7-day one is reckoned when a port's history is read whole, kept in
`mist:traffic:week`, and taken back from there by the refreshes that read only home keys."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import fakeredis

from store.histories import queue_history_write
from store.keys import KEY_WEEK_VOLUMES, history_key
from store.week import decode_week, encode_week, read_week_volumes
from tests.fixtures.traffic import MBIT, feed
from traffic.plan import write_port_histories
from traffic.step import TrafficStep

GW, PORT = "00000000-0000-0000-1000-aabbccddeeff", "ge-0/0/0"
T0 = int(time.time() // 3600 - 30) * 3600  # an hour 30 h ago: the keys expire after 7 days
WEEK = 7 * 86400


@dataclass(frozen=True)
class Circuit:
    gateway_id: str
    site_id: str | None
    port_id: str
    rx_bytes: int | None
    tx_bytes: int | None
    speed_bps: float = 1e9


class NoInsights:
    """No backfill here: the circuits have no site, so no window is asked."""

    insights_keyed = True
    insights_shape_known = True

    def port_insights(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no backfill expected")


class Calls:
    calls = 0


def step(client: Any) -> TrafficStep:
    return TrafficStep(
        client,
        threading.Lock(),
        NoInsights(),
        ThreadPoolExecutor(1),
        interval=300,
        tokens_available=lambda: 1,
        new_counter=Calls,
    )


def apply(client: Any, result: Any) -> None:
    """The history writes, as the publisher sends them after the switch."""
    pipe = client.pipeline(transaction=True)
    for port, write in result.writes.items():
        queue_history_write(pipe, history_key(*port), write)
    pipe.execute()


def test_week_volumes_round_trip_as_short_text():
    assert encode_week((123, None, True, 1764000000.4)) == "123,,1,1764000000"
    assert decode_week(b"123,,1,1764000000") == (123, None, True, 1764000000.0)
    assert decode_week(b"junk") is None


def test_two_hours_of_history_give_a_partial_day_never_the_days_volume():
    client = fakeredis.FakeRedis()
    history = feed(None, T0, 25, 300, 8 * MBIT)  # two hours of 8 Mbit/s: 7.2 GB
    last = T0 + 24 * 300
    write_port_histories(client, {(GW, PORT): history}, now=last, interval=300)
    rx = int(8 * MBIT * 24 * 300 / 8)
    result, _ = step(client).run(
        [Circuit(GW, None, PORT, rx + int(8 * MBIT * 300 / 8), 0)],
        last + 300,
        org_id="",
        before_backfill=lambda: None,
    )
    volumes = result.port_volumes()[(GW, PORT)]
    assert volumes[2] is True, "partial"
    assert volumes[0] and 7_000_000_000 <= volumes[0] <= 8_000_000_000


def test_the_week_is_reckoned_on_a_whole_read_and_read_back_by_a_usual_refresh():
    client = fakeredis.FakeRedis()
    runner = step(client)
    count = 27 * 12  # 27 h of samples every 5 min at 8 Mbit/s, then the worker was away
    start = T0 - 4 * 3600
    history = feed(None, start, count, 300, 8 * MBIT)
    last = start + (count - 1) * 300
    rx = int(8 * MBIT * (count - 1) * 300 / 8)
    write_port_histories(client, {(GW, PORT): history}, now=last, interval=300)
    port = (GW, PORT)
    results = []
    back = last + 4 * 3600  # a hole of 4 h: the port is read whole (it may need backfill)
    for at in range(back, back + 8 * 300, 300):
        result, _ = runner.run(
            [Circuit(GW, None, PORT, rx + int((at - last) * MBIT), 0)],
            at,
            org_id="",
            before_backfill=lambda: None,
        )
        apply(client, result)
        results.append(result)
    first = results[0]
    assert port in first.reckoned
    # the refreshes after it read only the home key: the week as reckoned comes back
    second = next(result for result in results if port not in result.reckoned)
    first = results[results.index(second) - 1]
    for result in results:
        assert port not in result.partial, "the history reaches back over the whole day"
    week = second.port_volumes()[port][3:]
    assert week == first.weeks[port], "the week as reckoned, with its time"
    day = second.volumes[port][0]
    assert week[0] and day and week[0] > day, "more than a day in it"
    assert 8 * MBIT * 26.5 * 3600 / 8 < week[0] < 8 * MBIT * 28 * 3600 / 8, "27 h of 8 Mbit/s"
    assert week[2] is True and week[3] <= back + 8 * 300, "27 h are not a week: partial"
    last_reckoned = [result for result in results if port in result.reckoned][-1]
    assert read_week_volumes(client, [port])[port] == last_reckoned.weeks[port]  # the newest
    assert client.ttl(KEY_WEEK_VOLUMES) > 6 * 86400

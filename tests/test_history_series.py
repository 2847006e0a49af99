"""history.series: the chart's regular time grid per range, gaps as None."""

from __future__ import annotations

import random

import pytest

from history.backfill import merge_backfill
from history.samples import FINE_MAX_SAMPLES, PortHistory, add_counters
from history.series import RANGES, series
from history.volume import volume
from tests.fixtures.traffic import MBIT, T0, feed, hourly

# --- chart series -------------------------------------------------------------------------


def test_unknown_range_is_a_value_error():
    with pytest.raises(ValueError, match="unknown range"):
        series(None, range_name="2d", now=T0, interval=300)


@pytest.mark.parametrize(
    ("range_name", "interval", "step", "points"),
    [
        ("1h", 300, 300, 12),
        ("1h", 10, 60, 60),
        ("6h", 60, 60, 360),
        ("6h", 300, 300, 72),
        ("24h", 60, 300, 288),
        ("24h", 300, 300, 288),
        ("24h", 900, 900, 96),
        ("7d", 300, 3600, 168),
    ],
)
def test_series_is_a_regular_grid_of_at_most_400_points(range_name, interval, step, points):
    now = T0 + 1234.5
    chart = series(None, range_name=range_name, now=now, interval=interval)
    assert (chart["range"], chart["step"], len(chart["t"])) == (range_name, step, points)
    assert all(b - a == step for a, b in zip(chart["t"], chart["t"][1:], strict=False))
    assert chart["t"][-1] <= now < chart["t"][-1] + step
    assert chart["t"][-1] - chart["t"][0] >= RANGES[range_name] - step
    assert chart["rx_bps"] == [None] * points and chart["tx_bps"] == [None] * points


def test_series_shows_measured_rates_and_a_worker_outage_as_a_gap():
    port = feed(None, T0, 13, 300, 8 * MBIT, 1 * MBIT)  # 10:00-11:00
    port = feed(port, T0 + 3600 + 1800, 7, 300, 4 * MBIT, rx0=10**12)  # back at 11:30 after a gap
    now = T0 + 2 * 3600 + 60
    chart = series(port, range_name="6h", now=now, interval=300)
    values = dict(zip(chart["t"], chart["rx_bps"], strict=True))
    assert values[T0 + 1800] == 8 * MBIT
    assert values[T0 + 3600 + 900] is None  # nothing measured 11:10-11:30
    assert values[T0 + 3600 + 2400] == 4 * MBIT
    assert all(v is None for t, v in values.items() if t < T0 - 300)


def test_a_single_missed_refresh_is_bridged_not_a_gap():
    port = feed(None, T0, 5, 300, 8 * MBIT)
    port = add_counters(
        port, ts=T0 + 1800, rx_bytes=int(8 * MBIT * 1800 / 8), tx_bytes=0
    )  # 1500 skipped
    chart = series(port, range_name="1h", now=T0 + 1800, interval=300)
    values = dict(zip(chart["t"], chart["rx_bps"], strict=True))
    assert [values[T0 + k * 300] for k in range(0, 7)] == [None] + [
        8 * MBIT
    ] * 6  # T0: baseline only


def test_jittery_refreshes_do_not_punch_holes_in_the_chart():
    port: PortHistory | None = None
    rng = random.Random(3)
    ts = float(T0)
    for _n in range(80):
        port = add_counters(port, ts=ts, rx_bytes=int((ts - T0) * MBIT / 8), tx_bytes=0)
        ts += 300 + rng.uniform(-20, 25)
    assert port is not None and port.last_ts is not None
    chart = series(port, range_name="6h", now=port.last_ts, interval=300)
    measured = [v for t, v in zip(chart["t"], chart["rx_bps"], strict=True) if t > T0 + 600]
    assert None not in measured
    assert all(v == pytest.approx(MBIT, rel=0.001) for v in measured)


def test_24h_chart_falls_back_to_backfilled_hours_we_never_measured():
    now = T0 + 24 * 3600 + 100
    port = merge_backfill(None, points=hourly(T0, 20, 3 * MBIT), step=3600, now=now)
    port = feed(port, T0 + 22 * 3600, 20, 300, 8 * MBIT)
    chart = series(port, range_name="24h", now=now, interval=300)
    values = dict(zip(chart["t"], chart["rx_bps"], strict=True))
    assert values[T0 + 3600] == 3 * MBIT  # backfilled hour, shown
    assert values[T0 + 21 * 3600] is None  # neither backfilled nor measured: a gap
    assert values[T0 + 22 * 3600 + 600] == 8 * MBIT


def test_7d_chart_comes_from_the_hourly_tier():
    port = feed(None, T0, 12 * 3, 300, 8 * MBIT)
    now = T0 + 3 * 3600 + 5
    chart = series(port, range_name="7d", now=now, interval=300)
    assert chart["step"] == 3600 and chart["t"][-1] == T0 + 3 * 3600
    assert chart["rx_bps"][-4:] == [8 * MBIT, 8 * MBIT, 8 * MBIT, None]
    assert chart["rx_bps"][:-4] == [None] * 164


def test_newest_point_stays_filled_between_refreshes():
    port = feed(None, T0, 13, 300, 8 * MBIT)  # last refresh at T0 + 3600
    for seconds_later in (0, 1, 120, 299):
        chart = series(port, range_name="1h", now=T0 + 3600 + seconds_later, interval=300)
        assert chart["t"][-1] == T0 + 3600
        assert chart["rx_bps"][-1] == 8 * MBIT, seconds_later
    chart = series(port, range_name="1h", now=T0 + 3600 + 300, interval=300)
    assert chart["rx_bps"][-1] is None  # a whole refresh late: that step is unknown


def test_an_hourly_refresh_interval_still_makes_samples():
    port = feed(None, T0, 30, 3600 + 7, 8 * MBIT)  # WORKER_INTERVAL=3600, a little late each time
    assert len(port.fine) == 24 and port.fine[-1][1] == pytest.approx(8 * MBIT)
    chart = series(port, range_name="24h", now=port.last_ts or T0, interval=3600)
    assert chart["step"] == 3600 and None not in chart["rx_bps"][1:]
    assert volume(port, now=port.last_ts or T0, interval=3600)[0] == pytest.approx(
        8 * MBIT * 86400 / 8, rel=0.01
    )


def test_a_worker_slower_than_its_interval_does_not_chart_as_gaps():
    port = feed(None, T0, 40, 700, 8 * MBIT)  # configured for 300 s, refreshes take 700 s
    chart = series(port, range_name="6h", now=port.last_ts or T0, interval=300)
    measured = [v for t, v in zip(chart["t"], chart["rx_bps"], strict=True) if t > T0 + 700]
    assert measured and None not in measured


def test_a_30_second_interval_keeps_a_full_day_through_the_hourly_tier():
    port = feed(None, T0, 2 * 86400 // 30, 30, 8 * MBIT)  # two days, capped fine tier
    now = port.last_ts or T0
    assert len(port.fine) == FINE_MAX_SAMPLES  # only the last 12 h at full resolution
    assert volume(port, now=now, interval=30)[0] == pytest.approx(8 * MBIT * 86400 / 8, rel=0.01)
    chart = series(port, range_name="24h", now=now, interval=30)
    assert chart["step"] == 300 and None not in chart["rx_bps"]
    assert set(chart["rx_bps"]) == {8 * MBIT}


def test_each_step_also_says_the_bytes_it_moved_and_the_range_its_total():
    """The "data transferred" view: bytes per step beside bits per second, never a sum the
    page makes up."""
    port = feed(None, T0, 13, 300, 8 * MBIT, 4 * MBIT)
    chart = series(port, range_name="1h", now=T0 + 3600, interval=300)
    assert chart["step"] == 300
    pairs = [(b, r) for b, r in zip(chart["rx_bytes"], chart["rx_bps"], strict=True) if r]
    assert pairs and all(b == round(r * 300 / 8) for b, r in pairs)
    assert chart["rx_bytes_total"] == sum(b for b, _ in pairs)
    assert chart["tx_bytes_total"] == sum(b for b in chart["tx_bytes"] if b is not None)
    empty = series(None, range_name="7d", now=T0, interval=300)
    assert empty["rx_bytes_total"] is None and set(empty["rx_bytes"]) == {None}

"""history.py: the traffic numbers and charts an engineer sees for one circuit.

Pure functions over a PortHistory, so every test drives a refresh sequence by hand with
explicit timestamps: no clocks, no servers.
"""

from __future__ import annotations

import json
import random

import pytest

import history
from history import (
    COARSE_KEEP,
    FINE_KEEP,
    FINE_MAX_SAMPLES,
    RANGES,
    PortHistory,
    PortState,
    add_counters,
    add_counters_to_state,
    backfill_window,
    merge_backfill,
    prune,
    series,
    volume,
)

T0 = 1_764_000_000  # an exact hour (epoch seconds divisible by 3600)
MBIT = 1_000_000


def feed(
    port: PortHistory | None,
    start: float,
    count: int,
    every: float,
    rx_bps: float,
    tx_bps: float = 0.0,
    rx0: int = 0,
    tx0: int = 0,
) -> PortHistory:
    """`count` refreshes `every` seconds apart at a constant rate, counters from rx0/tx0."""
    for n in range(count):
        ts = start + n * every
        port = add_counters(
            port,
            ts=ts,
            rx_bytes=int(rx0 + rx_bps * n * every / 8),
            tx_bytes=int(tx0 + tx_bps * n * every / 8),
        )
    assert port is not None
    return port


# --- counters into samples ----------------------------------------------------------------


def test_first_reading_is_only_a_baseline():
    port = add_counters(None, ts=T0, rx_bytes=1000, tx_bytes=2000)
    assert (port.last_ts, port.last_rx_bytes, port.last_tx_bytes) == (T0, 1000, 2000)
    assert port.fine == [] and port.coarse == []


def test_rate_is_counter_delta_in_bits_over_seconds():
    port = add_counters(None, ts=T0, rx_bytes=1000, tx_bytes=0)
    port = add_counters(port, ts=T0 + 300, rx_bytes=1000 + 37_500_000, tx_bytes=3_750_000)
    assert port.fine == [(T0 + 300, 1 * MBIT, 0.1 * MBIT)]
    assert port.coarse == [(T0, 1 * MBIT, 0.1 * MBIT)]


def test_counter_reset_gives_no_sample_and_a_new_baseline():
    port = feed(None, T0, 3, 300, 8 * MBIT, 8 * MBIT, rx0=10**9, tx0=10**9)
    assert len(port.fine) == 2
    port = add_counters(port, ts=T0 + 900, rx_bytes=500, tx_bytes=700)  # the gateway rebooted
    assert len(port.fine) == 2 and (port.last_rx_bytes, port.last_tx_bytes) == (500, 700)
    port = add_counters(port, ts=T0 + 1200, rx_bytes=500 + 300_000_000, tx_bytes=700 + 150_000_000)
    assert port.fine[-1] == (T0 + 1200, 8 * MBIT, 4 * MBIT)


def test_one_counter_going_backwards_only_loses_that_direction():
    port = add_counters(None, ts=T0, rx_bytes=10_000, tx_bytes=10_000)
    port = add_counters(port, ts=T0 + 100, rx_bytes=5, tx_bytes=10_000 + 1250)
    assert port.fine == [(T0 + 100, None, 100.0)]


def test_missing_counters_keep_the_old_baseline():
    port = add_counters(None, ts=T0, rx_bytes=0, tx_bytes=0)
    port = add_counters(port, ts=T0 + 300, rx_bytes=None, tx_bytes=None)
    assert port.fine == [] and port.last_ts == T0
    port = add_counters(port, ts=T0 + 600, rx_bytes=75_000_000, tx_bytes=None)
    assert port.fine == [(T0 + 600, 1 * MBIT, None)]  # the delta spans the whole 600 s
    assert port.last_tx_bytes is None
    port = add_counters(port, ts=T0 + 900, rx_bytes=75_000_000, tx_bytes=123)
    assert port.fine[-1] == (T0 + 900, 0.0, None)


def test_duplicate_and_out_of_order_readings_are_ignored():
    port = feed(None, T0, 3, 300, 8 * MBIT)
    before = (list(port.fine), list(port.coarse), port.last_ts, port.last_rx_bytes)
    add_counters(port, ts=T0 + 600, rx_bytes=10**12, tx_bytes=10**12)  # same ts again
    add_counters(port, ts=T0 + 100, rx_bytes=1, tx_bytes=1)  # from the past
    assert (port.fine, port.coarse, port.last_ts, port.last_rx_bytes) == before


def test_a_very_long_gap_restarts_the_baseline_instead_of_averaging_it_away():
    port = feed(None, T0, 2, 300, 8 * MBIT)
    port = add_counters(port, ts=T0 + 300 + 2 * 86400, rx_bytes=10**13, tx_bytes=10**13)
    assert [s[0] for s in port.fine] == []  # the old sample is past 24 h and the gap gave none
    assert port.last_ts == T0 + 300 + 2 * 86400
    port = add_counters(
        port, ts=T0 + 600 + 2 * 86400, rx_bytes=10**13 + 300_000_000, tx_bytes=10**13
    )
    assert port.fine == [(T0 + 600 + 2 * 86400, 8 * MBIT, 0.0)]


def test_junk_counters_are_treated_as_missing():
    port = add_counters(None, ts=T0, rx_bytes=-1, tx_bytes=True)
    assert port.last_ts is None
    port = add_counters(port, ts=float("nan"), rx_bytes=1, tx_bytes=1)
    assert port.last_ts is None
    port = add_counters(port, ts=T0, rx_bytes=float("nan"), tx_bytes=5)  # type: ignore[arg-type]
    assert (port.last_rx_bytes, port.last_tx_bytes) == (None, 5)


def test_coarse_is_the_hourly_average_aligned_to_the_hour():
    port = add_counters(None, ts=T0 + 1800, rx_bytes=0, tx_bytes=0)
    rx = 0
    for n, rate in enumerate([1, 3, 5, 7], start=1):  # 2 samples in each hour
        rx += rate * MBIT * 900 // 8
        port = add_counters(port, ts=T0 + 1800 + n * 900, rx_bytes=rx, tx_bytes=0)
    assert port.coarse == [(T0, 2 * MBIT, 0.0), (T0 + 3600, 6 * MBIT, 0.0)]


def test_history_stays_bounded_over_eight_days():
    port = feed(None, T0, 8 * 288 + 10, 300, 8 * MBIT, 1 * MBIT)
    now = port.last_ts
    assert now is not None
    assert len(port.fine) <= 288 and all(ts > now - FINE_KEEP for ts, _, _ in port.fine)
    assert len(port.coarse) <= 168 and all(ts > now - COARSE_KEEP for ts, _, _ in port.coarse)
    assert [s[0] for s in port.fine] == sorted({s[0] for s in port.fine})


def test_a_very_short_refresh_interval_cannot_grow_the_fine_tier_without_bound():
    port = feed(None, T0, 3 * FINE_MAX_SAMPLES, 10, 8 * MBIT)
    assert len(port.fine) == FINE_MAX_SAMPLES
    assert port.fine[-1][0] == T0 + (3 * FINE_MAX_SAMPLES - 1) * 10


def test_prune_drops_only_what_is_too_old():
    port = PortHistory(
        fine=[(T0 - FINE_KEEP, 1.0, 1.0), (T0 - FINE_KEEP + 1, 2.0, 2.0)],
        coarse=[(T0 - COARSE_KEEP, 1.0, 1.0), (T0 - COARSE_KEEP + 3600, 2.0, 2.0)],
    )
    prune(port, T0)
    assert port.fine == [(T0 - FINE_KEEP + 1, 2.0, 2.0)]
    assert port.coarse == [(T0 - COARSE_KEEP + 3600, 2.0, 2.0)]


def test_random_refresh_sequences_keep_the_invariants():
    """Resets, gaps, duplicates, reordering and missing counters in any mix."""
    rng = random.Random(7)
    for _ in range(30):
        port: PortHistory | None = None
        ts, rx, tx = float(T0), 0, 0
        for _ in range(rng.randint(1, 600)):
            roll = rng.random()
            ts += rng.choice([300, 300, 300, 299.7, 301, 0, -50, 1, 5000, 30])
            rx += rng.randint(0, 10**8)
            tx += rng.randint(0, 10**7)
            if roll < 0.03:
                rx, tx = rng.randint(0, 100), rng.randint(0, 100)
            readings = (None if roll > 0.95 else rx, None if 0.9 < roll < 0.97 else tx)
            port = add_counters(port, ts=ts, rx_bytes=readings[0], tx_bytes=readings[1])
            fine_ts = [s[0] for s in port.fine]
            assert fine_ts == sorted(set(fine_ts))
            assert len(port.fine) <= FINE_MAX_SAMPLES and len(port.coarse) <= 168
            assert all(s[0] % 3600 == 0 for s in port.coarse)
            assert [s[0] for s in port.coarse] == sorted({s[0] for s in port.coarse})
            assert all(v is None or v >= 0 for s in port.fine + port.coarse for v in s[1:])
        assert port is not None
        now = port.last_ts or T0
        for name in RANGES:
            chart = series(port, range_name=name, now=now, interval=300)
            json.dumps(chart, allow_nan=False)
        rx_bytes, _tx_bytes = volume(port, now=now)
        assert rx_bytes is None or rx_bytes >= 0


# --- backfill -----------------------------------------------------------------------------


def hourly(start: int, hours: int, bps: float) -> list[history.Sample]:
    return [(start + h * 3600, bps, bps / 10) for h in range(hours)]


def test_backfill_fills_missing_hours_but_never_overwrites_measured_ones():
    now = T0 + 10 * 3600 + 1800
    port = feed(None, T0 + 8 * 3600, 31, 300, 8 * MBIT)  # we measured hours 8, 9 and 10
    measured = list(port.coarse)
    port = merge_backfill(port, points=hourly(T0, 11, 1 * MBIT), step=3600, now=now)
    coarse = dict((ts, (rx, tx)) for ts, rx, tx in port.coarse)
    assert [coarse[T0 + h * 3600] for h in range(8)] == [(1 * MBIT, 0.1 * MBIT)] * 8
    assert [c for c in port.coarse if c[0] >= T0 + 8 * 3600] == measured
    assert port.fine[-1][1] == 8 * MBIT  # fine samples are never touched by backfill


def test_backfill_does_not_replace_an_earlier_backfill_and_measurement_beats_backfill():
    now = T0 + 5 * 3600
    port = merge_backfill(None, points=hourly(T0, 5, 1 * MBIT), step=3600, now=now)
    port = merge_backfill(port, points=hourly(T0, 5, 9 * MBIT), step=3600, now=now)
    assert {rx for _, rx, _ in port.coarse} == {1 * MBIT}
    port = feed(port, T0 + 4 * 3600, 5, 300, 4 * MBIT)  # now measuring hour 4 ourselves
    assert dict((ts, rx) for ts, rx, _ in port.coarse)[T0 + 4 * 3600] == 4 * MBIT


def test_ten_minute_backfill_points_average_into_hours():
    points = [(T0 + n * 600, float(n), None) for n in range(12)]
    port = merge_backfill(None, points=points, step=600, now=T0 + 3 * 3600)
    assert port.coarse == [(T0, 2.5, None), (T0 + 3600, 8.5, None)]


def test_backfill_ignores_points_outside_seven_days_and_in_the_future_and_junk():
    now = T0 + 3600 * 200
    points = [
        (now - COARSE_KEEP - 3600, 1.0, 1.0),
        (now + 7200, 2.0, 2.0),
        (T0 + 3600 * 150, float("nan"), -5.0),
        (T0 + 3600 * 151, 3.0, 3.0),
    ]
    port = merge_backfill(
        None, points=points, step=3600, now=now, window=(T0 + 3600 * 151, T0 + 3600 * 152)
    )
    assert port.coarse == [(T0 + 3600 * 150, None, None), (T0 + 3600 * 151, 3.0, 3.0)]


def test_new_port_wants_the_whole_week_and_a_full_history_wants_nothing():
    now = T0 + 1234.5
    assert backfill_window(None, now=now) == (int(now) - COARSE_KEEP, int(now))
    assert backfill_window(PortHistory(last_ts=now), now=now) == (int(now) - COARSE_KEEP, int(now))
    port = merge_backfill(None, points=hourly(T0 - COARSE_KEEP, 168, 1.0), step=3600, now=now)
    assert backfill_window(port, now=now) is None


def test_only_holes_longer_than_two_hours_are_worth_a_backfill_call():
    now = T0 + 0.5
    points = hourly(T0 - COARSE_KEEP, 168, 1.0)
    two_missing = [p for p in points if p[0] not in (T0 - 5 * 3600, T0 - 4 * 3600)]
    port = merge_backfill(None, points=two_missing, step=3600, now=now, window=(T0, T0))
    assert backfill_window(port, now=now) is None
    three_missing = [
        p for p in points if p[0] not in (T0 - 30 * 3600, T0 - 29 * 3600, T0 - 28 * 3600)
    ]
    also_far = [p for p in three_missing if not T0 - 100 * 3600 <= p[0] < T0 - 96 * 3600]
    port = merge_backfill(None, points=also_far, step=3600, now=now, window=(T0, T0))
    assert backfill_window(port, now=now) == (T0 - 100 * 3600, T0 - 27 * 3600)


def test_hours_mist_has_no_data_for_are_not_asked_again():
    now = T0 + 0.5
    window = backfill_window(None, now=now)
    assert window is not None
    port = merge_backfill(
        None, points=hourly(T0 - 24 * 3600, 24, 1.0), step=3600, now=now, window=window
    )
    assert backfill_window(port, now=now) is None
    assert len(port.coarse) <= 168
    assert series(port, range_name="7d", now=now, interval=300)["rx_bps"].count(None) == 168 - 24


def test_a_worker_outage_makes_a_hole_that_backfill_then_fills():
    week_before = (T0 - 6 * 86400, T0)
    port = merge_backfill(
        None, points=hourly(T0 - 6 * 86400, 144, 1 * MBIT), step=3600, now=T0, window=week_before
    )
    port = feed(port, T0, 12 * 24, 300, 8 * MBIT)  # one measured day
    port = feed(port, T0 + 30 * 3600, 3, 300, 8 * MBIT, rx0=10**12)  # back after a 6 h outage
    now = port.last_ts
    assert now is not None
    assert backfill_window(port, now=now) == (T0 + 24 * 3600, T0 + 30 * 3600)
    port = merge_backfill(
        port,
        points=hourly(T0 + 24 * 3600, 6, 2 * MBIT),
        step=3600,
        now=now,
        window=(T0 + 24 * 3600, T0 + 30 * 3600),
    )
    assert backfill_window(port, now=now) is None
    week = series(port, range_name="7d", now=now, interval=300)
    by_hour = dict(zip(week["t"], week["rx_bps"], strict=True))
    assert [by_hour[T0 + h * 3600] for h in (23, 24, 29, 30)] == [
        8 * MBIT,
        2 * MBIT,
        2 * MBIT,
        8 * MBIT,
    ]


# --- volume -------------------------------------------------------------------------------


def test_volume_of_a_constant_rate_over_24_hours():
    port = feed(None, T0, 12 * 30, 300, 8 * MBIT, 2 * MBIT)  # 30 h of 8/2 Mbit/s
    now = port.last_ts
    assert now is not None
    rx, tx = volume(port, now=now)
    assert rx == pytest.approx(8 * MBIT * 86400 / 8, rel=0.005)
    assert tx == pytest.approx(2 * MBIT * 86400 / 8, rel=0.005)
    one_hour = volume(port, now=now, seconds=3600)
    assert one_hour[0] == pytest.approx(8 * MBIT * 3600 / 8, rel=0.005)


def test_volume_counts_only_what_is_known():
    assert volume(None, now=T0) == (None, None)
    assert volume(PortHistory(), now=T0) == (None, None)
    port = feed(None, T0, 13, 300, 8 * MBIT)  # one hour measured
    rx, tx = volume(port, now=T0 + 3600)
    assert rx == pytest.approx(8 * MBIT * 3600 / 8, rel=0.01)
    assert tx == 0
    assert volume(port, now=T0 + 3 * 86400) == (None, None)  # all of it older than the window


def test_volume_uses_backfilled_hours_where_nothing_was_measured():
    now = T0 + 24 * 3600
    port = merge_backfill(None, points=hourly(T0, 23, 8 * MBIT), step=3600, now=now)
    port = feed(port, T0 + 23 * 3600, 13, 300, 8 * MBIT)
    rx, _ = volume(port, now=now)
    assert rx == pytest.approx(8 * MBIT * 86400 / 8, rel=0.01)


def test_volume_across_a_counter_reset_does_not_count_the_reset():
    port = feed(None, T0, 13, 300, 8 * MBIT, rx0=10**12)
    port = feed(port, T0 + 3900, 13, 300, 8 * MBIT, rx0=0)  # reboot: restarted from zero
    rx, _ = volume(port, now=T0 + 7500)
    assert rx == pytest.approx(8 * MBIT * 7500 / 8, rel=0.05)


def test_volume_of_the_hourly_bytes_counts_the_window_edge_by_its_share():
    hours = {T0: (3600.0, None), T0 + 3600: (7200.0, 10.0)}
    assert history.volume_of_hours(hours, now=T0 + 7200, seconds=3600) == (7200, 10)
    assert history.volume_of_hours(hours, now=T0 + 7200, seconds=5400) == (9000, 10)
    assert history.volume_of_hours(hours, now=T0 + 3 * 86400) == (None, None)
    assert history.volume_of_hours({}, now=T0) == (None, None)


# --- the usual refresh: counters into the state alone ---------------------------------------


def _state_of(port: PortHistory, now: float) -> PortState:
    return PortState(
        last_ts=port.last_ts,
        last_rx_bytes=port.last_rx_bytes,
        last_tx_bytes=port.last_tx_bytes,
        hourly=history.hourly_bytes(port, now=now),
    )


def test_the_state_alone_gives_the_same_sample_and_counters_as_the_whole_history():
    """Random traffic, jitter, resets and missing counters: wherever the state path answers,
    it makes the sample add_counters makes, and the 24 h volume follows the counters."""
    rng = random.Random(5)
    answered = 0
    for _ in range(10):
        port: PortHistory | None = None
        state = PortState()
        ts, rx, tx = float(T0), 10**9, 10**8
        for _ in range(400):
            ts += rng.uniform(250, 350) if rng.random() > 0.01 else 3 * 3600
            rx += int(rng.uniform(0, 50 * MBIT) * 300 / 8)
            tx += int(rng.uniform(0, 5 * MBIT) * 300 / 8)
            roll = rng.random()
            if roll < 0.02:
                rx, tx = rng.randint(0, 100), rng.randint(0, 100)
            readings = (None if 0.95 < roll < 0.97 else rx, None if roll > 0.96 else tx)
            fine_before = len(port.fine) if port else 0
            newest = port.fine[-1] if port and port.fine else None
            port = add_counters(port, ts=ts, rx_bytes=readings[0], tx_bytes=readings[1])
            made = port.fine[-1] if port.fine and port.fine[-1] != newest else None
            quick = add_counters_to_state(
                state, ts=ts, rx_bytes=readings[0], tx_bytes=readings[1], newest_bucket=None
            )
            if quick is None:  # the whole history is read: the state starts over from it
                state = _state_of(port, ts)
                continue
            answered += 1
            state, sample = quick
            assert sample == made, (fine_before, ts)
            assert (state.last_ts, state.last_rx_bytes, state.last_tx_bytes) == (
                port.last_ts,
                port.last_rx_bytes,
                port.last_tx_bytes,
            )
    assert answered > 0.9 * 10 * 400


def test_the_state_alone_keeps_the_24_hour_volume_of_the_counters():
    rng = random.Random(9)
    state = PortState()
    ts, rx, tx = float(T0), 10**9, 10**8
    readings = []
    for _ in range(400):
        quick = add_counters_to_state(state, ts=ts, rx_bytes=rx, tx_bytes=tx, newest_bucket=None)
        assert quick is not None
        state = quick[0]
        readings.append((ts, rx, tx))
        step = rng.uniform(280, 320)
        ts += step
        rx += int(rng.uniform(0, 50 * MBIT) * step / 8)
        tx += int(rng.uniform(0, 5 * MBIT) * step / 8)
    now = readings[-1][0]
    assert len(state.hourly) <= history.VOLUME_HOURS
    before = next(r for r in reversed(readings) if r[0] <= now - 86400)
    rx_volume, tx_volume = history.volume_of_hours(state.hourly, now=now)
    # hourly resolution: the hour the window starts in counts by its share
    assert rx_volume == pytest.approx(readings[-1][1] - before[1], rel=0.02)
    assert tx_volume == pytest.approx(readings[-1][2] - before[2], rel=0.02)


def test_the_state_alone_refuses_what_needs_the_whole_history():
    port = feed(None, T0, 13, 300, 8 * MBIT)
    state = _state_of(port, T0 + 3600)
    counters = {"rx_bytes": 10**12, "tx_bytes": 0}
    assert add_counters_to_state(state, ts=T0 + 3900, newest_bucket=None, **counters)
    # back after 4 h: three whole hours unmeasured, a hole worth backfilling
    assert add_counters_to_state(state, ts=T0 + 5 * 3600, newest_bucket=None, **counters) is None
    waiting = PortState(**{**state.__dict__, "needs_backfill": True})
    assert add_counters_to_state(waiting, ts=T0 + 3900, newest_bucket=None, **counters) is None
    # a stored (backfilled) bucket in the hour the sample measures must be replaced
    assert add_counters_to_state(state, ts=T0 + 3900, newest_bucket=T0 + 3600, **counters) is None
    assert add_counters_to_state(state, ts=T0 + 3600.5, newest_bucket=None, **counters) is None
    assert add_counters_to_state(state, ts=T0, newest_bucket=None, **counters) == (state, None)


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


def test_volume_matches_the_counters_for_random_traffic():
    """Whatever the rates and jitter, 24 h volume is the counter delta over those 24 h."""
    rng = random.Random(11)
    for _ in range(20):
        port: PortHistory | None = None
        ts, rx, tx = float(T0), 10**9, 10**8
        readings = []
        for _ in range(400):
            port = add_counters(port, ts=ts, rx_bytes=rx, tx_bytes=tx)
            readings.append((ts, rx, tx))
            step = rng.uniform(280, 320)
            ts += step
            rx += int(rng.uniform(0, 50 * MBIT) * step / 8)
            tx += int(rng.uniform(0, 5 * MBIT) * step / 8)
        assert port is not None and port.last_ts is not None
        now = port.last_ts
        first_in_window = next(r for r in readings if r[0] > now - 86400)
        index = readings.index(first_in_window)
        before = readings[index - 1]
        expected_rx = readings[-1][1] - before[1]
        expected_tx = readings[-1][2] - before[2]
        rx_bytes, tx_bytes = volume(port, now=now, interval=300)
        # only the window's first sample straddles its edge: allow one refresh of traffic
        assert rx_bytes == pytest.approx(expected_rx, abs=50 * MBIT * 320 / 8)
        assert tx_bytes == pytest.approx(expected_tx, abs=5 * MBIT * 320 / 8)

"""history.backfill: Mist's insights land in hours we did not measure; only holes are asked."""

from __future__ import annotations

from history.backfill import backfill_window, merge_backfill
from history.samples import COARSE_KEEP, PortHistory
from history.series import series
from tests.fixtures.traffic import MBIT, T0, feed, hourly


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

"""history.volume: the 24 h volume an engineer reads under each circuit."""

from __future__ import annotations

import random

import pytest

from history.backfill import merge_backfill
from history.samples import PortHistory, add_counters
from history.volume import volume, volume_of_hours
from tests.fixtures.traffic import MBIT, T0, feed, hourly

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
    assert volume_of_hours(hours, now=T0 + 7200, seconds=3600) == (7200, 10)
    assert volume_of_hours(hours, now=T0 + 7200, seconds=5400) == (9000, 10)
    assert volume_of_hours(hours, now=T0 + 3 * 86400) == (None, None)
    assert volume_of_hours({}, now=T0) == (None, None)


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

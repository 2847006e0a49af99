"""history.samples: counters into rate samples, the two tiers, pruning.

Pure functions over a PortHistory, so every test drives a refresh sequence by hand with
explicit timestamps: no clocks, no servers.
"""

from __future__ import annotations

import json
import random

from history.samples import (
    COARSE_KEEP,
    FINE_KEEP,
    FINE_MAX_SAMPLES,
    PortHistory,
    add_counters,
    prune,
)
from history.series import RANGES, series
from history.volume import volume
from tests.fixtures.traffic import MBIT, T0, feed

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

"""history.state: the usual refresh from a port's counters and running hourly bytes alone."""

from __future__ import annotations

import random
from typing import Any

import pytest

from history.samples import PortHistory, add_counters
from history.state import PortState, add_counters_to_state
from history.volume import VOLUME_HOURS, hourly_bytes, volume_of_hours
from tests.fixtures.traffic import MBIT, T0, feed


def _state_of(port: PortHistory, now: float) -> PortState:
    return PortState(
        last_ts=port.last_ts,
        last_rx_bytes=port.last_rx_bytes,
        last_tx_bytes=port.last_tx_bytes,
        hourly=hourly_bytes(port, now=now),
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
    assert len(state.hourly) <= VOLUME_HOURS
    before = next(r for r in reversed(readings) if r[0] <= now - 86400)
    rx_volume, tx_volume = volume_of_hours(state.hourly, now=now)
    # hourly resolution: the hour the window starts in counts by its share
    assert rx_volume == pytest.approx(readings[-1][1] - before[1], rel=0.02)
    assert tx_volume == pytest.approx(readings[-1][2] - before[2], rel=0.02)


def test_the_state_alone_refuses_what_needs_the_whole_history():
    port = feed(None, T0, 13, 300, 8 * MBIT)
    state = _state_of(port, T0 + 3600)
    counters: dict[str, Any] = {"rx_bytes": 10**12, "tx_bytes": 0}
    assert add_counters_to_state(state, ts=T0 + 3900, newest_bucket=None, **counters)
    # back after 4 h: three whole hours unmeasured, a hole worth backfilling
    assert add_counters_to_state(state, ts=T0 + 5 * 3600, newest_bucket=None, **counters) is None
    waiting = PortState(**{**state.__dict__, "needs_backfill": True})
    assert add_counters_to_state(waiting, ts=T0 + 3900, newest_bucket=None, **counters) is None
    # a stored (backfilled) bucket in the hour the sample measures must be replaced
    assert add_counters_to_state(state, ts=T0 + 3900, newest_bucket=T0 + 3600, **counters) is None
    assert add_counters_to_state(state, ts=T0 + 3600.5, newest_bucket=None, **counters) is None
    assert add_counters_to_state(state, ts=T0, newest_bucket=None, **counters) == (state, None)

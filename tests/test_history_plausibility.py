"""The plausibility guard (history.samples.rate_sample), as properties over random counter
sequences with resets, forward jumps, gaps, speed changes and missing readings: no stored
rate above the port's speed, volumes that are the accepted samples' bytes and physical, and
a fault that costs at most its own sample."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from history.samples import (
    FINE_KEEP,
    MAX_SAMPLE_SPAN,
    SPEED_MARGIN,
    Jump,
    PortHistory,
    add_counters,
    coverage,
    nominal_interval,
    rate_bound,
)
from history.state import PortState, add_counters_to_state
from history.volume import volume, volume_of_hours

T0 = 1_700_000_000
SPEEDS = (10e6, 100e6, 1e9, 10e9)  # bits/s, as model.snapshot's Circuit.speed_bps gives them
TEN_TB = 10 * 10**12


@dataclass(frozen=True)
class Step:
    """One refresh's reading: how long after the previous one, what happened, how fast."""

    seconds: int
    kind: str  # clean | reset | jump | missing
    speed: float
    load: float  # share of the step's lower speed the port carried


def steps(max_seconds: int) -> st.SearchStrategy[list[Step]]:
    step = st.builds(
        Step,
        seconds=st.integers(1, max_seconds),
        kind=st.sampled_from(("clean", "clean", "clean", "reset", "jump", "missing")),
        speed=st.sampled_from(SPEEDS),
        load=st.floats(0.0, 1.0),
    )
    return st.lists(step, min_size=1, max_size=40)


@dataclass
class Reading:
    ts: int
    rx: int | None
    tx: int | None
    speed: float
    kind: str


def readings(sequence: list[Step]) -> list[Reading]:
    """Counters as a port would report them: each clean step carries at most the lower of
    the two speeds (whatever it renegotiated to), a reset restarts from near zero, a jump
    leaps by 10 TB or more (another device's counters), a missing reading has none."""
    ts, rx, tx, speed = T0, 10**9, 10**8, SPEEDS[2]
    out = [Reading(ts, rx, tx, speed, "clean")]
    counted_at = ts  # the last reading with counters: a jump is measured from there
    for step in sequence:
        ts += step.seconds
        carried = int(step.load * min(speed, step.speed) * step.seconds / 8)
        kind = step.kind
        if kind == "missing":
            out.append(Reading(ts, None, None, step.speed, kind))
            continue
        if kind == "reset":
            rx, tx = carried % 1000, carried % 777
        elif kind == "jump":
            since = ts - counted_at  # a missing reading keeps the baseline where it was
            leap = max(TEN_TB, int(2 * max(SPEEDS) * since / 8))  # always too fast
            rx, tx = rx + leap + carried, tx + carried // 2
        else:
            rx, tx = rx + carried, tx + carried // 2
        speed = step.speed
        counted_at = ts
        out.append(Reading(ts, rx, tx, speed, kind))
    return out


def feed_history(sequence: list[Reading]) -> tuple[PortHistory, list[Jump]]:
    history: PortHistory | None = None
    jumps: list[Jump] = []
    for reading in sequence:
        history = add_counters(
            history,
            ts=reading.ts,
            rx_bytes=reading.rx,
            tx_bytes=reading.tx,
            speed_bps=reading.speed,
            on_jump=jumps.append,
        )
    assert history is not None
    return history, jumps


def expected_steps(sequence: list[Reading]) -> list[tuple[Reading, Reading, float]]:
    """(baseline, reading, bound) of every reading that follows a baseline within the span:
    the baseline is the last reading that had counters (a missing one keeps it)."""
    found = []
    baseline: Reading | None = None
    for reading in sequence:
        if reading.rx is None:
            continue
        if baseline is not None and reading.ts - baseline.ts <= MAX_SAMPLE_SPAN:
            bound = max(baseline.speed, reading.speed) * SPEED_MARGIN
            found.append((baseline, reading, bound))
        baseline = reading
    return found


@settings(max_examples=150, deadline=None)
@given(steps(max_seconds=14_000))
def test_no_stored_rate_exceeds_the_bound_and_a_fault_costs_at_most_its_own_sample(
    sequence: list[Step],
) -> None:
    counters = readings(sequence)
    history, jumps = feed_history(counters)
    samples = {ts: (rx, tx) for ts, rx, tx in history.fine}
    kept = [step for step in expected_steps(counters) if step[1].ts > counters[-1].ts - FINE_KEEP]
    for baseline, reading, bound in kept:
        assert bound == rate_bound(baseline.speed, reading.speed)
        rx, tx = samples.get(reading.ts, (None, None))
        for rate in (rx, tx):
            assert rate is None or 0 <= rate <= bound
        if reading.kind == "clean":  # a reset or jump before it does not cost this one
            seconds = reading.ts - baseline.ts
            assert reading.rx is not None and baseline.rx is not None
            assert reading.tx is not None and baseline.tx is not None
            assert rx == pytest.approx((reading.rx - baseline.rx) * 8 / seconds)
            assert tx == pytest.approx((reading.tx - baseline.tx) * 8 / seconds)
        if reading.kind == "jump":
            assert rx is None and tx is not None  # only the direction that leapt is lost
    refused = [r for _, r, _ in expected_steps(counters) if r.kind == "jump"]
    assert len(jumps) == len(refused)
    assert all(jump.rx_bytes is not None and jump.rx_bytes >= TEN_TB for jump in jumps)
    for _hour, rx, tx in history.coarse:  # hourly averages of bounded samples stay bounded
        assert max(rx or 0.0, tx or 0.0) <= max(SPEEDS) * SPEED_MARGIN


@settings(max_examples=150, deadline=None)
@given(steps(max_seconds=14_000))
def test_the_24h_volume_of_the_whole_history_stays_physical(sequence: list[Step]) -> None:
    counters = readings(sequence)
    history, _ = feed_history(counters)
    now = counters[-1].ts
    fastest = max(r.speed for r in counters) * SPEED_MARGIN
    spans = coverage(history.fine, nominal_interval(history.fine, None), MAX_SAMPLE_SPAN)
    covered = sum(min(end, now) - max(start, now - 86400) for start, end, _, _ in spans)
    rx, tx = volume(history, now=now)
    for total in (rx or 0, tx or 0):
        assert total <= fastest * covered / 8 + 1
        assert total <= fastest * 86400 / 8


@settings(max_examples=150, deadline=None)
@given(steps(max_seconds=2_000))  # under 24 h in all, no hole the state path defers
def test_the_usual_refresh_volume_is_the_sum_of_the_accepted_samples_bytes(
    sequence: list[Step],
) -> None:
    counters = readings(sequence)
    state = PortState()
    history: PortHistory | None = None
    accepted = [0.0, 0.0]
    for reading in counters:
        last_ts = state.last_ts
        added = add_counters_to_state(
            state,
            ts=reading.ts,
            rx_bytes=reading.rx,
            tx_bytes=reading.tx,
            newest_bucket=None,
            speed_bps=reading.speed,
        )
        history = add_counters(
            history,
            ts=reading.ts,
            rx_bytes=reading.rx,
            tx_bytes=reading.tx,
            speed_bps=reading.speed,
        )
        assert added is not None
        state, sample = added
        assert sample == (history.fine[-1] if sample else None)  # the same guard, both paths
        if sample is not None and last_ts is not None:
            for direction, rate in enumerate(sample[1:]):
                accepted[direction] += (rate or 0.0) * (reading.ts - last_ts) / 8
    now = counters[-1].ts
    rx, tx = volume_of_hours(state.hourly, now=now)
    assert (rx or 0) == pytest.approx(accepted[0], rel=1e-9, abs=2)
    assert (tx or 0) == pytest.approx(accepted[1], rel=1e-9, abs=2)
    fastest = max(r.speed for r in counters) * SPEED_MARGIN
    assert max(rx or 0, tx or 0) <= fastest * (now - T0) / 8 + 1

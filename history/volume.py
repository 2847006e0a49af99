"""Bytes per hour and the 24 h volume of a port, from its samples and hourly buckets."""

from __future__ import annotations

import math
from collections.abc import Mapping

from history.samples import (
    COARSE_STEP,
    FINE_KEEP,
    FINE_MAX_SAMPLES,
    MAX_SAMPLE_SPAN,
    PortHistory,
    coverage,
    hour_of,
    measured_hours,
    nominal_interval,
)

VOLUME_HOURS = 25
"""Hours a 24 h window can touch: 24 whole ones and the partial one at its start."""

DAY = 86400
WEEK = 7 * DAY


HourlyBytes = dict[int, tuple[float | None, float | None]]
"""Bytes (rx, tx) moved in each hour (h, h + 1 h], by the hour's start: what a volume sums.
The worker keeps the last VOLUME_HOURS of them with the port's counters, so the usual
refresh adds one sample's bytes here instead of reading the port's samples back."""


def add_bytes(
    hours: HourlyBytes,
    start: float,
    end: float,
    rx: float | None,
    tx: float | None,
    covered: dict[int, float] | None = None,
) -> None:
    """Spread a span's rates (bits/s) over the hours it overlaps, as bytes; with `covered`,
    also add up the seconds of each hour the span covers."""
    hour = hour_of(start)
    while hour < end:
        overlap = min(end, hour + COARSE_STEP) - max(start, hour)
        if overlap > 0 and covered is not None:
            covered[hour] = covered.get(hour, 0.0) + overlap
        if overlap > 0 and (rx is not None or tx is not None):
            old_rx, old_tx = hours.get(hour, (None, None))
            hours[hour] = (
                old_rx if rx is None else (old_rx or 0.0) + rx * overlap / 8,
                old_tx if tx is None else (old_tx or 0.0) + tx * overlap / 8,
            )
        hour += COARSE_STEP


def keep_recent_hours(hours: HourlyBytes, now: float, seconds: int = 86400) -> HourlyBytes:
    lo = now - seconds
    return {hour: value for hour, value in sorted(hours.items()) if hour + COARSE_STEP > lo}


def hourly_bytes(
    history: PortHistory | None,
    *,
    now: float,
    seconds: int = 86400,
    interval: float | None = None,
) -> HourlyBytes:
    """Each hour's bytes over the last `seconds`, from the whole history.

    A fine sample counts for the time back to the one before (one nominal interval after a
    gap or reset); time no sample covers counts at the hour's average in an hour that no
    sample measured (backfilled, older than the fine tier) and in the part of a measured
    hour whose samples were pruned (not before a new port's first sample).
    """
    hours: HourlyBytes = {}
    if history is None:
        return hours
    lo = now - seconds
    fine = history.fine
    nominal = nominal_interval(fine, interval)
    covered: dict[int, float] = {}
    for start, end, rx, tx in coverage(fine, nominal, MAX_SAMPLE_SPAN):
        if end <= lo - COARSE_STEP:
            continue
        add_bytes(hours, start, end, rx, tx, covered)
    measured = measured_hours(history)
    fine_from = -math.inf  # a port's first samples: nothing measured before them
    if fine and (len(fine) >= FINE_MAX_SAMPLES or fine[0][0] - nominal <= now - FINE_KEEP):
        fine_from = fine[0][0] - nominal  # older samples were pruned
    elif not fine:
        fine_from = math.inf
    for hour, rx, tx in history.coarse:
        if hour + COARSE_STEP <= lo or hour >= now:
            continue
        if hour in measured:
            uncounted = max(0.0, min(hour + COARSE_STEP, fine_from) - hour)
        else:
            uncounted = max(0.0, COARSE_STEP - covered.get(hour, 0.0))
        if uncounted > 0:
            add_bytes(hours, hour, hour + uncounted, rx, tx)
    return keep_recent_hours(hours, now, seconds)


def volume_of_hours(
    hours: Mapping[int, tuple[float | None, float | None]], *, now: float, seconds: int = 86400
) -> tuple[int | None, int | None]:
    """Bytes (rx, tx) in the last `seconds`: whole hours in the window count in full, the
    hour the window starts in by the share of it inside. A direction with no data is None."""
    lo = now - seconds
    totals: list[float | None] = [None, None]
    for hour, values in hours.items():
        end = min(hour + COARSE_STEP, now)
        if end <= lo or end <= hour:
            continue
        share = (end - max(hour, lo)) / (end - hour)
        for direction, value in enumerate(values):
            if value is not None:
                totals[direction] = (totals[direction] or 0.0) + value * share
    return (
        None if totals[0] is None else round(totals[0]),
        None if totals[1] is None else round(totals[1]),
    )


def filling(
    hours: Mapping[int, tuple[float | None, float | None]], *, now: float, seconds: int = DAY
) -> bool:
    """Whether the bytes known do not reach back to within an hour of the window's start (a
    new port's history still filling, or back from a long gap): its volume is then a lower
    bound ("≥ 2.5 GB, history filling"), never the window's volume. The hour the window
    starts in may be missing: Mist's week of hourly buckets, like our own, ends there."""
    return bool(hours) and min(hours) > now - seconds + COARSE_STEP


def volume(
    history: PortHistory | None,
    *,
    now: float,
    seconds: int = 86400,
    interval: float | None = None,
) -> tuple[int | None, int | None]:
    """Bytes (rx, tx) transferred in the last `seconds`, at hourly resolution (see
    `hourly_bytes` and `volume_of_hours`). A direction with no data in the window is None."""
    hours = hourly_bytes(history, now=now, seconds=seconds, interval=interval)
    return volume_of_hours(hours, now=now, seconds=seconds)

"""Mist's insights landed in the hourly tier, and which hours are worth asking Mist for."""

from __future__ import annotations

import math
from collections.abc import Sequence

from history.samples import (
    COARSE_KEEP,
    COARSE_STEP,
    HOLE_HOURS,
    PortHistory,
    Sample,
    hour_of,
    mean,
    measured_hours,
    prune,
    set_coarse,
)
from model.values import number

HourValues = dict[int, list[list[float]]]  # hour -> [rx values, tx values]


def _rate(value: object) -> float | None:
    """A usable Mist bps value: a finite, non-negative number."""
    found = number(value)
    return float(found) if found is not None and found >= 0 else None


def _values_by_hour(points: Sequence[Sample], step: int, now: float) -> HourValues:
    """Each point's rates under every hour it spans (a daily point spans 24), within 7 days."""
    oldest, newest = now - COARSE_KEEP, hour_of(now)
    sums: HourValues = {}
    for ts, rx, tx in points:
        if not isinstance(ts, int | float) or isinstance(ts, bool) or not math.isfinite(ts):
            continue
        last = ts + step - 1 if step > COARSE_STEP else ts
        for hour in range(hour_of(ts), hour_of(last) + 1, COARSE_STEP):
            if oldest < hour <= newest:
                rx_tx = sums.setdefault(hour, [[], []])
                for direction, value in enumerate((_rate(rx), _rate(tx))):
                    if value is not None:
                        rx_tx[direction].append(value)
    return sums


def _add_known_empty(
    sums: HourValues,
    points: Sequence[Sample],
    step: int,
    now: float,
    window: tuple[int, int] | None,
) -> None:
    """Complete hours of the asked window Mist had no data for, as known-empty hours."""
    if window is None and points:
        times = [p[0] for p in points if isinstance(p[0], int | float)]
        window = (int(min(times)), int(max(times)) + step) if times else None
    if window is None:
        return
    first = -(-int(window[0]) // COARSE_STEP) * COARSE_STEP
    start = max(first, hour_of(now - COARSE_KEEP) + COARSE_STEP)
    for hour in range(start, min(window[1], hour_of(now)), COARSE_STEP):
        if hour + COARSE_STEP <= window[1]:
            sums.setdefault(hour, [[], []])


def merge_backfill(
    history: PortHistory | None,
    *,
    points: Sequence[Sample],
    step: int,
    now: float,
    window: tuple[int, int] | None = None,
) -> PortHistory:
    """Land Mist insights points (bps, `step` = 600 or 3600 s) in the hourly tier.

    Only hours we have no value for are filled: an hour we measured ourselves (or one
    that already holds a value) is never overwritten. Pass the `window` you asked Mist
    for: complete hours in it that Mist had no data for are stored as known-empty
    (None, None) so `backfill_window` does not ask for them again (without it, the span
    of the returned points is used).
    """
    history = history if history is not None else PortHistory()
    step = max(int(step), 1)
    sums = _values_by_hour(points, step, now)
    _add_known_empty(sums, points, step, now, window)
    measured = measured_hours(history)
    known = {
        sample[0] for sample in history.coarse if sample[1] is not None or sample[2] is not None
    }
    for hour in sorted(sums):
        if hour in measured or hour in known:
            continue
        rx_values, tx_values = sums[hour]
        set_coarse(history, (hour, mean(rx_values), mean(tx_values)))
    return prune(history, now)


def backfill_window(history: PortHistory | None, *, now: float) -> tuple[int, int] | None:
    """The (start, end) epoch seconds worth asking Mist for, or None when nothing is.

    A port with no history wants the whole 7 days; otherwise the span covering every run
    of HOLE_HOURS or more complete hours in the last 7 days that have neither a measured
    sample nor a coarse bucket (known-empty buckets count as known).
    """
    start, end = int(now) - COARSE_KEEP, int(now)
    if history is None or (not history.fine and not history.coarse):
        return (start, end)
    known = {sample[0] for sample in history.coarse}  # every measured hour has its bucket
    current = hour_of(now)
    holes: list[tuple[int, int]] = []
    run_start: int | None = None
    for hour in range(
        current - (COARSE_KEEP // COARSE_STEP - 1) * COARSE_STEP, current + 1, COARSE_STEP
    ):
        missing = hour not in known and hour < current
        if missing and run_start is None:
            run_start = hour
        elif not missing and run_start is not None:
            if hour - run_start >= HOLE_HOURS * COARSE_STEP:
                holes.append((run_start, hour))
            run_start = None
    if not holes:
        return None
    return (max(holes[0][0], start), min(holes[-1][1], end))

"""A port's traffic as the chart draws it: a regular time grid per range, gaps as None."""

from __future__ import annotations

import math

from history.samples import (
    COARSE_STEP,
    PortHistory,
    coverage,
    measured_hours,
    nominal_interval,
    sample_hour,
)
from settings import DEFAULT_INTERVAL

RANGES: dict[str, int] = {"1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800}


MIN_STEP = 60


MAX_POINTS = 400


NICE_STEPS = (60, 120, 180, 300, 600, 900, 1200, 1800, 3600)


def series_step(range_name: str, interval: float) -> int:
    """Chart step for a range: the refresh interval (at least 60 s), coarser when the
    range would need more than MAX_POINTS points; always 3600 for 7 d."""
    if range_name not in RANGES:
        raise ValueError(f"unknown range {range_name!r}; expected one of {', '.join(RANGES)}")
    if range_name == "7d":
        return COARSE_STEP
    step = max(math.ceil(interval) if interval and interval > 0 else MIN_STEP, MIN_STEP)
    span = RANGES[range_name]
    if span / step > MAX_POINTS:
        step = next((s for s in NICE_STEPS if s >= step and span / s <= MAX_POINTS), COARSE_STEP)
    return step


def series(history: PortHistory | None, *, range_name: str, now: float, interval: int) -> dict:
    """A regular time grid covering the range, with None wherever nothing is known.

    1 h / 6 h / 24 h come from the fine tier. Like a sample, a point `t` stands for the
    step that ENDS at `t`, so the newest point is a complete step and does not blink to
    a gap between refreshes. Its value is the time-weighted average of the samples
    covering that step: a missed refresh is bridged, a longer outage is a gap; hours we
    never measured ourselves (e.g. backfilled) show their hourly value. 7 d points are
    Mist-style hour buckets labelled by their start, from the coarse tier. Beside the rates
    (bits/s) come the bytes each step moved and their totals over the range.
    Raises ValueError on an unknown range name.
    """
    step = series_step(range_name, interval)
    count = -(-RANGES[range_name] // step)
    last = int(now // step) * step
    grid = [last - (count - 1 - k) * step for k in range(count)]
    rx_out: list[float | None] = [None] * count
    tx_out: list[float | None] = [None] * count
    if history is not None and range_name == "7d":
        coarse = {hour: (rx, tx) for hour, rx, tx in history.coarse}
        for k, t in enumerate(grid):
            rx_out[k], tx_out[k] = coarse.get(t, (None, None))
    elif history is not None:
        _fill_fine(history, grid, step, float(interval or DEFAULT_INTERVAL), rx_out, tx_out)
    rx_bytes, tx_bytes = _bytes(rx_out, step), _bytes(tx_out, step)
    return {
        "range": range_name,
        "step": step,
        "t": grid,
        "rx_bps": [None if v is None else round(v) for v in rx_out],
        "tx_bps": [None if v is None else round(v) for v in tx_out],
        "rx_bytes": rx_bytes,
        "tx_bytes": tx_bytes,
        "rx_bytes_total": _total(rx_bytes),
        "tx_bytes_total": _total(tx_bytes),
    }


def _bytes(rates: list[float | None], step: int) -> list[int | None]:
    """Bytes moved in each step (its average rate over the step's seconds): the chart's
    "data transferred" view."""
    return [None if v is None else round(v * step / 8) for v in rates]


def _total(values: list[int | None]) -> int | None:
    """The bytes of the steps that have data (None when none has)."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _fill_fine(
    history: PortHistory,
    grid: list[int],
    step: int,
    interval: float,
    rx_out: list[float | None],
    tx_out: list[float | None],
) -> None:
    """Time-weighted average of the covering samples per cell (t - step, t], one sweep."""
    # A worker that falls behind its interval (slow refreshes) must not turn into gaps.
    nominal = max(interval, nominal_interval(history.fine, None) if len(history.fine) > 1 else 1.0)
    spans = coverage(history.fine, nominal, 2 * nominal)
    measured = measured_hours(history)
    coarse = {hour: (rx, tx) for hour, rx, tx in history.coarse}
    fine_from = spans[0][0] if spans else math.inf  # before it, samples were pruned
    first = 0
    for k, end in enumerate(grid):
        t = end - step
        while first < len(spans) and spans[first][1] <= t:
            first += 1
        weights = [0.0, 0.0]
        sums = [0.0, 0.0]
        index = first
        while index < len(spans) and spans[index][0] < end:
            start, stop, rx, tx = spans[index]
            overlap = min(stop, end) - max(start, t)
            if overlap > 0:
                for direction, rate in ((0, rx), (1, tx)):
                    if rate is not None:
                        sums[direction] += rate * overlap
                        weights[direction] += overlap
            index += 1
        if weights[0] or weights[1]:
            rx_out[k] = sums[0] / weights[0] if weights[0] else None
            tx_out[k] = sums[1] / weights[1] if weights[1] else None
        elif (end <= fine_from or sample_hour(end) not in measured) and sample_hour(end) in coarse:
            rx_out[k], tx_out[k] = coarse[sample_hour(end)]

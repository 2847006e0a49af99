"""A port's counters and running hourly bytes: what a usual refresh needs, without samples."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from history.samples import (
    COARSE_STEP,
    HOLE_HOURS,
    MAX_SAMPLE_SPAN,
    OnJump,
    Sample,
    hour_of,
    rate_sample,
    sample_hour,
)
from history.volume import HourlyBytes, add_bytes, keep_recent_hours
from model.values import counter


@dataclass
class PortState:
    """A port's counters, its running hourly bytes and whether it waits for backfill: all
    a usual refresh needs, without the port's samples."""

    last_ts: float | None = None
    last_rx_bytes: int | None = None
    last_tx_bytes: int | None = None
    last_speed_bps: float | None = None
    hourly: HourlyBytes = field(default_factory=dict)
    needs_backfill: bool = False


def add_counters_to_state(
    state: PortState,
    *,
    ts: float,
    rx_bytes: int | None,
    tx_bytes: int | None,
    newest_bucket: int | None,
    speed_bps: float | None = None,
    on_jump: OnJump | None = None,
) -> tuple[PortState, Sample | None] | None:
    """`add_counters` for a port whose stored samples stay as they are: the new state and the
    sample to append (or None), exactly what the whole history would get.

    Returns None when that needs the whole history: the port waits for backfill, a hole of
    HOLE_HOURS could open, the new sample's time reaches an hour that holds a stored bucket
    (`newest_bucket`, which the measured value must replace), or two readings share a second.
    """
    rx_bytes, tx_bytes = counter(rx_bytes), counter(tx_bytes)
    if state.needs_backfill or not math.isfinite(ts):
        return None
    last_ts = state.last_ts
    if last_ts is not None:
        if ts <= last_ts:
            return (state, None)
        if (sample_hour(ts) - sample_hour(last_ts)) // COARSE_STEP - 1 >= HOLE_HOURS:
            return None
        if int(ts) == int(last_ts):
            return None
        if newest_bucket is not None and newest_bucket >= hour_of(last_ts):
            return None
    if rx_bytes is None and tx_bytes is None:
        return (state, None)
    sample = rate_sample(state, ts, rx_bytes, tx_bytes, MAX_SAMPLE_SPAN, speed_bps, on_jump)
    hourly = state.hourly
    if sample is not None and last_ts is not None:
        hourly = dict(hourly)
        add_bytes(hourly, last_ts, ts, sample[1], sample[2])
    updated = PortState(
        last_ts=ts,
        last_rx_bytes=rx_bytes,
        last_tx_bytes=tx_bytes,
        last_speed_bps=state.last_speed_bps if speed_bps is None else speed_bps,
        hourly=keep_recent_hours(hourly, ts),
        needs_backfill=False,
    )
    return (updated, sample)

"""A port's traffic history: counter deltas into rate samples, in two tiers.

A sample `(ts, rx_bps, tx_bps)` is the average rate over the refresh interval that ENDS
at `ts`. Functions update the given PortHistory in place (and return it) because the
worker runs them for tens of thousands of ports per refresh.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from model.snapshot import DEFAULT_CEILING_BPS
from model.values import counter
from settings import DEFAULT_INTERVAL

FINE_KEEP = 86400


COARSE_KEEP = 7 * 86400


COARSE_STEP = 3600


FINE_MAX_SAMPLES = 1440
"""Hard cap on the fine tier (one a minute for 24 h): a very short refresh interval then
keeps less than 24 h of fine samples instead of growing the stored history without bound."""


MAX_SAMPLE_SPAN = 3 * 3600
"""A counter delta over a longer gap averages away everything that happened in it: no
sample, the counters just become the new baseline. Long enough for an hourly refresh
(WORKER_INTERVAL may be that long, with jitter) and a missed one."""


HOLE_HOURS = 3
"""Missing hours in a row that make a hole worth asking Mist to backfill (more than ~2 h)."""


SPEED_MARGIN = 1.05
"""A rate may exceed the port's speed by this factor (framing, clock skew between readings)."""


Sample = tuple[int, float | None, float | None]


@dataclass
class PortHistory:
    """Last counters seen plus the fine (per refresh) and coarse (hourly) sample tiers."""

    last_ts: float | None = None
    last_rx_bytes: int | None = None
    last_tx_bytes: int | None = None
    last_speed_bps: float | None = None
    fine: list[Sample] = field(default_factory=list)
    coarse: list[Sample] = field(default_factory=list)


class Counters(Protocol):
    """The last counters a port was read at (a PortHistory or a PortState)."""

    last_ts: float | None
    last_rx_bytes: int | None
    last_tx_bytes: int | None
    last_speed_bps: float | None


@dataclass(frozen=True)
class Jump:
    """A counter delta no link could have carried (a glitch, another device's counters):
    refused like a counter reset, so it never becomes a rate or a volume."""

    rx_bytes: int | None  # the refused delta of each direction (None: that one was fine)
    tx_bytes: int | None
    seconds: float
    bound_bps: float


OnJump = Callable[[Jump], None]


def hour_of(ts: float) -> int:
    return int(ts // COARSE_STEP) * COARSE_STEP


def sample_hour(ts: float) -> int:
    """The hour a fine sample measured: it ends at `ts`, so one ending on the hour
    belongs to the hour before (intervals are (start, ts])."""
    return hour_of(ts - 1)


def measured_hour(ts: float) -> int:
    """The hour (start, epoch seconds) a fine sample taken at `ts` measured."""
    return sample_hour(ts)


def rate_bound(last_speed_bps: float | None, speed_bps: float | None) -> float:
    """The highest rate (bits/s) a step may show: the higher of the two readings' speeds
    (a port renegotiated between them), plus SPEED_MARGIN; DEFAULT_CEILING_BPS if neither."""
    known = [speed for speed in (last_speed_bps, speed_bps) if speed is not None and speed > 0]
    return (max(known) if known else DEFAULT_CEILING_BPS) * SPEED_MARGIN


def _rate(
    before: int | None, after: int | None, seconds: float, bound: float
) -> tuple[float | None, int | None]:
    """(bits/s, refused delta) between two counter readings: no rate across a reset (the
    counter went backwards) nor for a delta above `bound`, which is then refused."""
    if before is None or after is None or after < before:
        return None, None
    rate = (after - before) * 8 / seconds
    if rate > bound:
        return None, after - before
    return rate, None


def mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def set_coarse(history: PortHistory, bucket: Sample) -> None:
    """Insert or replace the coarse bucket at bucket[0], keeping the tier sorted."""
    coarse = history.coarse
    if not coarse or coarse[-1][0] < bucket[0]:  # the usual case: a new hour
        coarse.append(bucket)
        return
    if coarse[-1][0] == bucket[0]:  # the usual case: the current hour again
        coarse[-1] = bucket
        return
    hours = [sample[0] for sample in history.coarse]
    index = bisect.bisect_left(hours, bucket[0])
    if index < len(hours) and hours[index] == bucket[0]:
        history.coarse[index] = bucket
    else:
        history.coarse.insert(index, bucket)


def _tail_since(samples: list[Sample], ts: float) -> list[Sample]:
    """The samples after `ts`, found from the end: refreshes only ever touch the newest."""
    index = len(samples)
    while index > 0 and samples[index - 1][0] > ts:
        index -= 1
    return samples[index:]


def _count_until(samples: list[Sample], ts: float) -> int:
    """How many leading samples are at or before `ts` (usually none or one)."""
    count = 0
    while count < len(samples) and samples[count][0] <= ts:
        count += 1
    return count


def _refresh_hour(history: PortHistory, hour: int) -> None:
    """Recompute one hour's coarse average from the fine samples measured in it."""
    in_hour = [s for s in _tail_since(history.fine, hour) if s[0] <= hour + COARSE_STEP]
    if in_hour:
        rx = mean(sample[1] for sample in in_hour)
        tx = mean(sample[2] for sample in in_hour)
        set_coarse(history, (hour, rx, tx))


def prune(history: PortHistory, now: float) -> PortHistory:
    """Drop fine samples older than 24 h (and beyond FINE_MAX_SAMPLES) and coarse buckets
    older than 7 d, so a stored history stays bounded whatever happens."""
    fine_from = max(
        _count_until(history.fine, now - FINE_KEEP), len(history.fine) - FINE_MAX_SAMPLES
    )
    if fine_from > 0:
        del history.fine[:fine_from]
    coarse_from = _count_until(history.coarse, now - COARSE_KEEP)
    if coarse_from > 0:
        del history.coarse[:coarse_from]
    return history


def measured_buckets(samples: Iterable[Sample]) -> dict[int, tuple[float | None, float | None]]:
    """Hourly averages of fine samples by the hour they measured (what `_refresh_hour` sets)."""
    by_hour: dict[int, list[Sample]] = {}
    for sample in samples:
        by_hour.setdefault(sample_hour(sample[0]), []).append(sample)
    return {
        hour: (mean(s[1] for s in in_hour), mean(s[2] for s in in_hour))
        for hour, in_hour in by_hour.items()
    }


def restore(
    *,
    last_ts: float | None,
    last_rx_bytes: int | None,
    last_tx_bytes: int | None,
    last_speed_bps: float | None = None,
    samples: Sequence[Sample],
    stored_buckets: Iterable[Sample],
    pruned_at: float | None,
) -> PortHistory:
    """Rebuild a history from storage that appends: every fine sample still kept (including
    some already pruned, ascending) and the hourly buckets that were stored.

    An hour with a stored bucket keeps it (later ones in `stored_buckets` win); any other hour
    with samples gets their average, as `add_counters` would have set it. Then the history is
    pruned as of `pruned_at`, the time the writer last pruned it.
    """
    coarse_by_hour = measured_buckets(samples)
    coarse_by_hour.update({hour: (rx, tx) for hour, rx, tx in stored_buckets})
    restored = PortHistory(
        last_ts=last_ts,
        last_rx_bytes=last_rx_bytes,
        last_tx_bytes=last_tx_bytes,
        last_speed_bps=last_speed_bps,
        fine=list(samples),
        coarse=[(hour, rx, tx) for hour, (rx, tx) in sorted(coarse_by_hour.items())],
    )
    return prune(restored, pruned_at) if pruned_at is not None else restored


def rate_sample(
    last: Counters,
    ts: float,
    rx_bytes: int | None,
    tx_bytes: int | None,
    span: float,
    speed_bps: float | None = None,
    on_jump: OnJump | None = None,
) -> Sample | None:
    """The rate sample a reading at `ts` makes after the `last` one, if any: not on a first
    reading, after a gap longer than `span`, or when neither direction has a rate.

    The one plausibility guard: a direction whose rate exceeds `rate_bound` (the port's
    `speed_bps` now or at the last reading) has no rate, like a reset. The step then keeps
    a sample without that rate (a gap, so the next sample covers only its own interval) and
    `on_jump` hears of it."""
    if last.last_ts is None or ts - last.last_ts > span:
        return None
    seconds = ts - last.last_ts
    bound = rate_bound(last.last_speed_bps, speed_bps)
    rx, rx_jump = _rate(last.last_rx_bytes, rx_bytes, seconds, bound)
    tx, tx_jump = _rate(last.last_tx_bytes, tx_bytes, seconds, bound)
    if rx_jump is None and tx_jump is None:
        return (int(ts), rx, tx) if rx is not None or tx is not None else None
    if on_jump is not None:
        on_jump(Jump(rx_jump, tx_jump, seconds, bound))
    return (int(ts), rx, tx)


def add_counters(
    history: PortHistory | None,
    *,
    ts: float,
    rx_bytes: int | None,
    tx_bytes: int | None,
    max_span: float = MAX_SAMPLE_SPAN,
    speed_bps: float | None = None,
    on_jump: OnJump | None = None,
) -> PortHistory:
    """Feed one refresh's cumulative counters; append a rate sample when one is known.

    No sample on the first reading, across a counter reset (that direction restarts its
    baseline), after a gap longer than `max_span`, or when both counters are missing
    (then the old baseline is kept, so the next delta still spans the right time). A
    delta faster than the port's `speed_bps` is refused (see `rate_sample`). A duplicate
    or older `ts` is ignored entirely.
    """
    history = history if history is not None else PortHistory()
    rx_bytes, tx_bytes = counter(rx_bytes), counter(tx_bytes)
    if not math.isfinite(ts):
        return history
    if rx_bytes is None and tx_bytes is None:
        return prune(history, ts)
    if history.last_ts is not None and ts <= history.last_ts:
        return history
    sample = rate_sample(history, ts, rx_bytes, tx_bytes, max_span, speed_bps, on_jump)
    history.last_ts, history.last_rx_bytes, history.last_tx_bytes = ts, rx_bytes, tx_bytes
    if speed_bps is not None:
        history.last_speed_bps = speed_bps
    if sample is not None:
        if history.fine and history.fine[-1][0] >= sample[0]:
            history.fine[-1] = sample  # two readings within one second: keep the newer
        else:
            history.fine.append(sample)
        _refresh_hour(history, sample_hour(sample[0]))
    return prune(history, ts)


def measured_hours(history: PortHistory) -> set[int]:
    return {int((sample[0] - 1) // COARSE_STEP) * COARSE_STEP for sample in history.fine}


def nominal_interval(fine: Sequence[Sample], interval: float | None) -> float:
    """The refresh interval the samples were taken at (given, else their median spacing)."""
    if interval:
        return float(interval)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(fine) if 0 < b[0] - a[0] <= MAX_SAMPLE_SPAN]
    return float(statistics.median(gaps)) if gaps else float(DEFAULT_INTERVAL)


Coverage = tuple[float, float, float | None, float | None]


def coverage(fine: Sequence[Sample], nominal: float, cap: float) -> list[Coverage]:
    """(start, end, rx, tx) time spans the fine samples stand for, ascending and disjoint.

    A sample covers back to the previous sample when that is at most `cap` seconds
    earlier, else (first sample, after a gap or reset) one nominal interval.
    """
    spans: list[Coverage] = []
    previous: float | None = None
    for ts, rx, tx in fine:
        if previous is not None and ts - previous <= cap:
            start = previous
        else:
            start = ts - nominal if previous is None else max(previous, ts - nominal)
        spans.append((start, float(ts), rx, tx))
        previous = ts
    return spans

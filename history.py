"""Per-WAN-port traffic history: counter deltas into samples, two resolution tiers, backfill.

Pure and stdlib-only (DATA.md §3.5, §4). Mist only gives cumulative byte counters and a
"last known" bps, so the worker turns each refresh's counters into a rate here. The
`fine` tier keeps one sample per refresh for 24 h (1 h / 6 h / 24 h charts); the `coarse`
tier keeps hourly averages for 7 days (7 d chart) and is where Mist's own insights
backfill lands, only in hours we did not measure ourselves.

A sample `(ts, rx_bps, tx_bps)` is the average rate over the refresh interval that ENDS
at `ts`. Functions update the given PortHistory in place (and return it) because the
worker runs them for tens of thousands of ports per refresh.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

RANGES: dict[str, int] = {"1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800}
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
MIN_STEP = 60
MAX_POINTS = 400
NICE_STEPS = (60, 120, 180, 300, 600, 900, 1200, 1800, 3600)
HOLE_HOURS = 3
"""Missing hours in a row that make a hole worth asking Mist to backfill (more than ~2 h)."""
DEFAULT_INTERVAL = 300

Sample = tuple[int, float | None, float | None]


@dataclass
class PortHistory:
    """Last counters seen plus the fine (per refresh) and coarse (hourly) sample tiers."""

    last_ts: float | None = None
    last_rx_bytes: int | None = None
    last_tx_bytes: int | None = None
    fine: list[Sample] = field(default_factory=list)
    coarse: list[Sample] = field(default_factory=list)


def _hour(ts: float) -> int:
    return int(ts // COARSE_STEP) * COARSE_STEP


def _sample_hour(ts: float) -> int:
    """The hour a fine sample measured: it ends at `ts`, so one ending on the hour
    belongs to the hour before (intervals are (start, ts])."""
    return _hour(ts - 1)


def measured_hour(ts: float) -> int:
    """The hour (start, epoch seconds) a fine sample taken at `ts` measured."""
    return _sample_hour(ts)


def _counter(value: int | None) -> int | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if value >= 0 and math.isfinite(value) else None


def _rate(before: int | None, after: int | None, seconds: float) -> float | None:
    """bits/s between two counter readings; None across a reset (counter went backwards)."""
    if before is None or after is None or after < before:
        return None
    return (after - before) * 8 / seconds


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _set_coarse(history: PortHistory, bucket: Sample) -> None:
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
        rx = _mean(sample[1] for sample in in_hour)
        tx = _mean(sample[2] for sample in in_hour)
        _set_coarse(history, (hour, rx, tx))


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
        by_hour.setdefault(_sample_hour(sample[0]), []).append(sample)
    return {
        hour: (_mean(s[1] for s in in_hour), _mean(s[2] for s in in_hour))
        for hour, in_hour in by_hour.items()
    }


def restore(
    *,
    last_ts: float | None,
    last_rx_bytes: int | None,
    last_tx_bytes: int | None,
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
        fine=list(samples),
        coarse=[(hour, rx, tx) for hour, (rx, tx) in sorted(coarse_by_hour.items())],
    )
    return prune(restored, pruned_at) if pruned_at is not None else restored


def _sample(
    last: PortHistory | PortState,
    ts: float,
    rx_bytes: int | None,
    tx_bytes: int | None,
    span: float,
) -> Sample | None:
    """The rate sample a reading at `ts` makes after the `last` one, if any: not on a first
    reading, after a gap longer than `span`, or when neither direction has a rate."""
    if last.last_ts is None or ts - last.last_ts > span:
        return None
    seconds = ts - last.last_ts
    rx = _rate(last.last_rx_bytes, rx_bytes, seconds)
    tx = _rate(last.last_tx_bytes, tx_bytes, seconds)
    return (int(ts), rx, tx) if rx is not None or tx is not None else None


def add_counters(
    history: PortHistory | None,
    *,
    ts: float,
    rx_bytes: int | None,
    tx_bytes: int | None,
    max_span: float = MAX_SAMPLE_SPAN,
) -> PortHistory:
    """Feed one refresh's cumulative counters; append a rate sample when one is known.

    No sample on the first reading, across a counter reset (that direction restarts its
    baseline), after a gap longer than `max_span`, or when both counters are missing
    (then the old baseline is kept, so the next delta still spans the right time). A
    duplicate or older `ts` is ignored entirely.
    """
    history = history if history is not None else PortHistory()
    rx_bytes, tx_bytes = _counter(rx_bytes), _counter(tx_bytes)
    if not math.isfinite(ts):
        return history
    if rx_bytes is None and tx_bytes is None:
        return prune(history, ts)
    if history.last_ts is not None and ts <= history.last_ts:
        return history
    sample = _sample(history, ts, rx_bytes, tx_bytes, max_span)
    history.last_ts, history.last_rx_bytes, history.last_tx_bytes = ts, rx_bytes, tx_bytes
    if sample is not None:
        if history.fine and history.fine[-1][0] >= sample[0]:
            history.fine[-1] = sample  # two readings within one second: keep the newer
        else:
            history.fine.append(sample)
        _refresh_hour(history, _sample_hour(sample[0]))
    return prune(history, ts)


def _measured_hours(history: PortHistory) -> set[int]:
    return {int((sample[0] - 1) // COARSE_STEP) * COARSE_STEP for sample in history.fine}


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
    oldest, newest = now - COARSE_KEEP, _hour(now)
    sums: dict[int, list[list[float]]] = {}
    for point in points:
        ts = point[0]
        if not isinstance(ts, int | float) or isinstance(ts, bool) or not math.isfinite(ts):
            continue
        last = ts + step - 1 if step > COARSE_STEP else ts  # a daily point spans its hours
        for hour in range(_hour(ts), _hour(last) + 1, COARSE_STEP):
            if hour <= oldest or hour > newest:
                continue
            rx_tx = sums.setdefault(hour, [[], []])
            for direction, value in ((0, point[1]), (1, point[2])):
                if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
                    rx_tx[direction].append(float(value))
    if window is None and points:
        times = [p[0] for p in points if isinstance(p[0], int | float)]
        window = (int(min(times)), int(max(times)) + step) if times else None
    if window is not None:
        first = -(-int(window[0]) // COARSE_STEP) * COARSE_STEP
        for hour in range(
            max(first, _hour(oldest) + COARSE_STEP), min(window[1], newest), COARSE_STEP
        ):
            if hour + COARSE_STEP <= window[1]:
                sums.setdefault(hour, [[], []])
    measured = _measured_hours(history)
    known = {
        sample[0] for sample in history.coarse if sample[1] is not None or sample[2] is not None
    }
    for hour in sorted(sums):
        if hour in measured or hour in known:
            continue
        rx_values, tx_values = sums[hour]
        _set_coarse(history, (hour, _mean(rx_values), _mean(tx_values)))
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
    current = _hour(now)
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


def _nominal_interval(fine: Sequence[Sample], interval: float | None) -> float:
    """The refresh interval the samples were taken at (given, else their median spacing)."""
    if interval:
        return float(interval)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(fine) if 0 < b[0] - a[0] <= MAX_SAMPLE_SPAN]
    return float(statistics.median(gaps)) if gaps else float(DEFAULT_INTERVAL)


Coverage = tuple[float, float, float | None, float | None]


def _coverage(fine: Sequence[Sample], nominal: float, cap: float) -> list[Coverage]:
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


VOLUME_HOURS = 25
"""Hours a 24 h window can touch: 24 whole ones and the partial one at its start."""

HourlyBytes = dict[int, tuple[float | None, float | None]]
"""Bytes (rx, tx) moved in each hour (h, h + 1 h], by the hour's start: what a volume sums.
The worker keeps the last VOLUME_HOURS of them with the port's counters, so the usual
refresh adds one sample's bytes here instead of reading the port's samples back."""


def _add_bytes(
    hours: HourlyBytes,
    start: float,
    end: float,
    rx: float | None,
    tx: float | None,
    covered: dict[int, float] | None = None,
) -> None:
    """Spread a span's rates (bits/s) over the hours it overlaps, as bytes; with `covered`,
    also add up the seconds of each hour the span covers."""
    hour = _hour(start)
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


def _keep_recent_hours(hours: HourlyBytes, now: float, seconds: int = 86400) -> HourlyBytes:
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
    nominal = _nominal_interval(fine, interval)
    covered: dict[int, float] = {}
    for start, end, rx, tx in _coverage(fine, nominal, MAX_SAMPLE_SPAN):
        if end <= lo - COARSE_STEP:
            continue
        _add_bytes(hours, start, end, rx, tx, covered)
    measured = _measured_hours(history)
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
            _add_bytes(hours, hour, hour + uncounted, rx, tx)
    return _keep_recent_hours(hours, now, seconds)


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


@dataclass
class PortState:
    """A port's counters, its running hourly bytes and whether it waits for backfill: all
    a usual refresh needs, without the port's samples."""

    last_ts: float | None = None
    last_rx_bytes: int | None = None
    last_tx_bytes: int | None = None
    hourly: HourlyBytes = field(default_factory=dict)
    needs_backfill: bool = False


def add_counters_to_state(
    state: PortState,
    *,
    ts: float,
    rx_bytes: int | None,
    tx_bytes: int | None,
    newest_bucket: int | None,
) -> tuple[PortState, Sample | None] | None:
    """`add_counters` for a port whose stored samples stay as they are: the new state and the
    sample to append (or None), exactly what the whole history would get.

    Returns None when that needs the whole history: the port waits for backfill, a hole of
    HOLE_HOURS could open, the new sample's time reaches an hour that holds a stored bucket
    (`newest_bucket`, which the measured value must replace), or two readings share a second.
    """
    rx_bytes, tx_bytes = _counter(rx_bytes), _counter(tx_bytes)
    if state.needs_backfill or not math.isfinite(ts):
        return None
    last_ts = state.last_ts
    if last_ts is not None:
        if ts <= last_ts:
            return (state, None)
        if (_sample_hour(ts) - _sample_hour(last_ts)) // COARSE_STEP - 1 >= HOLE_HOURS:
            return None
        if int(ts) == int(last_ts):
            return None
        if newest_bucket is not None and newest_bucket >= _hour(last_ts):
            return None
    if rx_bytes is None and tx_bytes is None:
        return (state, None)
    sample = _sample(state, ts, rx_bytes, tx_bytes, MAX_SAMPLE_SPAN)
    hourly = state.hourly
    if sample is not None and last_ts is not None:
        hourly = dict(hourly)
        _add_bytes(hourly, last_ts, ts, sample[1], sample[2])
    updated = PortState(
        last_ts=ts,
        last_rx_bytes=rx_bytes,
        last_tx_bytes=tx_bytes,
        hourly=_keep_recent_hours(hourly, ts),
        needs_backfill=False,
    )
    return (updated, sample)


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
    Mist-style hour buckets labelled by their start, from the coarse tier.
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
    return {
        "range": range_name,
        "step": step,
        "t": grid,
        "rx_bps": [None if v is None else round(v) for v in rx_out],
        "tx_bps": [None if v is None else round(v) for v in tx_out],
    }


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
    nominal = max(interval, _nominal_interval(history.fine, None) if len(history.fine) > 1 else 1.0)
    spans = _coverage(history.fine, nominal, 2 * nominal)
    measured = _measured_hours(history)
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
        elif (end <= fine_from or _sample_hour(end) not in measured) and _sample_hour(
            end
        ) in coarse:
            rx_out[k], tx_out[k] = coarse[_sample_hour(end)]

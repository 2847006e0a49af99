"""What one port's history keys need written this refresh (DATA.md §4).

The usual refresh appends one record to `:fine` and rewrites the home key; a port that is
new, due for a trim, or back from a gap is written whole. Buckets go to `:coarse` only for
hours `:fine` cannot give back (backfilled, trimmed away).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import redis

from history.samples import (
    FINE_KEEP,
    FINE_MAX_SAMPLES,
    OnJump,
    PortHistory,
    Sample,
    measured_buckets,
    measured_hour,
)
from history.state import PortState, add_counters_to_state
from history.volume import HourlyBytes, hourly_bytes
from store.histories import HistoryWrite, queue_history_write
from store.history_codec import (
    NO_ORG,
    StoredHistory,
    StoredState,
    as_float32,
    pack_samples,
    pack_state,
)
from store.keys import HISTORY_TTL, history_key

TRIM_EVERY = 2 * 3600  # a port's `:fine` key is rewritten about this often …
TRIM_AT_MOST = 3 * 3600  # … and holds at most this much beyond the fine tier
Buckets = dict[int, tuple[float | None, float | None]]


def trim_due(key: str, now: float, interval: int, oldest: int | None) -> bool:
    """Whether to rewrite `:fine` without the hours before the fine tier this refresh.

    About every TRIM_EVERY seconds per port, on a refresh picked by the key's hash so the
    ports of a big org do not all rewrite at once; always once `:fine` reaches TRIM_AT_MOST
    before the tier. Depends only on what the home key holds, so the usual refresh can tell
    without reading `:fine`.
    """
    if oldest is None:
        return False
    tier_start = now - min(FINE_KEEP, FINE_MAX_SAMPLES * max(1, interval))
    if oldest >= tier_start:
        return False
    if tier_start - oldest >= TRIM_AT_MOST:
        return True
    slots = max(1, TRIM_EVERY // max(1, interval))
    return (zlib.crc32(key.encode()) + int(now // max(1, interval))) % slots == 0


def expiry_after(last: float, now: float) -> int | None:
    """The one expiry rule: a port's history lives HISTORY_TTL after its newest reading;
    None when that time has passed (nothing to keep)."""
    expires_at = int(last) + HISTORY_TTL
    return expires_at if last and expires_at > now else None


def history_expiry(port_history: PortHistory, now: float) -> int | None:
    """Seven days after the newest sample (or now, when a new port has only counters)."""
    newest: list[float] = [ts for ts, _, _ in (*port_history.fine, *port_history.coarse)]
    if port_history.last_ts is not None:
        newest.append(port_history.last_ts)
    return expiry_after(max(newest) if newest else now, now)


@dataclass
class FinePlan:
    """`:fine` after this refresh: its records, and the command that gets it there."""

    samples: list[Sample]
    whole: bytes | None  # rewrite `:fine` with these records …
    append: bytes  # … or push these
    restarted: bool = False  # rewritten from the tier alone: what `:coarse` held is moot


def _new_samples(samples: list[Sample], tier: list[Sample]) -> list[Sample]:
    """The tier's samples `:fine` lacks (they join `samples`, as the reader will see them)."""
    last_stored = samples[-1][0] if samples else None
    new = [s for s in tier if last_stored is None or s[0] >= last_stored]
    if new and samples and samples[-1] == new[0]:
        new = new[1:]  # the stored last sample, unchanged
    if new and samples and new[0][0] == samples[-1][0]:
        samples[-1] = new[0]  # the reader lets the later record win
        samples.extend(new[1:])
    else:
        samples.extend(new)
    return new


def _plan_fine(
    key: str, stored: StoredHistory | None, tier: list[Sample], *, now: float, interval: int
) -> FinePlan:
    """Append what is new to `:fine`; rewrite it when it is new, lacks the tier's start, or
    is due for a trim (then without the hours before the tier)."""
    samples: list[Sample] = [] if stored is None else list(stored.samples)
    if stored is None or (tier and (not samples or samples[0][0] > tier[0][0])):
        return FinePlan(list(tier), pack_samples(tier), b"", restarted=True)
    new = _new_samples(samples, tier)
    first_kept = measured_hour(tier[0][0]) if tier else int(now) + 1
    if samples and samples[0][0] <= first_kept and trim_due(key, now, interval, samples[0][0]):
        kept = [s for s in samples if s[0] > first_kept]
        return FinePlan(kept, pack_samples(kept), b"")
    return FinePlan(samples, None, pack_samples(new))


def _same(a: tuple[float | None, float | None], b: tuple[float | None, float | None]) -> bool:
    return all(
        (x is None and y is None)
        or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-3))
        for x, y in zip(a, b, strict=True)
    )


def _needed_buckets(
    coarse: Iterable[Sample], samples: list[Sample], stored: Mapping[int, object]
) -> Buckets:
    """The hours `:coarse` must hold: those whose value `:fine` does not give back, and
    those it already holds (a later record must replace them)."""
    derived = measured_buckets(samples)
    needed: Buckets = {}
    for hour, rx, tx in coarse:
        recomputed = derived.get(hour)
        if recomputed is None or not _same(recomputed, (rx, tx)) or hour in stored:
            needed[hour] = (as_float32(rx), as_float32(tx))
    return needed


def _plan_coarse(
    needed: Buckets, stored: Buckets, rewrite: bool
) -> tuple[bytes | None, bytes, set]:
    """(whole `:coarse` or None, records to push, the hours it then holds)."""
    if rewrite:
        whole = pack_samples((hour, rx, tx) for hour, (rx, tx) in sorted(needed.items()))
        return whole, b"", set(needed)
    changed = [
        (hour, rx, tx)
        for hour, (rx, tx) in sorted(needed.items())
        if hour not in stored or not _same(stored[hour], (rx, tx))
    ]
    return None, pack_samples(changed), set(stored) | {hour for hour, _, _ in changed}


def plan_history_write(
    key: str,
    stored: StoredHistory | None,
    port_history: PortHistory,
    *,
    now: float,
    interval: int,
    pruned: bool = True,
    needs_backfill: bool = False,
    hourly: HourlyBytes | None = None,
    org: bytes = NO_ORG,
) -> HistoryWrite | None:
    """What to send so the keys hold `port_history` (pruned as of `now` unless `pruned` is
    False) as the history of `org` (an `org_tag`); None when it is older than the 7 days it
    may be kept. Usually: the new state and one appended sample. `hourly` is the port's
    `hourly_bytes` when already known."""
    expires_at = history_expiry(port_history, now)
    if expires_at is None:
        return None
    fine = _plan_fine(key, stored, port_history.fine, now=now, interval=interval)
    stored_buckets: Buckets = {} if fine.restarted or stored is None else stored.buckets
    needed = _needed_buckets(port_history.coarse, fine.samples, stored_buckets)
    coarse, append_coarse, bucket_hours = _plan_coarse(
        needed, stored_buckets, rewrite=fine.whole is not None
    )
    if hourly is None:
        hourly = hourly_bytes(port_history, now=now, interval=interval)
    state = pack_state(
        PortState(
            last_ts=port_history.last_ts,
            last_rx_bytes=port_history.last_rx_bytes,
            last_tx_bytes=port_history.last_tx_bytes,
            last_speed_bps=port_history.last_speed_bps,
            hourly=hourly,
            needs_backfill=needs_backfill,
        ),
        pruned_at=float(now) if pruned else None,
        fine_oldest=fine.samples[0][0] if fine.samples else None,
        newest_bucket=max(bucket_hours, default=None),
        org=org,
    )
    return HistoryWrite(
        expires_at=expires_at,
        state=None if stored is not None and stored.home.raw == state else state,
        append_fine=fine.append,
        fine=fine.whole,
        append_coarse=append_coarse,
        coarse=coarse,
    )


def plan_counters_write(
    key: str,
    stored: StoredState,
    *,
    now: float,
    interval: int,
    rx_bytes: int | None,
    tx_bytes: int | None,
    speed_bps: float | None = None,
    on_jump: OnJump | None = None,
) -> tuple[HistoryWrite | None, PortState] | None:
    """The usual refresh of a port from its home key alone: its new state and the one
    record to append, the same as `plan_history_write` would send for the whole history
    (`speed_bps` and `on_jump` as for `add_counters`).

    None when the whole history is needed: `:fine` is due for a trim, or
    `add_counters_to_state` says so (backfill, a possible hole, a stored bucket).
    """
    if trim_due(key, now, interval, stored.fine_oldest):
        return None
    added = add_counters_to_state(
        stored.state,
        ts=now,
        rx_bytes=rx_bytes,
        tx_bytes=tx_bytes,
        newest_bucket=stored.newest_bucket,
        speed_bps=speed_bps,
        on_jump=on_jump,
    )
    if added is None:
        return None
    state, sample = added
    expires_at = expiry_after(max(state.last_ts or 0.0, float(stored.newest_bucket or 0)), now)
    if expires_at is None:
        return (None, state)
    packed = pack_state(
        state,
        pruned_at=now,
        fine_oldest=stored.fine_oldest or (sample[0] if sample else None),
        newest_bucket=stored.newest_bucket,
        org=stored.org,
    )
    record = pack_samples([sample]) if sample else b""
    first_record = stored.fine_oldest is None  # `:fine` starts now: written whole, with its TTL
    write = HistoryWrite(
        expires_at=expires_at,
        state=None if packed == stored.raw else packed,
        append_fine=b"" if first_record else record,
        fine=record if first_record and record else None,
    )
    return (write, state)


def write_port_histories(
    client: redis.Redis,
    histories: Mapping[tuple[str, str], PortHistory],
    *,
    now: float,
    interval: int,
    chunk: int = 1000,
    org: bytes = NO_ORG,
) -> int:
    """Store whole histories outside a refresh (seeding a benchmark or a test) as `org`'s;
    returns ports written. Each chunk is one transaction, so a reader never sees a port half
    written."""
    written = 0
    ports = list(histories)
    for start in range(0, len(ports), chunk):
        pipe = client.pipeline(transaction=True)
        for port in ports[start : start + chunk]:
            key = history_key(*port)
            write = plan_history_write(
                key, None, histories[port], now=now, interval=interval, pruned=False, org=org
            )
            if write is not None:
                queue_history_write(pipe, key, write)
                written += 1
        pipe.execute()
    return written

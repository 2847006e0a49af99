"""A port's traffic history as bytes (DATA.md §4): 12-byte sample records and the home key.

One packer and one unpacker for samples, and the one NaN rule: a missing value (None) is
stored as NaN and read back as None. Only format 4 is read: an older home key reads as
absent, and the port is written whole again.
"""

from __future__ import annotations

import hashlib
import math
import struct
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from history.samples import COARSE_STEP, Sample
from history.state import PortState
from history.volume import VOLUME_HOURS, HourlyBytes

RECORD = struct.Struct("<Iff")  # uint32 time, float32 rx, float32 tx
# format 4, last_ts, last_rx_bytes, last_tx_bytes, last_speed_bps, pruned_at, oldest `:fine`
# record, newest `:coarse` hour, flags, org, newest hour of the running bytes, then
# 25 × (rx, tx) bytes
STATE = struct.Struct("<BdddddIIB16sI" + "ff" * VOLUME_HOURS)
STATE_VERSION = 4
NEEDS_BACKFILL = 1
NO_ORG = bytes(16)


def org_tag(org_id: str) -> bytes:
    """The 16 bytes a history names its org by: a Mist org id's own UUID bytes (any other
    text, as tests use, by its BLAKE2 digest); NO_ORG for none."""
    if not org_id:
        return NO_ORG
    try:
        return uuid.UUID(org_id).bytes
    except ValueError:
        return hashlib.blake2b(org_id.encode(), digest_size=16).digest()


def to_stored(value: float | None) -> float:
    """None is stored as NaN."""
    return math.nan if value is None else float(value)


def from_stored(value: float) -> float | None:
    """NaN reads back as None."""
    return None if math.isnan(value) else value


def _count(value: float) -> int | None:
    found = from_stored(value)
    return None if found is None else int(found)


def pack_samples(samples: Iterable[Sample]) -> bytes:
    """Samples (or hourly buckets) as consecutive 12-byte records."""
    pack = RECORD.pack
    return b"".join(pack(int(ts), to_stored(rx), to_stored(tx)) for ts, rx, tx in samples)


def unpack_samples(blob: bytes, *, ordered: bool = True) -> list[Sample]:
    """Records back as samples; a partial trailing record (a torn write) is ignored.

    `ordered` (`:fine`): a record with the same time as the one before replaces it (two
    readings within a second) and one older than it is dropped. Otherwise (`:coarse`) the
    records come as appended, in any order.
    """
    whole = len(blob) - len(blob) % RECORD.size
    samples: list[Sample] = []
    for ts, rx, tx in RECORD.iter_unpack(blob[:whole]):
        sample = (ts, from_stored(rx), from_stored(tx))
        if ordered and samples and samples[-1][0] >= ts:
            if samples[-1][0] == ts:
                samples[-1] = sample
            continue
        samples.append(sample)
    return samples


def records(packed: bytes) -> list[bytes]:
    """Packed samples as list elements, one 12-byte record each."""
    size = RECORD.size
    return [packed[start : start + size] for start in range(0, len(packed), size)]


def as_float32(value: float | None) -> float | None:
    """The value as a float32 record gives it back (what a reader will see)."""
    if value is None:
        return None
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


@dataclass(frozen=True)
class StoredState:
    """A port's home key alone: what the usual refresh reads (a few hundred bytes, not a week
    of samples)."""

    state: PortState
    pruned_at: float | None  # when the writer last pruned the tiers
    fine_oldest: int | None  # time of the oldest `:fine` record
    newest_bucket: int | None  # newest hour `:coarse` holds
    raw: bytes
    org: bytes = NO_ORG  # `org_tag` of the org whose counters these are


def pack_state(
    state: PortState,
    *,
    pruned_at: float | None,
    fine_oldest: int | None,
    newest_bucket: int | None,
    org: bytes = NO_ORG,
) -> bytes:
    """The home key's bytes: counters, the speed they were read at, tier facts, the org
    (`org_tag`) and the last VOLUME_HOURS of hourly bytes."""
    slots = [math.nan] * (2 * VOLUME_HOURS)
    hourly = sorted(state.hourly.items())[-VOLUME_HOURS:]
    newest = hourly[-1][0] if hourly else 0
    for hour, (rx, tx) in hourly:
        slot = VOLUME_HOURS - 1 - (newest - hour) // COARSE_STEP
        if slot >= 0:
            slots[2 * slot], slots[2 * slot + 1] = to_stored(rx), to_stored(tx)
    return STATE.pack(
        STATE_VERSION,
        to_stored(state.last_ts),
        to_stored(state.last_rx_bytes),
        to_stored(state.last_tx_bytes),
        to_stored(state.last_speed_bps),
        to_stored(pruned_at),
        fine_oldest or 0,
        newest_bucket or 0,
        NEEDS_BACKFILL if state.needs_backfill else 0,
        org,
        newest,
        *slots,
    )


def unpack_state(home: bytes) -> StoredState:
    """The inverse of pack_state; raises ValueError on bytes we did not write."""
    if len(home) != STATE.size or home[0] != STATE_VERSION:
        raise ValueError("not a port history written by this version")
    fields: tuple[Any, ...] = STATE.unpack(home)
    _, last_ts, last_rx, last_tx, speed, pruned_at, fine_oldest, newest_bucket = fields[:8]
    flags, org, newest = fields[8:11]
    slots = fields[11:]
    hourly: HourlyBytes = {}
    for slot in range(VOLUME_HOURS):
        rx, tx = from_stored(slots[2 * slot]), from_stored(slots[2 * slot + 1])
        if rx is not None or tx is not None:
            hourly[newest - (VOLUME_HOURS - 1 - slot) * COARSE_STEP] = (rx, tx)
    state = PortState(
        last_ts=from_stored(last_ts),
        last_rx_bytes=_count(last_rx),
        last_tx_bytes=_count(last_tx),
        last_speed_bps=from_stored(speed),
        hourly=hourly,
        needs_backfill=bool(flags & NEEDS_BACKFILL),
    )
    return StoredState(
        state=state,
        pruned_at=from_stored(pruned_at),
        fine_oldest=fine_oldest or None,
        newest_bucket=newest_bucket or None,
        raw=bytes(home),
        org=bytes(org),
    )


@dataclass(frozen=True)
class StoredHistory:
    """A port's three keys as read: the home key's state, every `:fine` record (the pruned
    ones included) and the `:coarse` buckets (later records winning)."""

    home: StoredState
    samples: tuple[Sample, ...]
    buckets: dict[int, tuple[float | None, float | None]]


def unpack_history(home: bytes, fine: bytes, coarse: bytes) -> StoredHistory:
    """A port's history from its three keys; raises ValueError on a home key we did not write."""
    buckets = {hour: (rx, tx) for hour, rx, tx in unpack_samples(coarse, ordered=False)}
    return StoredHistory(unpack_state(home), tuple(unpack_samples(fine)), buckets)

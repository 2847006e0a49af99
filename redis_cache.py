"""Everything Redis holds: key names, TTLs, encodings, the atomic publish and the reads.

The worker writes through this module and the web app reads through it; nobody else knows a
key name. What the web serves is stored ready to send (compact JSON plus a gzip twin and an
ETag), so a request costs one round trip and no JSON work. See docs/DATA.md §2.
"""

from __future__ import annotations

import csv
import enum
import gzip
import hashlib
import io
import json
import math
import struct
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import redis
from redis.commands import CoreCommands
from redis.exceptions import ExecAbortError

import history

PREFIX = "mist:"
KEY_ORG = "mist:org"
KEY_SITES = "mist:sites"
KEY_GATEWAYS = "mist:gateways"
KEY_GATEWAY_ROWS = "mist:gateways:rows"
KEY_EXPORT_CSV = "mist:export:csv"
KEY_VPN_PEERS_ALL = "mist:vpn_peers:all"
KEY_INSIGHTS_ALL = "mist:insights:all"
KEY_LAST_UPDATE = "mist:metadata:last_update"
KEY_WORKER_STATUS = "mist:metadata:worker_status"
KEY_STATUS = "mist:metadata:status"
KEY_ETAGS = "mist:metadata:etags"
KEY_HEARTBEAT = "mist:metadata:heartbeat"
KEY_LOCK = "mist:lock:worker"
GZ_SUFFIX = ":gz"
HISTORY_TTL = 7 * 86400
CONFIG_TTL = 7 * 86400
HEARTBEAT_PERIOD = 10
_MGET_CHUNK = 1000


class Dataset(enum.Enum):
    """The ready-made documents the web app serves."""

    ORG = "org"
    SITES = "sites"
    GATEWAYS = "gateways"
    GATEWAY_ROWS = "gateway_rows"
    EXPORT_CSV = "export_csv"
    VPN_PEERS_ALL = "vpn_peers_all"
    INSIGHTS_ALL = "insights_all"
    STATUS = "status"


DATASET_KEYS: dict[Dataset, str] = {
    Dataset.ORG: KEY_ORG,
    Dataset.SITES: KEY_SITES,
    Dataset.GATEWAYS: KEY_GATEWAYS,
    Dataset.GATEWAY_ROWS: KEY_GATEWAY_ROWS,
    Dataset.EXPORT_CSV: KEY_EXPORT_CSV,
    Dataset.VPN_PEERS_ALL: KEY_VPN_PEERS_ALL,
    Dataset.INSIGHTS_ALL: KEY_INSIGHTS_ALL,
    Dataset.STATUS: KEY_STATUS,
}


@dataclass(frozen=True)
class Served:
    """A body ready to send with its ETag; `body` is gzip bytes when `gzipped`."""

    body: bytes
    etag: str
    gzipped: bool


@dataclass
class Publication:
    """Everything one successful refresh makes visible, published in a single transaction."""

    org: Any
    sites: Any
    gateways: Any
    vpn_peers_all: Any
    insights_all: Any
    peer_paths: Mapping[tuple[str, str], Any]
    histories: Mapping[tuple[str, str], history.PortHistory]
    now: float
    # what changed in each port's stored history (plan_history_write): appends, mostly
    history_writes: Mapping[tuple[str, str], HistoryWrite] = field(default_factory=dict)
    # the page's table (DATA.md §3.6) and each gateway's own JSON, ready to send
    gateway_rows: Any = None
    gateway_details: Mapping[str, bytes] = field(default_factory=dict)
    # /api/export.csv, encoded with CsvEncoder
    export_csv: bytes | None = None


# ---------------------------------------------------------------- encodings


class EncodedJson(bytes):
    """JSON the caller already encoded with encode_json (publish stores it as is)."""


def encode_json(document: Any) -> bytes:
    """Compact UTF-8 JSON (DATA.md §2): what the web sends byte for byte."""
    if isinstance(document, bytes):  # already encoded (EncodedJson or encode_json's own bytes)
        return document
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Sink(Protocol):
    """Where the document writers put their bytes: a BytesIO, or a ServedDocument that
    sends them into the publish transaction as they come."""

    def write(self, data: bytes, /) -> Any: ...


def write_json_document(
    sink: Sink, head: Mapping[str, Any], name: str, items: Iterable[Any]
) -> None:
    """encode_json({**head, name: list(items)}) byte for byte into `sink`, one item at a
    time (the list is the document's last member)."""
    opening = encode_json({**head, name: []})
    assert opening.endswith(b"[]}")  # the list is the last member by construction
    sink.write(opening[:-2])
    for index, item in enumerate(items):
        if index:
            sink.write(b",")
        sink.write(encode_json(item))
    sink.write(b"]}")


def encode_json_document(head: Mapping[str, Any], name: str, items: Iterable[Any]) -> bytes:
    """encode_json({**head, name: list(items)}) byte for byte, one item at a time.

    Encoding a 25 MB document in one go holds its pieces, their join and the UTF-8 copy at
    once; item by item, only the finished bytes grow.
    """
    out = io.BytesIO()
    write_json_document(out, head, name, items)
    return out.getvalue()


def write_json_object(sink: Sink, members: Iterable[tuple[str, Any]]) -> None:
    """encode_json(dict(members)) byte for byte into `sink` (keys unique, in order)."""
    sink.write(b"{")
    for index, (key, value) in enumerate(members):
        if index:
            sink.write(b",")
        sink.write(encode_json(key))
        sink.write(b":")
        sink.write(encode_json(value))
    sink.write(b"}")


def encode_json_object(members: Iterable[tuple[str, Any]]) -> bytes:
    """encode_json(dict(members)) byte for byte (keys unique, in order), member by member."""
    out = io.BytesIO()
    write_json_object(out, members)
    return out.getvalue()


class _Utf8:
    """What csv.writer writes to: each row's text on to a byte sink as UTF-8."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def write(self, text: str) -> int:
        self._sink.write(text.encode("utf-8"))
        return len(text)


class CsvEncoder:
    """CSV bytes built row by row: UTF-8 with a BOM (so Excel reads accents right), CRLF.

    Rows are added as the gateway records stream past and leave as UTF-8 at once, into
    `sink` when given (a ServedDocument), else into bytes for encoded(): no row list, and
    no text copy of the whole file (a str with one accent takes 2-4 bytes a char).
    """

    def __init__(self, columns: Sequence[str], sink: Sink | None = None) -> None:
        self._bytes = io.BytesIO() if sink is None else None
        target: Sink = sink if sink is not None else self._bytes  # type: ignore[assignment]
        target.write("\ufeff".encode())
        self._writer = csv.writer(_Utf8(target), lineterminator="\r\n")
        self._writer.writerow(columns)

    def add(self, row: Iterable[str]) -> None:
        self._writer.writerow(row)

    def encoded(self) -> bytes:
        if self._bytes is None:
            raise ValueError("this CSV went to its sink, not into bytes")
        return self._bytes.getvalue()


def encode_csv(columns: Sequence[str], rows: Iterable[Iterable[str]]) -> bytes:
    """The whole CSV at once (see CsvEncoder)."""
    encoder = CsvEncoder(columns)
    for row in rows:
        encoder.add(row)
    return encoder.encoded()


def gzip_bytes(body: bytes) -> bytes:
    """Deterministic gzip (mtime 0) so identical bodies give identical twins."""
    return gzip.compress(body, compresslevel=6, mtime=0)


def _gzip_stream() -> Any:
    """gzip_bytes a piece at a time: the same parameters give the same bytes."""
    return zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip header with mtime 0


def etag_of(body: bytes) -> str:
    """A short quoted hash of the bytes, as sent in the ETag header."""
    return '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'


_HISTORY_HEADER = struct.Struct("<BdddHH")
_HISTORY_SAMPLE = struct.Struct("<Iff")
_HISTORY_VERSION = 1


def _float_or_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else value


def encode_history(port_history: history.PortHistory) -> bytes:
    """Packed little-endian binary (DATA.md §4): header, then uint32 ts + float32 rx/tx samples."""
    fine = list(port_history.fine)
    coarse = list(port_history.coarse)
    pack = _HISTORY_SAMPLE.pack
    parts = [
        _HISTORY_HEADER.pack(
            _HISTORY_VERSION,
            _float_or_nan(port_history.last_ts),
            _float_or_nan(port_history.last_rx_bytes),
            _float_or_nan(port_history.last_tx_bytes),
            len(fine),
            len(coarse),
        )
    ]
    nan = math.nan
    parts.extend(
        pack(int(ts), nan if rx_bps is None else rx_bps, nan if tx_bps is None else tx_bps)
        for ts, rx_bps, tx_bps in (*fine, *coarse)
    )
    return b"".join(parts)


def decode_history(blob: bytes) -> history.PortHistory:
    """The inverse of encode_history; raises ValueError on bytes we did not write."""
    if len(blob) < _HISTORY_HEADER.size or blob[0] != _HISTORY_VERSION:
        raise ValueError("not a port history written by this version")
    _, last_ts, last_rx, last_tx, n_fine, n_coarse = _HISTORY_HEADER.unpack_from(blob)
    expected = _HISTORY_HEADER.size + (n_fine + n_coarse) * _HISTORY_SAMPLE.size
    if len(blob) != expected:
        raise ValueError("port history has the wrong length")
    samples = [
        (ts, None if rx_bps != rx_bps else rx_bps, None if tx_bps != tx_bps else tx_bps)  # NaN
        for ts, rx_bps, tx_bps in _HISTORY_SAMPLE.iter_unpack(blob[_HISTORY_HEADER.size :])
    ]
    last_rx_bytes = _nan_to_none(last_rx)
    last_tx_bytes = _nan_to_none(last_tx)
    return history.PortHistory(
        last_ts=_nan_to_none(last_ts),
        last_rx_bytes=None if last_rx_bytes is None else int(last_rx_bytes),
        last_tx_bytes=None if last_tx_bytes is None else int(last_tx_bytes),
        fine=samples[:n_fine],
        coarse=samples[n_fine:],
    )


# Since format 2 a port's history lives in three keys, so a refresh appends instead of
# rewriting a week of samples (DATA.md §4): the home key holds the counters state, `:fine`
# the samples, one packed record pushed per refresh, `:coarse` the hourly buckets that
# cannot be recomputed from `:fine`, pushed too. Both companions are lists of 12-byte
# records rather than appended strings: Redis grows an appended string greedily (up to twice
# its length), a list by the record. Both are rewritten, trimmed, about every two hours per
# port (spread over the refreshes by the key's hash).
_STATE_V2 = struct.Struct("<Bdddd")  # version 2, last_ts, last_rx_bytes, last_tx_bytes, pruned_at
_STATE_V2_VERSION = 2
# Since format 3 the home key also says what the usual refresh needs without reading the
# samples back: the oldest `:fine` record, the newest `:coarse` hour, whether backfill is
# pending, and the running bytes of the last VOLUME_HOURS hours (the 24 h volume).
_STATE = struct.Struct("<BddddIIBI" + "ff" * history.VOLUME_HOURS)
_STATE_VERSION = 3
_NEEDS_BACKFILL = 1
FINE_SUFFIX = ":fine"
COARSE_SUFFIX = ":coarse"
TRIM_EVERY = 2 * 3600  # a port's `:fine` key is rewritten about this often …
TRIM_AT_MOST = 3 * 3600  # … and holds at most this much beyond the fine tier
COMPANION_SLACK = TRIM_AT_MOST  # companions outlive the home key by at most this


@dataclass(frozen=True)
class StoredHistory:
    """A port's history as read, plus what its keys held (to write only what changed)."""

    history: history.PortHistory
    state: bytes | None  # the home key's bytes; None for a history stored in format 1
    samples: tuple[Sample, ...]  # every record of `:fine`, the pruned ones included
    buckets: dict[int, tuple[float | None, float | None]]  # `:coarse`, later records winning


@dataclass(frozen=True)
class HistoryWrite:
    """The commands one port's history needs this refresh (publish sends them)."""

    expires_at: int
    state: bytes | None = None  # new home key value, when it changed
    append_fine: bytes = b""
    fine: bytes | None = None  # a whole new `:fine` (new port, trim, or format 1 before)
    append_coarse: bytes = b""
    coarse: bytes | None = None  # a whole new `:coarse`


Sample = tuple[int, float | None, float | None]


def _pack_samples(samples: Iterable[Sample]) -> bytes:
    pack = _HISTORY_SAMPLE.pack
    nan = math.nan
    return b"".join(
        pack(int(ts), nan if rx is None else rx, nan if tx is None else tx)
        for ts, rx, tx in samples
    )


def _unpack_samples(blob: bytes) -> list[Sample]:
    """Records in order; a partial trailing record (a torn write) is ignored, and a record
    with the same time as the one before replaces it (two readings within a second)."""
    whole = len(blob) - len(blob) % _HISTORY_SAMPLE.size
    samples: list[Sample] = []
    for ts, rx, tx in _HISTORY_SAMPLE.iter_unpack(blob[:whole]):
        sample = (ts, None if rx != rx else rx, None if tx != tx else tx)  # NaN is None
        if samples and samples[-1][0] >= ts:
            if samples[-1][0] > ts:
                continue  # out of order: not something we write
            samples[-1] = sample
        else:
            samples.append(sample)
    return samples


def _f32(value: float | None) -> float | None:
    """The value as a float32 record gives it back (what a reader will see)."""
    if value is None:
        return None
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def _same(a: tuple[float | None, float | None], b: tuple[float | None, float | None]) -> bool:
    return all(
        (x is None and y is None)
        or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-3))
        for x, y in zip(a, b, strict=True)
    )


def _counters(
    last_ts: float, last_rx: float, last_tx: float
) -> tuple[float | None, int | None, int | None]:
    """(last_ts, last_rx_bytes, last_tx_bytes) from their stored doubles (NaN = none)."""
    rx, tx = _nan_to_none(last_rx), _nan_to_none(last_tx)
    return _nan_to_none(last_ts), None if rx is None else int(rx), None if tx is None else int(tx)


def decode_stored_history(
    home: bytes | None, fine: bytes | None, coarse: bytes | None
) -> StoredHistory | None:
    """A port's history from its three keys (or a format-1 blob in the home key)."""
    if not home:
        return None
    if home[0] == _HISTORY_VERSION:
        legacy = decode_history(home)
        return StoredHistory(legacy, None, (), {})
    if home[0] == _STATE_VERSION and len(home) == _STATE.size:
        _, last_ts, last_rx, last_tx, pruned_at, *_rest = _STATE.unpack(home)
    elif home[0] == _STATE_V2_VERSION and len(home) == _STATE_V2.size:
        _, last_ts, last_rx, last_tx, pruned_at = _STATE_V2.unpack(home)
    else:
        raise ValueError("not a port history written by this version")
    samples = _unpack_samples(fine or b"")
    buckets = {hour: (rx, tx) for hour, rx, tx in _unpack_samples_any_order(coarse or b"")}
    counters = _counters(last_ts, last_rx, last_tx)
    restored = history.restore(
        last_ts=counters[0],
        last_rx_bytes=counters[1],
        last_tx_bytes=counters[2],
        samples=samples,
        stored_buckets=[(hour, rx, tx) for hour, (rx, tx) in buckets.items()],
        pruned_at=_nan_to_none(pruned_at),
    )
    return StoredHistory(restored, bytes(home), tuple(samples), buckets)


@dataclass(frozen=True)
class StoredState:
    """A port's home key alone: what the usual refresh reads (a few hundred bytes, not a week
    of samples)."""

    state: history.PortState
    fine_oldest: int | None  # time of the oldest `:fine` record
    newest_bucket: int | None  # newest hour `:coarse` holds
    raw: bytes


def _pack_state(
    state: history.PortState,
    *,
    pruned_at: float | None,
    fine_oldest: int | None,
    newest_bucket: int | None,
) -> bytes:
    slots = [math.nan] * (2 * history.VOLUME_HOURS)
    hourly = sorted(state.hourly.items())[-history.VOLUME_HOURS :]
    newest = hourly[-1][0] if hourly else 0
    for hour, (rx, tx) in hourly:
        slot = history.VOLUME_HOURS - 1 - (newest - hour) // history.COARSE_STEP
        if slot >= 0:
            slots[2 * slot], slots[2 * slot + 1] = _float_or_nan(rx), _float_or_nan(tx)
    return _STATE.pack(
        _STATE_VERSION,
        _float_or_nan(state.last_ts),
        _float_or_nan(state.last_rx_bytes),
        _float_or_nan(state.last_tx_bytes),
        _float_or_nan(pruned_at),
        fine_oldest or 0,
        newest_bucket or 0,
        _NEEDS_BACKFILL if state.needs_backfill else 0,
        newest,
        *slots,
    )


def decode_state(home: bytes) -> StoredState | None:
    """The home key of format 3; None for an older format (whose refresh reads everything)."""
    if len(home) != _STATE.size or home[0] != _STATE_VERSION:
        return None
    _, last_ts, last_rx, last_tx, _pruned, fine_oldest, newest_bucket, flags, newest, *slots = (
        _STATE.unpack(home)
    )
    hourly: history.HourlyBytes = {}
    for slot in range(history.VOLUME_HOURS):
        rx, tx = _nan_to_none(slots[2 * slot]), _nan_to_none(slots[2 * slot + 1])
        if rx is not None or tx is not None:
            hour = newest - (history.VOLUME_HOURS - 1 - slot) * history.COARSE_STEP
            hourly[hour] = (rx, tx)
    last = _counters(last_ts, last_rx, last_tx)
    return StoredState(
        state=history.PortState(
            last_ts=last[0],
            last_rx_bytes=last[1],
            last_tx_bytes=last[2],
            hourly=hourly,
            needs_backfill=bool(flags & _NEEDS_BACKFILL),
        ),
        fine_oldest=fine_oldest or None,
        newest_bucket=newest_bucket or None,
        raw=bytes(home),
    )


def _unpack_samples_any_order(blob: bytes) -> list[Sample]:
    """Bucket records as appended (hours in any order); a partial trailing record is ignored."""
    whole = len(blob) - len(blob) % _HISTORY_SAMPLE.size
    return [
        (hour, None if rx != rx else rx, None if tx != tx else tx)
        for hour, rx, tx in _HISTORY_SAMPLE.iter_unpack(blob[:whole])
    ]


def _trim_due(key: str, now: float, interval: int, oldest: int | None) -> bool:
    """Whether to rewrite `:fine` without the hours before the fine tier this refresh.

    About every TRIM_EVERY seconds per port, on a refresh picked by the key's hash so the
    ports of a big org do not all rewrite at once; always once `:fine` reaches TRIM_AT_MOST
    before the tier. Depends only on what the home key holds, so the usual refresh can tell
    without reading `:fine`.
    """
    if oldest is None:
        return False
    tier_start = now - min(history.FINE_KEEP, history.FINE_MAX_SAMPLES * max(1, interval))
    if oldest >= tier_start:
        return False
    if tier_start - oldest >= TRIM_AT_MOST:
        return True
    slots = max(1, TRIM_EVERY // max(1, interval))
    return (zlib.crc32(key.encode()) + int(now // max(1, interval))) % slots == 0


def plan_history_write(
    key: str,
    stored: StoredHistory | None,
    port_history: history.PortHistory,
    *,
    now: float,
    interval: int,
    pruned: bool = True,
    needs_backfill: bool = False,
    hourly: history.HourlyBytes | None = None,
) -> HistoryWrite | None:
    """What to send so the keys hold `port_history` (pruned as of `now` unless `pruned` is
    False); None when it is older than the 7 days it may be kept. Usually: the new state and
    one appended sample. `hourly` is the port's `history.hourly_bytes` when already known."""
    expires_at = _history_expiry(port_history, now)
    if expires_at is None:
        return None
    fine_tier = port_history.fine
    whole = stored is None or stored.state is None
    samples: list[Sample] = [] if stored is None else list(stored.samples)
    last_stored = samples[-1][0] if samples else None
    new_samples = [s for s in fine_tier if last_stored is None or s[0] >= last_stored]
    if not whole and new_samples and samples and samples[-1] == new_samples[0]:
        new_samples = new_samples[1:]  # the stored last sample, unchanged
    fine: bytes | None = None
    append_fine = b""
    first_kept = history.measured_hour(fine_tier[0][0]) if fine_tier else int(now) + 1
    if whole or (fine_tier and (not samples or samples[0][0] > fine_tier[0][0])):
        whole = True  # new, format 1, or `:fine` lacks the tier's start (expired, cut short)
        samples = list(fine_tier)
        fine = _pack_samples(samples)
    else:
        if new_samples and samples and new_samples[0][0] == samples[-1][0]:
            samples[-1] = new_samples[0]  # the reader lets the later record win
            samples.extend(new_samples[1:])
        else:
            samples.extend(new_samples)
        if samples and samples[0][0] <= first_kept and _trim_due(key, now, interval, samples[0][0]):
            samples = [s for s in samples if s[0] > first_kept]
            fine = _pack_samples(samples)
        else:
            append_fine = _pack_samples(new_samples)
    # Buckets: the reader recomputes an hour from `:fine` unless `:coarse` holds it, so only
    # hours whose value differs from that recomputation (backfilled, trimmed away) are stored.
    derived = history.measured_buckets(samples)
    stored_buckets = {} if whole or stored is None else stored.buckets
    needed: dict[int, tuple[float | None, float | None]] = {}
    for hour, rx, tx in port_history.coarse:
        recomputed = derived.get(hour)
        if recomputed is None or not _same(recomputed, (rx, tx)) or hour in stored_buckets:
            needed[hour] = (_f32(rx), _f32(tx))
    coarse: bytes | None = None
    append_coarse = b""
    if fine is not None or whole:
        coarse = _pack_samples((hour, rx, tx) for hour, (rx, tx) in sorted(needed.items()))
        bucket_hours = set(needed)
    else:
        changed = [
            (hour, rx, tx)
            for hour, (rx, tx) in sorted(needed.items())
            if hour not in stored_buckets or not _same(stored_buckets[hour], (rx, tx))
        ]
        append_coarse = _pack_samples(changed)
        bucket_hours = set(stored_buckets) | {hour for hour, _, _ in changed}
    if hourly is None:
        hourly = history.hourly_bytes(port_history, now=now, interval=interval)
    state = _pack_state(
        history.PortState(
            last_ts=port_history.last_ts,
            last_rx_bytes=port_history.last_rx_bytes,
            last_tx_bytes=port_history.last_tx_bytes,
            hourly=hourly,
            needs_backfill=needs_backfill,
        ),
        pruned_at=float(now) if pruned else None,
        fine_oldest=samples[0][0] if samples else None,
        newest_bucket=max(bucket_hours, default=None),
    )
    return HistoryWrite(
        expires_at=expires_at,
        state=None if stored is not None and stored.state == state else state,
        append_fine=append_fine,
        fine=fine,
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
) -> tuple[HistoryWrite | None, history.PortState] | None:
    """The usual refresh of a port from its home key alone: its new state and the one
    record to append, the same as `plan_history_write` would send for the whole history.

    None when the whole history is needed: `:fine` is due for a trim, or
    `history.add_counters_to_state` says so (backfill, a possible hole, a stored bucket).
    """
    if _trim_due(key, now, interval, stored.fine_oldest):
        return None
    added = history.add_counters_to_state(
        stored.state,
        ts=now,
        rx_bytes=rx_bytes,
        tx_bytes=tx_bytes,
        newest_bucket=stored.newest_bucket,
    )
    if added is None:
        return None
    state, sample = added
    last = max(state.last_ts or 0.0, float(stored.newest_bucket or 0))
    expires_at = int(last) + HISTORY_TTL
    if not last or expires_at <= now:
        return (None, state)
    packed = _pack_state(
        state,
        pruned_at=now,
        fine_oldest=stored.fine_oldest or (sample[0] if sample else None),
        newest_bucket=stored.newest_bucket,
    )
    record = _pack_samples([sample]) if sample else b""
    first_record = stored.fine_oldest is None  # `:fine` starts now: written whole, with its TTL
    write = HistoryWrite(
        expires_at=expires_at,
        state=None if packed == stored.raw else packed,
        append_fine=b"" if first_record else record,
        fine=record if first_record and record else None,
    )
    return (write, state)


def _history_commands(pipe: Any, key: str, write: HistoryWrite) -> None:
    """Queue one port's history commands (inside publish's transaction)."""
    companions_expire = write.expires_at + COMPANION_SLACK
    if write.state is not None:
        pipe.set(key, write.state, exat=write.expires_at)
    for suffix, whole, appended in (
        (FINE_SUFFIX, write.fine, write.append_fine),
        (COARSE_SUFFIX, write.coarse, write.append_coarse),
    ):
        if whole is not None:
            pipe.delete(key + suffix)
            if whole:
                pipe.rpush(key + suffix, *_records(whole))
                pipe.expireat(key + suffix, companions_expire)
        elif appended:
            pipe.rpush(key + suffix, *_records(appended))


def _records(packed: bytes) -> list[bytes]:
    """Packed samples as list elements, one 12-byte record each."""
    size = _HISTORY_SAMPLE.size
    return [packed[start : start + size] for start in range(0, len(packed), size)]


# ---------------------------------------------------------------- key names


def peer_paths_key(gateway_id: str, mac: str) -> str:
    return f"mist:vpn_peers:{gateway_id}-{mac}"


def history_key(gateway_id: str, port_id: str) -> str:
    return f"mist:insights:{gateway_id}:{port_id}"


def config_key(kind: str) -> str:
    return f"mist:config:{kind}"


def snapshot_ttl(interval: int) -> int:
    """Snapshot keys live 3 refresh intervals: a dead worker's data disappears, a slow one's not."""
    return 3 * interval


# ---------------------------------------------------------------- reads (web app)


def connect(url: str, *, timeout: float = 2.0) -> redis.Redis:
    """One client with its own connection pool; short socket timeouts so a dead Redis is a 503."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )


def read_served(client: redis.Redis, dataset: Dataset, *, gzip_ok: bool) -> Served | None:
    """Body and ETag of one dataset from one MULTI/EXEC round trip; None when absent."""
    key = DATASET_KEYS[dataset]
    pipe = client.pipeline(transaction=True)
    pipe.get(key + GZ_SUFFIX if gzip_ok else key)
    pipe.hget(KEY_ETAGS, dataset.value)
    body, etag = pipe.execute()
    gzipped = gzip_ok
    if body is None and gzip_ok:  # a twin that is missing: serve the plain bytes
        return read_served(client, dataset, gzip_ok=False)
    if body is None:
        return None
    body = bytes(body)
    if etag is None:
        etag = etag_of(gzip.decompress(body) if gzipped else body).encode()
    return Served(body=body, etag=bytes(etag).decode(), gzipped=gzipped)


def read_etag(client: redis.Redis, dataset: Dataset) -> str | None:
    """The current ETag of a dataset (cheap: for If-None-Match)."""
    etag = client.hget(KEY_ETAGS, dataset.value)
    return None if etag is None else bytes(etag).decode()  # type: ignore[arg-type]


def gateway_key(gateway_id: str) -> str:
    return f"mist:gateway:{gateway_id}"


def read_gateway(client: redis.Redis, gateway_id: str) -> bytes | None:
    """JSON of one gateway with its WAN ports (DATA.md §3.1 item), as the worker stored it."""
    body = client.get(gateway_key(gateway_id))
    return None if body is None else _as_bytes(body)


def read_gateway_peer_paths(client: redis.Redis, gateway_id: str) -> bytes | None:
    """JSON list of one gateway's peer paths; a gateway id ends with its MAC."""
    mac = gateway_id.rsplit("-", 1)[-1]
    body = client.get(peer_paths_key(gateway_id, mac))
    return None if body is None else bytes(body)  # type: ignore[arg-type]


def read_port_history(
    client: redis.Redis, gateway_id: str, port_id: str
) -> history.PortHistory | None:
    """The stored traffic history of one WAN port, or None (one MGET: never a torn refresh)."""
    return read_port_histories(client, [(gateway_id, port_id)]).get((gateway_id, port_id))


def read_health(client: redis.Redis) -> dict[str, Any]:
    """Liveness facts for /healthz without loading any snapshot (status JSON is small)."""
    last_update, worker_status, heartbeat, status = client.mget(
        [KEY_LAST_UPDATE, KEY_WORKER_STATUS, KEY_HEARTBEAT, KEY_STATUS]
    )
    interval: int | None = None
    if status is not None:
        try:
            value = json.loads(status).get("interval")
            interval = int(value) if value is not None else None
        except (ValueError, TypeError, AttributeError):
            interval = None
    return {
        "redis": "ok",
        "last_update": _float(last_update),
        "worker_status": None if worker_status is None else _as_bytes(worker_status).decode(),
        "heartbeat": _float(heartbeat),
        "interval": interval,
    }


def _as_bytes(raw: Any) -> bytes:
    """redis-py hands back bytes (decode_responses is off); typed loosely upstream."""
    return raw if isinstance(raw, bytes) else str(raw).encode()


def _float(raw: Any) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- writes (worker)


class Transaction(CoreCommands):
    """One MULTI/EXEC whose commands leave for Redis in batches while they are being queued.

    redis-py's transactional pipeline holds every command until execute() and then packs
    them all into one more copy: at 10,000 gateways about 100 MB of values, held twice.
    Here a batch is packed and sent once about a megabyte of values waits (a large value
    goes at once), its QUEUED replies are read, and nothing of it stays in this process.
    Redis applies every command at EXEC, so readers still see all old or all new.

    The commands are redis-py's own (`set`, `rpush`, … from CoreCommands); they answer
    nothing until execute(). The connection comes from the client's pool; leaving the
    `with` block without execute() (an error half way) closes it, and Redis drops whatever
    was queued. Not thread-safe: one transaction per thread, like a pipeline.
    """

    # What redis-py's typing asks of a command mixin's host (the sync overloads; no events).
    _is_async_client: Literal[False] = False
    _event_dispatcher: Any = None

    def __init__(self, client: redis.Redis, *, batch_bytes: int = 1 << 20) -> None:
        self._pool = client.connection_pool
        self._batch_bytes = batch_bytes
        self._waiting: list[tuple[Any, ...]] = []  # queued here, not yet sent
        self._waiting_bytes = 0
        self._unanswered = 0  # sent, QUEUED reply not read yet
        self._errors: list[redis.ResponseError] = []  # commands Redis refused to queue
        self.commands = 0
        self._answered = False  # EXEC's reply read: the connection is clean again
        self._connection: Any = self._pool.get_connection()
        try:
            self._connection.send_command("MULTI")
            self._connection.read_response()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def execute_command(self, *args: Any, **options: Any) -> Any:
        """Queue one command (what every CoreCommands method calls); sends a full batch."""
        if self._connection is None:
            raise redis.RedisError("this transaction is finished")
        self._waiting.append(args)
        self._waiting_bytes += sum(len(a) if isinstance(a, bytes | str) else 8 for a in args)
        self.commands += 1
        if self._waiting_bytes >= self._batch_bytes:
            self._send()
        return None

    def _send(self) -> None:
        """Send what waits and read the QUEUED replies, so neither side piles them up."""
        connection = self._connection
        if self._waiting:
            # No health-check PING inside MULTI: Redis would queue it and answer QUEUED.
            connection.send_packed_command(
                connection.pack_commands(self._waiting), check_health=False
            )
            self._unanswered += len(self._waiting)
            self._waiting = []
            self._waiting_bytes = 0
        while self._unanswered:
            self._unanswered -= 1
            try:
                connection.read_response()
            except redis.ResponseError as error:  # e.g. a wrong argument: EXEC will abort
                self._errors.append(error)

    def execute(self) -> list[Any]:
        """EXEC: apply every queued command at once; raises the first error of any."""
        if self._connection is None:
            raise redis.RedisError("this transaction is finished")
        try:
            self._send()
            self._connection.send_command("EXEC", check_health=False)
            try:
                replies = self._connection.read_response()
            except ExecAbortError:
                self._answered = True
                if self._errors:
                    raise self._errors[0] from None
                raise
            self._answered = True
        finally:
            self.close()
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return list(replies)

    def close(self) -> None:
        """Give the connection back, closed first unless EXEC was answered: Redis then drops
        what was queued, and no reply is left unread for the connection's next user."""
        connection, self._connection = self._connection, None
        self._waiting = []
        if connection is None:
            return
        if not self._answered:
            connection.disconnect()
        self._pool.release(connection)


class ServedDocument:
    """A served document that goes into the publish transaction while it is written.

    Its bytes leave about a megabyte at a time (SET, then APPEND, as the transaction's
    commands), its gzip twin is compressed and its ETag hashed as they pass: at EXEC Redis
    holds exactly what Publisher.served stores for the whole body, and this process never
    held the body. Open it with Publisher.document; close() (the `with` block) finishes it.
    """

    def __init__(self, publisher: Publisher, dataset: Dataset, piece_bytes: int) -> None:
        self._publisher = publisher
        self._dataset = dataset
        self._key = DATASET_KEYS[dataset]
        self._piece_bytes = piece_bytes
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._hash = hashlib.blake2b(digest_size=8)
        self._gzip = _gzip_stream()
        self._started: set[str] = set()
        self.size = 0

    def __enter__(self) -> ServedDocument:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:  # after an error the transaction is discarded anyway
            self.close()

    def write(self, data: bytes) -> int:
        self._pending.append(data)
        self._pending_bytes += len(data)
        self._hash.update(data)
        if self._pending_bytes >= self._piece_bytes:
            self._send_piece()
        return len(data)

    def _send_piece(self) -> None:
        piece = b"".join(self._pending)
        self._pending = []
        self._pending_bytes = 0
        self.size += len(piece)
        self._put(self._key, piece)
        self._put(self._key + GZ_SUFFIX, self._gzip.compress(piece))

    def _put(self, key: str, data: bytes) -> None:
        if key in self._started:
            if data:
                self._publisher.transaction.append(key, data)
        else:
            self._started.add(key)
            self._publisher.transaction.set(key, data, ex=self._publisher.ttl)

    def close(self) -> None:
        """Send the rest and the end of the gzip twin; the ETag joins the others."""
        if self._gzip is None:
            return
        self._send_piece()
        self._put(self._key + GZ_SUFFIX, self._gzip.flush())
        self._gzip = None
        self._publisher.add_etag(self._dataset, '"' + self._hash.hexdigest() + '"')


class Publisher:
    """One refresh made visible in a single transaction, sent while it is being written.

    The worker hands over each gateway's and each peer-path list's bytes as it encodes
    them and writes the big documents into document(), which sends them as they grow;
    everything leaves at once (see Transaction), so the process never holds the snapshot
    as bytes. commit() adds the ETags hash and `last_update` and runs EXEC: before it,
    readers see only the previous snapshot.
    """

    def __init__(
        self, client: redis.Redis, *, interval: int, now: float, batch_bytes: int = 1 << 20
    ) -> None:
        self.ttl = snapshot_ttl(interval)
        self._interval = interval
        self._now = now
        self._etags: dict[str, str] = {}
        self.written = 0  # keys, as publish counts them
        self.transaction = Transaction(client, batch_bytes=batch_bytes)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.transaction.close()

    def served(self, dataset: Dataset, body: bytes) -> None:
        """A served document (compact JSON or CSV bytes): its key, gzip twin and ETag."""
        key = DATASET_KEYS[dataset]
        self.transaction.set(key, body, ex=self.ttl)
        self.transaction.set(key + GZ_SUFFIX, gzip_bytes(body), ex=self.ttl)
        self.add_etag(dataset, etag_of(body))

    def document(self, dataset: Dataset, *, piece_bytes: int = 1 << 20) -> ServedDocument:
        """A served document written piece by piece (the big ones: the gateways payload, the
        CSV, all peer paths), sent as it grows; same keys, twin and ETag as served()."""
        return ServedDocument(self, dataset, piece_bytes)

    def add_etag(self, dataset: Dataset, etag: str) -> None:
        self._etags[dataset.value] = etag
        self.written += 2  # the body and its gzip twin

    def gateway(self, gateway_id: str, body: bytes) -> None:
        """One gateway's JSON with its WAN ports (`/api/gateway/<id>`)."""
        self.transaction.set(gateway_key(gateway_id), body, ex=self.ttl)
        self.written += 1

    def peer_paths(self, gateway_id: str, mac: str, body: bytes) -> None:
        """One gateway's peer paths as a JSON list."""
        self.transaction.set(peer_paths_key(gateway_id, mac), body, ex=self.ttl)
        self.written += 1

    def history_write(self, port: tuple[str, str], write: HistoryWrite) -> None:
        """What one port's stored history needs this refresh (plan_history_write)."""
        _history_commands(self.transaction, history_key(*port), write)
        self.written += 1

    def whole_histories(self, histories: Mapping[tuple[str, str], history.PortHistory]) -> None:
        """Histories stored whole, replacing what their keys held."""
        self.written += _whole_history_commands(
            self.transaction, histories, now=self._now, interval=self._interval
        )

    def commit(self) -> int:
        """ETags and `last_update` with the rest, then EXEC; returns the keys written."""
        self.transaction.hset(KEY_ETAGS, mapping=self._etags)  # type: ignore[arg-type]
        self.transaction.expire(KEY_ETAGS, self.ttl)
        self.transaction.set(KEY_LAST_UPDATE, repr(float(self._now)))
        self.transaction.execute()
        return self.written


def publish(client: redis.Redis, publication: Publication, *, interval: int) -> int:
    """Make one refresh visible atomically (one MULTI/EXEC); returns the number of keys written.

    Readers that take a body and its ETag in one transaction see all old or all new.
    """
    with Publisher(client, interval=interval, now=publication.now) as out:
        out.served(Dataset.ORG, encode_json(publication.org))
        out.served(Dataset.SITES, encode_json(publication.sites))
        out.served(Dataset.GATEWAYS, encode_json(publication.gateways))
        out.served(Dataset.VPN_PEERS_ALL, encode_json(publication.vpn_peers_all))
        out.served(Dataset.INSIGHTS_ALL, encode_json(publication.insights_all))
        if publication.gateway_rows is not None:
            out.served(Dataset.GATEWAY_ROWS, encode_json(publication.gateway_rows))
        for gateway_id, body in publication.gateway_details.items():
            out.gateway(gateway_id, body)
        if publication.export_csv is not None:
            out.served(Dataset.EXPORT_CSV, publication.export_csv)
        for (gateway_id, mac), paths in publication.peer_paths.items():
            out.peer_paths(gateway_id, mac, encode_json(paths))
        out.whole_histories(publication.histories)
        for port, write in publication.history_writes.items():
            out.history_write(port, write)
        return out.commit()


def _whole_history_commands(
    pipe: Any,
    histories: Mapping[tuple[str, str], history.PortHistory],
    *,
    now: float,
    interval: int,
) -> int:
    """Queue commands that store each history whole (replacing what its keys held)."""
    written = 0
    for (gateway_id, port_id), port_history in histories.items():
        key = history_key(gateway_id, port_id)
        write = plan_history_write(
            key, None, port_history, now=now, interval=interval, pruned=False
        )
        if write is not None:
            _history_commands(pipe, key, write)
            written += 1
    return written


def write_port_histories(
    client: redis.Redis,
    histories: Mapping[tuple[str, str], history.PortHistory],
    *,
    now: float,
    interval: int,
) -> int:
    """Store whole histories outside a refresh (seeding a benchmark, importing); returns ports
    written. Each chunk is one transaction, so a reader never sees a port half written."""
    written = 0
    ports = list(histories)
    for start in range(0, len(ports), _MGET_CHUNK):
        pipe = client.pipeline(transaction=True)
        chunk = {port: histories[port] for port in ports[start : start + _MGET_CHUNK]}
        written += _whole_history_commands(pipe, chunk, now=now, interval=interval)
        pipe.execute()
    return written


def _history_expiry(port_history: history.PortHistory, now: float) -> int | None:
    """Seven days after the newest sample (or now, when a new port has only counters)."""
    newest: list[float] = [ts for ts, _, _ in (*port_history.fine, *port_history.coarse)]
    if port_history.last_ts is not None:
        newest.append(port_history.last_ts)
    last = max(newest) if newest else now
    expires_at = int(last) + HISTORY_TTL
    return expires_at if expires_at > now else None


def read_history_states(
    client: redis.Redis, ports: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], StoredState | None]:
    """The home keys of many ports (one MGET per chunk): a port that has none is left out,
    one stored in an older format maps to None (its refresh reads the whole history)."""
    found: dict[tuple[str, str], StoredState | None] = {}
    for start in range(0, len(ports), _MGET_CHUNK):
        chunk = ports[start : start + _MGET_CHUNK]
        values = client.mget([history_key(*port) for port in chunk])
        for port, raw in zip(chunk, values, strict=True):
            if raw:
                found[port] = decode_state(_as_bytes(raw))
    return found


def read_stored_histories(
    client: redis.Redis, ports: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], StoredHistory]:
    """Bulk read of stored histories (each port's three keys in one transaction, in chunks,
    so a reader never sees half of a refresh's writes)."""
    found: dict[tuple[str, str], StoredHistory] = {}
    step = max(1, _MGET_CHUNK // 3)
    for start in range(0, len(ports), step):
        chunk = ports[start : start + step]
        pipe = client.pipeline(transaction=True)
        for gateway_id, port_id in chunk:
            key = history_key(gateway_id, port_id)
            pipe.get(key)
            pipe.lrange(key + FINE_SUFFIX, 0, -1)
            pipe.lrange(key + COARSE_SUFFIX, 0, -1)
        # A companion left as a string by an older format answers WRONGTYPE: read as empty,
        # so this refresh rewrites it whole, as a list.
        values = [
            None if isinstance(value, redis.ResponseError) else value
            for value in pipe.execute(raise_on_error=False)
        ]
        for index, port in enumerate(chunk):
            home, fine, coarse = values[3 * index : 3 * index + 3]
            if home is None:
                continue
            try:
                stored = decode_stored_history(
                    _as_bytes(home),
                    b"".join(fine) if fine else None,
                    b"".join(coarse) if coarse else None,
                )
            except ValueError:
                continue
            if stored is not None:
                found[port] = stored
    return found


def read_port_histories(
    client: redis.Redis, ports: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], history.PortHistory]:
    """The stored traffic histories of many WAN ports (absent ones left out)."""
    return {port: stored.history for port, stored in read_stored_histories(client, ports).items()}


def write_status(client: redis.Redis, status: Mapping[str, Any]) -> None:
    """Store the worker status JSON (served as /api/status) and the short worker_status word."""
    body = encode_json(status)
    pipe = client.pipeline(transaction=True)
    pipe.set(KEY_STATUS, body)
    pipe.set(KEY_STATUS + GZ_SUFFIX, gzip_bytes(body))
    pipe.hset(KEY_ETAGS, Dataset.STATUS.value, etag_of(body))
    pipe.set(KEY_WORKER_STATUS, str(status.get("status") or "idle"))
    pipe.execute()


def read_status(client: redis.Redis) -> dict[str, Any] | None:
    """The last status JSON the worker wrote (a restarted worker continues from it)."""
    body = client.get(KEY_STATUS)
    if body is None:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def read_status_published(client: redis.Redis) -> tuple[dict[str, Any] | None, float | None]:
    """The status JSON and `last_update` in one MGET, for /api/status.

    `last_update` moves inside the publish transaction, the status JSON a moment later: a
    reader that takes the newer of the two never announces data older than what it serves.
    """
    body, last_update = client.mget([KEY_STATUS, KEY_LAST_UPDATE])
    document: Any = None
    if body is not None:
        try:
            document = json.loads(body)
        except ValueError:
            document = None
    return (document if isinstance(document, dict) else None), _float(last_update)


def write_heartbeat(client: redis.Redis, now: float, period: int = HEARTBEAT_PERIOD) -> None:
    """Epoch seconds, expiring after three periods: a missing key means a dead worker."""
    client.set(KEY_HEARTBEAT, repr(float(now)), ex=3 * period)


def read_heartbeat(client: redis.Redis) -> float | None:
    return _float(client.get(KEY_HEARTBEAT))


# ---------------------------------------------------------------- config cache


def read_config(client: redis.Redis, kind: str) -> Any | None:
    """A cached config document (templates, profiles, inventory, device configs), or None."""
    body = client.get(config_key(kind))
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def write_configs(client: redis.Redis, documents: Mapping[str, Any]) -> None:
    """Cache config documents for 7 days, all in one transaction."""
    if not documents:
        return
    pipe = client.pipeline(transaction=True)
    for kind, document in documents.items():
        pipe.set(config_key(kind), encode_json(document), ex=CONFIG_TTL)
    pipe.execute()


# ---------------------------------------------------------------- the worker lease

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def acquire_lock(client: redis.Redis, owner: str, lease_seconds: float) -> bool:
    """Take the lease that allows spending tokens, or renew it when we already hold it."""
    lease_ms = int(lease_seconds * 1000)
    if client.set(KEY_LOCK, owner, nx=True, px=lease_ms):
        return True
    return renew_lock(client, owner, lease_seconds)


def renew_lock(client: redis.Redis, owner: str, lease_seconds: float) -> bool:
    """Extend our lease only if it is still ours (compare-and-renew in Lua)."""
    return bool(client.eval(_RENEW, 1, KEY_LOCK, owner, int(lease_seconds * 1000)))


def release_lock(client: redis.Redis, owner: str) -> bool:
    """Give the lease back if it is ours, so a standby worker takes over at once."""
    return bool(client.eval(_RELEASE, 1, KEY_LOCK, owner))


def lock_owner(client: redis.Redis) -> str | None:
    owner = client.get(KEY_LOCK)
    return None if owner is None else bytes(owner).decode()  # type: ignore[arg-type]


def scan_keys(client: redis.Redis, pattern: str = "mist:*") -> Iterable[str]:
    """Every key under our prefix by SCAN (never KEYS); for tests and diagnostics."""
    for key in client.scan_iter(match=pattern, count=1000):
        yield bytes(key).decode()

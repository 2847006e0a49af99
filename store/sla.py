"""Availability's running sums in Redis: one state per org, and each closed hour and day.

The state (sla.accumulator.Accumulator) is zlib'd: its keys, then its integers packed (at
10,000 gateways a JSON decode of it alone would cost a second), staged with the snapshot
and switched live with it, so the sums never count a refresh the web did not see. A closed
bucket is a zlib'd array of (slot, observed, down, degraded, flaps) unsigned 32-bit
integers, written once and read back once, when it leaves its window (DATA.md §3.9).
"""

from __future__ import annotations

import json
import sys
import zlib
from array import array
from collections.abc import Iterator, Mapping, Sequence
from itertools import chain, islice
from typing import Any

import redis

from sla.accumulator import WIDTH, Accumulator, Buckets, Record
from store.codec import encode_json
from store.histories import as_bytes
from store.keys import (
    SLA_DAY_TTL,
    SLA_HOUR_TTL,
    sla_bucket_key,
    sla_state_key,
    staged_key,
)

ZLIB_LEVEL = 1  # the state is rewritten each refresh: fast beats small


def encode_state(accumulator: Accumulator) -> bytes:
    """zlib of: a JSON line (version, times, slot counter, the keys),
    then every record's integers as signed 64-bit little-endian, in the keys' order
    (compressed a few thousand records at a time: the 18 MB of integers at 10,000 gateways
    are never one more copy)."""
    circuits = accumulator.circuits
    header = {**accumulator.header(), "c": None, "keys": list(circuits)}
    packer = zlib.compressobj(ZLIB_LEVEL)
    parts = [packer.compress(encode_json(header) + b"\n")]
    records = iter(circuits.values())
    while chunk := list(islice(records, CHUNK)):
        values = array("q")
        for record in chunk:
            values.extend(record)
        parts.append(packer.compress(_little_endian(values)))
    parts.append(packer.flush())
    return b"".join(parts)


CHUNK = 4096  # records compressed at a time


def decode_state(raw: Any) -> Accumulator | None:
    """The stored state; None when absent or unreadable (availability starts afresh).
    Inflated a piece at a time: the 18 MB of integers at 10,000 gateways go straight into
    each record's array, never whole beside them."""
    if raw is None:
        return None
    try:
        pieces = _inflated(as_bytes(raw))
        pending = bytearray()
        while (cut := pending.find(b"\n")) < 0:
            pending += next(pieces)
        header = json.loads(pending[:cut])
        keys = [sys.intern(str(key)) for key in header["keys"]]  # the catalogue's strings
        del pending[: cut + 1]
        records = _records(pending, pieces, len(keys))
        found = Accumulator.from_json({**header, "c": {}})
        if found is not None and records is not None:
            found.circuits = dict(zip(keys, records, strict=True))
            return found
        return None
    except (ValueError, KeyError, TypeError, AttributeError, StopIteration, zlib.error):
        return None


def _inflated(raw: bytes) -> Iterator[bytes]:
    """The state's bytes, about a megabyte at a time."""
    unpacker = zlib.decompressobj()
    pending = raw
    while pending:
        yield unpacker.decompress(pending, 1 << 20)
        pending = unpacker.unconsumed_tail
    yield unpacker.flush()


def _records(start: bytearray, pieces: Iterator[bytes], count: int) -> list[Record] | None:
    """`count` records of WIDTH integers each, from `start` and then `pieces`; None when
    there are more or fewer. Each piece's whole records are read as one array and cut into
    them (slices: no call per record, 100,000 of them at 10,000 gateways)."""
    size = WIDTH * 8
    records: list[Record] = []
    pending = start
    for piece in chain((b"",), pieces):
        pending += piece
        whole = len(pending) - len(pending) % size
        values = array("q")
        values.frombytes(pending[:whole])
        values = _little_endian(values)
        records += [values[at : at + WIDTH] for at in range(0, len(values), WIDTH)]
        del values, pending[:whole]
    return records if not pending and len(records) == count else None


def _little_endian(values: array[int]) -> array[int]:
    if sys.byteorder == "big":
        values.byteswap()
    return values


def encode_bucket(buckets: Buckets) -> bytes:
    values = array("I")
    for slot, bucket in buckets.items():
        values.append(slot)
        values.extend(max(0, value) for value in bucket)
    return zlib.compress(_little_endian(values).tobytes(), ZLIB_LEVEL)


def decode_bucket(raw: Any) -> Buckets:
    """A stored bucket; nothing when absent or unreadable (its sums are not subtracted)."""
    if raw is None:
        return {}
    try:
        values = array("I")
        values.frombytes(zlib.decompress(as_bytes(raw)))
    except (ValueError, zlib.error):
        return {}
    values = _little_endian(values)
    return {values[i]: list(values[i + 1 : i + 5]) for i in range(0, len(values) - 4, 5)}


def read_sla(
    client: redis.Redis, org_id: str, buckets: Sequence[str]
) -> tuple[Accumulator | None, dict[str, Buckets]]:
    """The org's state and the named closed buckets, in one round trip."""
    keys = [sla_state_key(org_id), *(sla_bucket_key(org_id, name) for name in buckets)]
    found: list[Any] = client.mget(keys)
    return decode_state(found[0]), _buckets(buckets, found[1:])


def read_sla_buckets(
    client: redis.Redis, org_id: str, buckets: Sequence[str]
) -> dict[str, Buckets]:
    """The named closed buckets alone (the state once read: it is not read and decoded
    again)."""
    if not buckets:
        return {}
    return _buckets(buckets, client.mget([sla_bucket_key(org_id, name) for name in buckets]))


def _buckets(names: Sequence[str], found: Sequence[Any]) -> dict[str, Buckets]:
    return {name: decode_bucket(raw) for name, raw in zip(names, found, strict=True)}


def stage_sla(
    staging: Any, org_id: str, accumulator: Accumulator, closed: Mapping[str, Buckets]
) -> None:
    """The closed buckets (written as they come: a failed refresh writes them again the
    same) and the state, staged for the switch (switch_sla)."""
    for name, buckets in closed.items():
        ttl = SLA_HOUR_TTL if name.startswith("h") else SLA_DAY_TTL
        staging.set(sla_bucket_key(org_id, name), encode_bucket(buckets), ex=ttl)
    staging.set(staged_key(sla_state_key(org_id)), encode_state(accumulator))


def switch_sla(switch: Any, org_id: str) -> None:
    """The staged state goes live with the snapshot."""
    switch.rename(staged_key(sla_state_key(org_id)), sla_state_key(org_id))

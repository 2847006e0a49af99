"""Traffic histories in Redis: the commands that store a planned write, and the reads.

A port's history lives in three keys (DATA.md §4): the home key (its state), `:fine` (one
record pushed per refresh) and `:coarse` (hourly buckets `:fine` cannot give back). What to
write is decided by `traffic.plan`; this module only sends it and reads it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from history.samples import PortHistory, restore
from store.history_codec import StoredHistory, StoredState, records, unpack_history, unpack_state
from store.keys import COARSE_SUFFIX, COMPANION_SLACK, FINE_SUFFIX, history_key

CHUNK = 1000  # ports per MGET


@dataclass(frozen=True)
class HistoryWrite:
    """The commands one port's history needs this refresh (the publisher sends them)."""

    expires_at: int
    state: bytes | None = None  # new home key value, when it changed
    append_fine: bytes = b""
    fine: bytes | None = None  # a whole new `:fine` (new port or trim)
    append_coarse: bytes = b""
    coarse: bytes | None = None  # a whole new `:coarse`


def write_bytes(write: HistoryWrite) -> int:
    """About what one port's write sends: the publisher ends a history transaction once
    they add up (a week of samples rewritten on many ports is one long EXEC otherwise)."""
    return (
        len(write.state or b"")
        + len(write.append_fine)
        + len(write.fine or b"")
        + len(write.append_coarse)
        + len(write.coarse or b"")
    )


def queue_history_write(pipe: Any, key: str, write: HistoryWrite) -> None:
    """Queue one port's history commands (inside the publish transaction). A list rewritten
    whole is UNLINKed first: freed in the background, not inside the EXEC."""
    companions_expire = write.expires_at + COMPANION_SLACK
    if write.state is not None:
        pipe.set(key, write.state, exat=write.expires_at)
    for suffix, whole, appended in (
        (FINE_SUFFIX, write.fine, write.append_fine),
        (COARSE_SUFFIX, write.coarse, write.append_coarse),
    ):
        if whole is not None:
            pipe.unlink(key + suffix)
            if whole:
                pipe.rpush(key + suffix, *records(whole))
                pipe.expireat(key + suffix, companions_expire)
        elif appended:
            pipe.rpush(key + suffix, *records(appended))


def port_history(stored: StoredHistory) -> PortHistory:
    """The history a port's keys hold: the samples pruned as of the writer's last prune."""
    state = stored.home.state
    return restore(
        last_ts=state.last_ts,
        last_rx_bytes=state.last_rx_bytes,
        last_tx_bytes=state.last_tx_bytes,
        last_speed_bps=state.last_speed_bps,
        samples=stored.samples,
        stored_buckets=[(hour, rx, tx) for hour, (rx, tx) in stored.buckets.items()],
        pruned_at=stored.home.pruned_at,
    )


def read_history_states(
    client: redis.Redis, ports: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], StoredState | None]:
    """The home keys of many ports (one MGET per chunk): a port that has none is left out,
    one we cannot read maps to None (its refresh reads and rewrites the whole history)."""
    found: dict[tuple[str, str], StoredState | None] = {}
    for start in range(0, len(ports), CHUNK):
        chunk = ports[start : start + CHUNK]
        values = client.mget([history_key(*port) for port in chunk])
        for port, raw in zip(chunk, values, strict=True):
            if raw:
                try:
                    found[port] = unpack_state(as_bytes(raw))
                except ValueError:
                    found[port] = None
    return found


def read_stored_histories(
    client: redis.Redis, ports: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], StoredHistory]:
    """Bulk read of stored histories (each port's three keys in one transaction, in chunks,
    so a reader never sees half of a refresh's writes); unreadable ones are left out."""
    found: dict[tuple[str, str], StoredHistory] = {}
    step = max(1, CHUNK // 3)
    for start in range(0, len(ports), step):
        chunk = ports[start : start + step]
        pipe = client.pipeline(transaction=True)
        for gateway_id, port_id in chunk:
            key = history_key(gateway_id, port_id)
            pipe.get(key)
            pipe.lrange(key + FINE_SUFFIX, 0, -1)
            pipe.lrange(key + COARSE_SUFFIX, 0, -1)
        # A companion of the wrong type answers WRONGTYPE: read as empty, rewritten whole.
        values = [
            None if isinstance(value, redis.ResponseError) else value
            for value in pipe.execute(raise_on_error=False)
        ]
        for index, port in enumerate(chunk):
            home, fine, coarse = values[3 * index : 3 * index + 3]
            if home is None:
                continue
            try:
                found[port] = unpack_history(
                    as_bytes(home), b"".join(fine or ()), b"".join(coarse or ())
                )
            except ValueError:
                continue
    return found


def read_port_history(client: redis.Redis, gateway_id: str, port_id: str) -> PortHistory | None:
    """The stored traffic history of one WAN port, or None (one transaction: never torn)."""
    stored = read_stored_histories(client, [(gateway_id, port_id)]).get((gateway_id, port_id))
    return None if stored is None else port_history(stored)


def as_bytes(raw: Any) -> bytes:
    """redis-py hands back bytes (decode_responses is off); typed loosely upstream."""
    return raw if isinstance(raw, bytes) else str(raw).encode()

"""The worker's own records: its status document (served as /api/status) and its heartbeat."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis

from store.codec import encode_json, etag_of, gzip_bytes
from store.keys import (
    GZ_SUFFIX,
    HEARTBEAT_TTL,
    KEY_ETAGS,
    KEY_HEARTBEAT,
    KEY_STATUS,
    KEY_WORKER_STATUS,
    Dataset,
)
from store.reads import as_float, read_status_published


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
    return read_status_published(client)[0]


def write_heartbeat(client: redis.Redis, now: float) -> None:
    """Epoch seconds, expiring after three periods: a missing key means a dead worker."""
    client.set(KEY_HEARTBEAT, repr(float(now)), ex=HEARTBEAT_TTL)


def read_heartbeat(client: redis.Redis) -> float | None:
    return as_float(client.get(KEY_HEARTBEAT))

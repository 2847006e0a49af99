"""The worker's own records: its status document (served as /api/status) and its heartbeat."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis

from store.codec import encode_json
from store.keys import (
    DEFAULT_KEYSPACE,
    HEARTBEAT_TTL,
    KEY_HEARTBEAT,
    KEY_INTERVAL,
    KEY_WORKER_STATUS,
    LAST_GOOD_TTL,
    Keyspace,
)
from store.reads import as_float, json_object


def queue_status(
    pipe: Any, status: Mapping[str, Any], keyspace: Keyspace = DEFAULT_KEYSPACE
) -> None:
    """The status JSON (served as stored, the web only adds the data's age), the short
    worker_status word and the refresh interval the web's stale rule reads. An org's own
    status (a multi-org deployment's keyspace) is its document only: the worker's word and
    interval are the deployment's."""
    if keyspace.org_id is not None:  # an org no longer read leaves with its last-good copy
        pipe.set(keyspace.status, encode_json(status), ex=LAST_GOOD_TTL)
        return
    pipe.set(keyspace.status, encode_json(status))
    pipe.set(KEY_WORKER_STATUS, str(status.get("status") or "idle"))
    interval = status.get("interval")
    if isinstance(interval, int) and not isinstance(interval, bool):
        pipe.set(KEY_INTERVAL, str(interval))


def write_status(
    client: redis.Redis, status: Mapping[str, Any], keyspace: Keyspace = DEFAULT_KEYSPACE
) -> None:
    """Store the worker status outside a publish (its phases, a failure)."""
    pipe = client.pipeline(transaction=True)
    queue_status(pipe, status, keyspace)
    pipe.execute()


def read_status(
    client: redis.Redis, keyspace: Keyspace = DEFAULT_KEYSPACE
) -> dict[str, Any] | None:
    """The last status JSON the worker wrote (a restarted worker continues from it)."""
    return json_object(client.get(keyspace.status))


def write_heartbeat(client: redis.Redis, now: float) -> None:
    """Epoch seconds, expiring after three periods: a missing key means a dead worker."""
    client.set(KEY_HEARTBEAT, repr(float(now)), ex=HEARTBEAT_TTL)


def read_heartbeat(client: redis.Redis) -> float | None:
    return as_float(client.get(KEY_HEARTBEAT))

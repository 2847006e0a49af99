"""The durable outbox: one Redis list of alerts per receiver, plus what delivery last saw.

A refresh's alerts are queued in a MULTI/EXEC of their own as soon as its events are derived
(before the refresh publishes them), and a failed refresh's in the one that stores its
events, so an event stored is an alert already queued: a worker killed right after loses
nothing, and a receiver down for an hour finds its alerts waiting, in order. A value
holds the alert record only (title, text, the event's facts, its idempotency key), never a
URL: receivers are numbers. DATA.md §2 lists the keys.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import redis

from store.codec import encode_json
from store.keys import (
    ALERT_OUTBOX_MAX,
    KEY_ALERT_RECEIVERS,
    alert_holddown_key,
    alert_outbox_key,
)


def queue_alerts(
    pipe: Any,
    org_id: str,
    alerts: Mapping[int, Sequence[Mapping[str, Any]]],
    state: Mapping[str, Any],
) -> None:
    """Append each receiver's alerts (oldest first) and keep the hold-down state, in `pipe`."""
    for receiver, items in alerts.items():
        if items:
            key = alert_outbox_key(receiver)
            pipe.rpush(key, *(encode_json(item) for item in items))
            pipe.ltrim(key, -ALERT_OUTBOX_MAX, -1)
    pipe.set(alert_holddown_key(org_id), encode_json(dict(state)))


def keep_holddown(pipe: Any, org_id: str, state: Mapping[str, Any]) -> None:
    """The hold-down state alone, in `pipe` (the publish of a refresh whose alerts left
    ahead of it: its changes are stored now, none pending)."""
    pipe.set(alert_holddown_key(org_id), encode_json(dict(state)))


def _object(raw: Any) -> dict[str, Any] | None:
    try:
        value = json.loads(raw) if raw else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def read_holddown(client: redis.Redis, org_id: str) -> dict[str, Any]:
    return _object(client.get(alert_holddown_key(org_id))) or {}


def head(client: redis.Redis, receiver: int) -> tuple[bytes, dict[str, Any]] | None:
    """The oldest alert waiting for `receiver` (its raw bytes, to pop exactly it)."""
    while True:
        found = client.lindex(alert_outbox_key(receiver), 0)
        if found is None:
            return None
        raw = found if isinstance(found, bytes) else str(found).encode()
        alert = _object(raw)
        if alert is not None and isinstance(alert.get("id"), str):
            return raw, alert
        pop(client, receiver, raw)  # not an alert of ours: it cannot be sent


def pop(client: redis.Redis, receiver: int, raw: bytes) -> bool:
    """Remove the head if it is still `raw` (a worker that took over may have sent it).
    Alerts appended meanwhile (a refresh queueing) touch the list too: look again, or the
    head just delivered would stay and be sent twice."""
    key = alert_outbox_key(receiver)
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(key)
                if pipe.lindex(key, 0) != raw:
                    pipe.unwatch()
                    return False
                pipe.multi()
                pipe.lpop(key)
                pipe.execute()
                return True
            except redis.WatchError:
                continue  # the list changed: is `raw` still the head?


def queued(client: redis.Redis, receiver: int) -> int:
    return int(client.llen(alert_outbox_key(receiver)))


def write_receiver(client: redis.Redis, receiver: int, document: Mapping[str, Any]) -> None:
    """A receiver's last success/failure/error, kept across restarts (no URL in it)."""
    client.hset(KEY_ALERT_RECEIVERS, str(receiver), encode_json(dict(document)))


def read_receivers(client: redis.Redis) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for field, raw in (client.hgetall(KEY_ALERT_RECEIVERS) or {}).items():
        number = field.decode() if isinstance(field, bytes) else str(field)
        document = _object(raw)
        if number.isdigit() and document is not None:
            found[int(number)] = document
    return found

"""The event stream of an org in Redis: a sorted set scored by time, and the state to compare.

Each member is the event's compact JSON behind a short head of the facts /api/events filters
on (`type`, `severity`, `site_id`, `gateway_id`, tab-separated), so the web filters and
answers without decoding any JSON: the bytes it sends are the bytes the worker stored.
The set has no TTL (AOF keeps it across restarts); each write trims it by age and length.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from store.codec import encode_json
from store.histories import as_bytes
from store.keys import (
    KEY_EVENTS_ORG,
    events_key,
    events_state_key,
    events_system_key,
    staged_key,
)
from store.transaction import Transaction

MAX_AGE = 30 * 86400  # events older than this leave the set
MAX_EVENTS = 2_000_000  # and never more than this many (the oldest leave first)
HEAD_FIELDS = ("type", "severity", "site_id", "gateway_id")
TAB = b"\t"


def encode_member(event: Mapping[str, Any]) -> bytes:
    """The stored member: the filter head, then the event's compact JSON."""
    head = TAB.join(str(event.get(name) or "").encode() for name in HEAD_FIELDS)
    return head + TAB + encode_json(event)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One member as the web reads it: the filter facts and the JSON to send as is."""

    time: float
    type: str
    severity: str
    site_id: str
    gateway_id: str
    body: bytes


def decode_member(member: bytes, score: float) -> StoredEvent:
    """A member split into its head and its JSON (nothing decoded but the head)."""
    kind, severity, site_id, gateway_id, body = member.split(TAB, 4)
    return StoredEvent(
        score, kind.decode(), severity.decode(), site_id.decode(), gateway_id.decode(), body
    )


@dataclass(frozen=True)
class Retention:
    """How long and how many events an org keeps."""

    max_age: float = MAX_AGE
    max_events: int = MAX_EVENTS


def queue_events(
    pipe: Any,
    org_id: str,
    events: Sequence[Mapping[str, Any]],
    system: Mapping[str, bool],
    now: float,
    retention: Retention = Retention(),
) -> None:
    """Queue on `pipe` (a transaction): the new events, the trim, the worker's conditions
    and the pointer the web follows to the org's set."""
    key = events_key(org_id)
    if events:
        pipe.zadd(key, {encode_member(event): float(event["time"]) for event in events})
    pipe.zremrangebyscore(key, "-inf", f"({now - retention.max_age}")
    pipe.zremrangebyrank(key, 0, -retention.max_events - 1)
    pipe.set(events_system_key(org_id), encode_json(system))
    pipe.set(KEY_EVENTS_ORG, org_id)


def write_state(staging: Any, org_id: str, state: Mapping[str, Any]) -> None:
    """The state, staged (no TTL: a worker down for a day still compares when it is back)."""
    staging.set(staged_key(events_state_key(org_id)), encode_json(state))


def switch_state(switch: Any, org_id: str) -> None:
    """The staged state goes live with the snapshot."""
    switch.rename(staged_key(events_state_key(org_id)), events_state_key(org_id))


def write_events(
    client: redis.Redis,
    org_id: str,
    events: Sequence[Mapping[str, Any]],
    system: Mapping[str, bool],
    now: float,
    retention: Retention = Retention(),
) -> None:
    """The same as queue_events, in a transaction of its own (a failed refresh's events)."""
    with Transaction(client) as transaction:
        queue_events(transaction, org_id, events, system, now, retention)
        transaction.execute()


def _json_object(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        document = json.loads(as_bytes(raw))
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def read_state(client: redis.Redis, org_id: str) -> dict[str, Any] | None:
    """The state the last refresh kept (None: never kept, or unreadable)."""
    return _json_object(client.get(events_state_key(org_id)))


def read_system(client: redis.Redis, org_id: str) -> dict[str, Any]:
    """The worker's conditions as its last events told them (all false when never told)."""
    return _json_object(client.get(events_system_key(org_id))) or {}


def read_events_org(client: redis.Redis) -> str | None:
    """The org whose events are served (the worker's org at its last write)."""
    raw = client.get(KEY_EVENTS_ORG)
    return as_bytes(raw).decode() if raw is not None else None


def read_event_page(
    client: redis.Redis, org_id: str, *, newest: float, oldest: float, skip: int, count: int
) -> list[StoredEvent]:
    """Up to `count` events with oldest ≤ time ≤ newest, newest first, after skipping `skip`
    (a page's start: the events already sent at time `newest`)."""
    found: Any = client.zrange(
        events_key(org_id),
        newest,
        oldest,
        desc=True,
        byscore=True,
        offset=skip,
        num=count,
        withscores=True,
    )
    return [decode_member(as_bytes(member), float(score)) for member, score in found]


def count_events(client: redis.Redis, org_id: str) -> int:
    """How many events the org keeps (the retention's effect, for tests and benchmarks)."""
    return int(client.zcard(events_key(org_id)))

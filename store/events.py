"""The events of an org in Redis, and the state the next refresh compares with.

The newest events (the hours not yet closed) are members of a sorted set scored by time:
each member is the event's compact JSON behind a short head of the facts /api/events filters
on (`type`, `severity`, `site_id`, `gateway_id`, tab-separated). Closed hours are packed by
the worker into compressed blocks that name subjects and peers by a catalog index
(store/event_pack.py, event_blocks.py, event_catalog.py): a few bytes per event. Nothing has
a TTL (AOF keeps it across restarts); each write packs, then trims by age and count.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from store.codec import encode_json
from store.event_catalog import CatalogReader
from store.event_pack import encode_member_bytes, plan_write, queue_plan, read_meta
from store.event_search import Filter, StoredEvent, decode_member, search_events
from store.histories import as_bytes
from store.keys import (
    KEY_EVENTS_ORG,
    event_version_key,
    events_key,
    events_state_key,
    events_system_key,
    staged_key,
)
from store.transaction import Transaction

__all__ = ["Filter", "Retention", "StoredEvent", "decode_member", "encode_member"]

MAX_AGE = 30 * 86400  # events older than this leave the store
MAX_EVENTS = 2_000_000  # and never more than this many (the oldest leave first)
CATALOG = CatalogReader()  # this process's copy of the catalog entries it read


def encode_member(event: Mapping[str, Any]) -> bytes:
    """The stored member: the filter head, then the event's compact JSON."""
    return encode_member_bytes(event)


@dataclass(frozen=True)
class Retention:
    """How long and how many events an org keeps."""

    max_age: float = MAX_AGE
    max_events: int = MAX_EVENTS


def _reader(pipe: Any) -> redis.Redis:
    """A client on the transaction's own pool, for the reads a write needs before EXEC."""
    if not isinstance(pipe, Transaction):
        raise TypeError("queue_events needs a store.transaction.Transaction or a client")
    return pipe.reader


def queue_events(
    pipe: Any,
    org_id: str,
    events: Sequence[Mapping[str, Any]],
    system: Mapping[str, bool],
    now: float,
    retention: Retention = Retention(),
    client: redis.Redis | None = None,
) -> None:
    """Queue on `pipe` (a transaction): the new events, the hours that closed packed, the
    trims, the worker's conditions and the pointer the web follows to the org's events.
    The reads this needs go through `client` (default: the transaction's pool); the worker
    is the only writer of an org's events, so what they read still holds at EXEC."""
    reader = client if client is not None else _reader(pipe)
    plan = plan_write(reader, org_id, events, now, retention.max_age, retention.max_events)
    queue_plan(pipe, org_id, plan, now - retention.max_age, retention.max_events)
    pipe.set(events_system_key(org_id), encode_json(system))
    pipe.set(KEY_EVENTS_ORG, org_id)
    pipe.set(event_version_key(org_id), secrets.token_hex(8))


def write_state(staging: Any, org_id: str, state: Mapping[str, Any] | bytes) -> None:
    """The state (or its encoded bytes), staged (no TTL: a worker down for a day still
    compares when it is back)."""
    encoded = state if isinstance(state, bytes) else encode_json(state)
    staging.set(staged_key(events_state_key(org_id)), encoded)


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
        queue_events(transaction, org_id, events, system, now, retention, client)
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


def read_version(client: redis.Redis, org_id: str) -> str | None:
    """The token of the org's last write of events (None: never written)."""
    raw = client.get(event_version_key(org_id))
    return as_bytes(raw).decode() if raw is not None else None


def find_page(
    client: redis.Redis,
    org_id: str,
    flt: Filter,
    *,
    start: tuple[float, int],
    oldest: float,
    limit: int,
    budget: int,
) -> tuple[list[StoredEvent], tuple[float, int] | None]:
    """Up to `limit` events matching `flt`, newest first from `start` (time, events at that
    time already read) down to `oldest`, reading at most about `budget` events; and where
    the next page starts (None: nothing older matches)."""
    return search_events(
        client, org_id, flt, start=start, oldest=oldest, limit=limit, budget=budget,
        catalog=CATALOG,
    )  # fmt: skip


def read_event_page(
    client: redis.Redis, org_id: str, *, newest: float, oldest: float, skip: int, count: int
) -> list[StoredEvent]:
    """Up to `count` events with oldest ≤ time ≤ newest, newest first, after skipping `skip`
    (a page's start: the events already sent at time `newest`)."""
    found, _ = find_page(
        client, org_id, Filter(), start=(newest, skip), oldest=oldest, limit=count, budget=count
    )
    return found


def count_events(client: redis.Redis, org_id: str) -> int:
    """How many events the org keeps (the retention's effect, for tests and benchmarks)."""
    return int(client.zcard(events_key(org_id))) + read_meta(client, org_id).total()

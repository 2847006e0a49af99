"""The sites' last WAN SLEs as the worker last read them from Mist (`mist:sle`; one org of
several keeps `mist:org:{org_id}:sle`; DATA.md §2)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis

from store.codec import encode_json
from store.keys import DEFAULT_KEYSPACE, SLE_TTL, Keyspace


def read_sle(client: redis.Redis, keyspace: Keyspace = DEFAULT_KEYSPACE) -> dict[str, Any] | None:
    """The stored SLE state of the keyspace's org, or None (never read, expired, not JSON)."""
    body = client.get(keyspace.sle)
    if body is None:
        return None
    try:
        state = json.loads(body)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def write_sle(
    client: redis.Redis, state: Mapping[str, Any], keyspace: Keyspace = DEFAULT_KEYSPACE
) -> None:
    """Keep the state 7 days (renewed by each read or attempt)."""
    client.set(keyspace.sle, encode_json(state), ex=SLE_TTL)

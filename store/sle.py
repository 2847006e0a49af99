"""The sites' last WAN SLEs as the worker last read them from Mist (`mist:sle`, DATA.md §2)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis

from store.codec import encode_json
from store.keys import KEY_SLE, SLE_TTL


def read_sle(client: redis.Redis) -> dict[str, Any] | None:
    """The stored SLE state, or None (never read, expired, or not JSON)."""
    body = client.get(KEY_SLE)
    if body is None:
        return None
    try:
        state = json.loads(body)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def write_sle(client: redis.Redis, state: Mapping[str, Any]) -> None:
    """Keep the state 7 days (renewed by each read or attempt)."""
    client.set(KEY_SLE, encode_json(state), ex=SLE_TTL)

"""The worker's cache of Mist config documents (templates, profiles, inventory, devices)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import redis

from store.codec import encode_json
from store.keys import CONFIG_TTL, DEFAULT_KEYSPACE, Keyspace


def read_config(
    client: redis.Redis, kind: str, keyspace: Keyspace = DEFAULT_KEYSPACE
) -> Any | None:
    """A cached config document, or None (an org's own in a multi-org deployment)."""
    body = client.get(keyspace.config_key(kind))
    if body is None:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def write_configs(
    client: redis.Redis, documents: Mapping[str, Any], keyspace: Keyspace = DEFAULT_KEYSPACE
) -> None:
    """Cache config documents for 7 days, all in one transaction."""
    if not documents:
        return
    pipe = client.pipeline(transaction=True)
    for kind, document in documents.items():
        pipe.set(keyspace.config_key(kind), encode_json(document), ex=CONFIG_TTL)
    pipe.execute()

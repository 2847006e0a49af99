"""/health and /api/status: how old the data is, by the one stale rule (model/freshness.py;
the page shows exactly what /api/status says)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model.freshness import data_age, is_stale
from store.codec import encode_json


def health_document(state: Mapping[str, Any], default_interval: int, now: float) -> dict:
    """/health: Redis answered, how old the data is and the worker's own word."""
    interval = state.get("interval") or default_interval
    age = data_age(state.get("last_update"), now)
    return {
        "status": "ok",
        "redis": True,
        "last_update": state.get("last_update"),
        "age": age,
        "stale": is_stale(age, interval),
        "worker_status": state.get("worker_status"),
        "heartbeat": state.get("heartbeat"),
        "interval": interval,
    }


def status_body(
    stored: bytes | None,
    last_update: float | None,
    interval: int | None,
    default_interval: int,
    now: float,
    last_good: bool = False,
    heartbeat: float | None = None,
) -> bytes:
    """/api/status: the worker's status JSON as stored, with the data's `age` and `stale`
    added as its last members (nothing decoded or re-encoded). The worker writes its status
    inside the publish transaction, so it never names older data than is served. While the
    web serves the last-good copy (`last_good`) it is always stale and says so in `source`.
    `worker_responding` is false once the worker's heartbeat has expired (`heartbeat` None):
    the page says "worker not responding" rather than the last word the worker left."""
    if not (stored and stored.startswith(b"{") and stored.endswith(b"}")):
        starting = {"status": "starting", "phase": None, "progress": None, "last_update": None}
        stored = encode_json({**starting, "interval": interval or default_interval})
    age = data_age(last_update, now)
    stale = True if last_good else is_stale(age, interval or default_interval)
    facts_of: dict[str, Any] = {"age": age, "stale": stale}
    if last_good:
        facts_of["source"] = "last_good"
    facts_of["worker_responding"] = heartbeat is not None
    facts = encode_json(facts_of)
    if stored == b"{}":
        return facts
    return stored[:-1] + b"," + facts[1:]

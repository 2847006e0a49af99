"""When the data is stale: the one rule, used by /health and /api/status (the page shows
exactly what /api/status says)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

STALE_AFTER_INTERVALS = 2


def data_age(last_update: object, now: float) -> float | None:
    """Seconds since the last publish (0.1 s steps), None before the first one."""
    if isinstance(last_update, int | float) and last_update > 0:
        return round(max(0.0, now - float(last_update)), 1)
    return None


def is_stale(age: float | None, interval: float) -> bool:
    """Stale = older than two refresh intervals: one missed refresh is not yet alarming."""
    return age is not None and age > STALE_AFTER_INTERVALS * interval


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


def status_document(
    stored: dict[str, Any] | None, published: float | None, default_interval: int, now: float
) -> dict[str, Any]:
    """/api/status: the worker's status JSON plus `interval`, `age` and `stale`.

    `last_update` is the newer of the status JSON's and the publish time, so the status never
    announces older data than is served (the data moves before the status JSON does).
    """
    worker = stored or {"status": "starting", "phase": None, "progress": None, "last_update": None}
    if published is not None and published > (worker.get("last_update") or 0):
        worker["last_update"] = published
    interval = worker.get("interval") or default_interval
    worker["interval"] = interval
    age = data_age(worker.get("last_update"), now)
    worker["age"] = age
    worker["stale"] = is_stale(age, interval)
    return worker

"""When the data is stale: the one rule. The web tells it (/health, /api/status) and the
worker raises its `data_stale` event by it (model/events.py)."""

from __future__ import annotations

STALE_AFTER_INTERVALS = 2


def data_age(last_update: object, now: float) -> float | None:
    """Seconds since the last publish (0.1 s steps), None before the first one."""
    if isinstance(last_update, int | float) and last_update > 0:
        return round(max(0.0, now - float(last_update)), 1)
    return None


def is_stale(age: float | None, interval: float) -> bool:
    """Stale = older than two refresh intervals: one missed refresh is not yet alarming."""
    return age is not None and age > STALE_AFTER_INTERVALS * interval

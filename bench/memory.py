"""Redis bytes per WAN port once 7 days of traffic history are stored.

Histories are built by the product's own code (history.add_counters, one reading per
refresh for 7 days) and written under the product's key names and encoding
(redis_cache.history_key / encode_history), then measured with MEMORY USAGE: what a real
deployment holds after a week, without waiting a week.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass

import redis

import history
import redis_cache

WEEK = 7 * 86400


@dataclass
class HistoryMemory:
    interval: int
    ports: int
    fine_samples: int
    coarse_samples: int
    median_bytes: float
    max_bytes: int


def week_of_history(interval: int, seed: int, now: float) -> history.PortHistory:
    """A port's history after 7 days of refreshes every `interval` s, with a reboot."""
    rng = random.Random(seed)
    port: history.PortHistory | None = None
    rx = tx = 0
    reboot_at = now - rng.uniform(0, WEEK)
    ts = now - WEEK
    while ts <= now:
        rx += int(rng.uniform(1e6, 5e7) * interval / 8)
        tx += int(rng.uniform(1e5, 1e7) * interval / 8)
        if abs(ts - reboot_at) < interval:
            rx = tx = 0
        port = history.add_counters(port, ts=ts, rx_bytes=rx, tx_bytes=tx)
        ts += interval
    assert port is not None
    return port


def measure_history_memory(
    client: redis.Redis, ports: list[tuple[str, str]], interval: int, sample: int = 100
) -> HistoryMemory:
    """Write a week of history for up to `sample` real WAN ports and MEMORY USAGE them."""
    now = time.time()
    chosen = ports[:sample]
    sizes: list[int] = []
    fine = coarse = 0
    for seed, (gateway_id, port_id) in enumerate(chosen):
        port = week_of_history(interval, seed, now)
        fine, coarse = len(port.fine), len(port.coarse)
        key = redis_cache.history_key(gateway_id, port_id) + f":bench{interval}"
        client.set(key, redis_cache.encode_history(port), ex=600)
        sizes.append(int(client.memory_usage(key) or 0))
        client.delete(key)
    return HistoryMemory(
        interval=interval,
        ports=len(chosen),
        fine_samples=fine,
        coarse_samples=coarse,
        median_bytes=statistics.median(sizes) if sizes else 0.0,
        max_bytes=max(sizes) if sizes else 0,
    )


def stored_history_bytes(client: redis.Redis) -> tuple[int, float]:
    """(history keys, median MEMORY USAGE) of what the worker itself stored so far."""
    sizes = []
    for key in client.scan_iter(match="mist:insights:*", count=1000):
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name.startswith("mist:insights:all"):
            continue
        sizes.append(int(client.memory_usage(name) or 0))
    return len(sizes), (statistics.median(sizes) if sizes else 0.0)

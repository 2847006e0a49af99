"""Redis bytes per WAN port once 7 days of traffic history are stored.

Histories are built by the product's own code (history.add_counters, one reading per
refresh for 7 days) and written under the product's key names and encoding
(store.keys.history_key, traffic.plan's writes), then measured with MEMORY USAGE: what a real
deployment holds after a week, without waiting a week.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass

import redis

from history.samples import PortHistory, add_counters, prune
from store.histories import (
    port_history,
    queue_history_write,
    read_history_states,
    read_stored_histories,
)
from store.keys import COARSE_SUFFIX, FINE_SUFFIX, history_key
from traffic.plan import plan_counters_write, plan_history_write

WEEK = 7 * 86400


@dataclass
class HistoryMemory:
    interval: int
    ports: int
    fine_samples: int
    coarse_samples: int
    median_bytes: float
    max_bytes: int


def week_of_history(interval: int, seed: int, now: float) -> PortHistory:
    """A port's history after 7 days of refreshes every `interval` s, with a reboot."""
    rng = random.Random(seed)
    port: PortHistory | None = None
    rx = tx = 0
    reboot_at = now - rng.uniform(0, WEEK)
    ts = now - WEEK
    while ts <= now:
        rx += int(rng.uniform(1e6, 5e7) * interval / 8)
        tx += int(rng.uniform(1e5, 1e7) * interval / 8)
        if abs(ts - reboot_at) < interval:
            rx = tx = 0
        port = add_counters(port, ts=ts, rx_bytes=rx, tx_bytes=tx)
        ts += interval
    assert port is not None
    return port


def _port_bytes(client: redis.Redis, key: str) -> int:
    """MEMORY USAGE of a port's history: its home key plus any `:fine` / `:coarse` companions."""
    suffixes = ("", FINE_SUFFIX, COARSE_SUFFIX)
    return sum(int(client.memory_usage(key + suffix) or 0) for suffix in suffixes)


def measure_history_memory(
    client: redis.Redis, ports: list[tuple[str, str]], interval: int, sample: int = 10
) -> HistoryMemory:
    """A week of refreshes every `interval` s for `sample` real WAN ports, written the way
    the worker writes them (the home key alone when it suffices, else the whole history →
    the same commands publish sends), then MEMORY USAGE of each port's keys."""
    now = time.time()
    chosen = [(gateway, f"{port}:bench{interval}") for gateway, port in ports[:sample]]
    rng = random.Random(interval)
    counters = {port: [0, 0] for port in chosen}
    reboot = {port: now - rng.uniform(0, WEEK) for port in chosen}
    ts = now - WEEK + interval
    while ts <= now:
        states = read_history_states(client, chosen)
        pipe = client.pipeline(transaction=True)
        for port in chosen:
            rx_tx = counters[port]
            rx_tx[0] += int(rng.uniform(1e6, 5e7) * interval / 8)
            rx_tx[1] += int(rng.uniform(1e5, 1e7) * interval / 8)
            if abs(ts - reboot[port]) < interval:
                rx_tx[0] = rx_tx[1] = 0
            key = history_key(*port)
            state = states.get(port)
            quick = (
                plan_counters_write(
                    key, state, now=ts, interval=interval, rx_bytes=rx_tx[0], tx_bytes=rx_tx[1]
                )
                if state is not None
                else None
            )
            if quick is not None:
                write = quick[0]
            else:  # what the worker does when the home key alone does not suffice
                before = read_stored_histories(client, [port]).get(port)
                whole = add_counters(
                    port_history(before) if before else None,
                    ts=ts,
                    rx_bytes=rx_tx[0],
                    tx_bytes=rx_tx[1],
                )
                whole = prune(whole, ts)
                write = plan_history_write(key, before, whole, now=ts, interval=interval)
            if write is not None:
                queue_history_write(pipe, key, write)
        pipe.execute()
        ts += interval
    sizes = [_port_bytes(client, history_key(*port)) for port in chosen]
    last = read_stored_histories(client, chosen)
    fine = max((len(port_history(s).fine) for s in last.values()), default=0)
    coarse = max((len(port_history(s).coarse) for s in last.values()), default=0)
    for port in chosen:
        key = history_key(*port)
        client.delete(key, key + ":fine", key + ":coarse")
    return HistoryMemory(
        interval=interval,
        ports=len(chosen),
        fine_samples=fine,
        coarse_samples=coarse,
        median_bytes=statistics.median(sizes) if sizes else 0.0,
        max_bytes=max(sizes) if sizes else 0,
    )


def stored_history_bytes(client: redis.Redis) -> tuple[int, float]:
    """(WAN ports with a stored history, median MEMORY USAGE of all their keys) as the worker
    itself left them."""
    per_port: dict[str, int] = {}
    for key in client.scan_iter(match="mist:insights:*", count=1000):
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name.startswith("mist:insights:all"):
            continue
        home = name.removesuffix(":fine").removesuffix(":coarse")
        per_port[home] = per_port.get(home, 0) + int(client.memory_usage(name) or 0)
    sizes = list(per_port.values())
    return len(sizes), (statistics.median(sizes) if sizes else 0.0)

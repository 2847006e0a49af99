"""Readers during publish: what a page, a poll and /health wait while the worker publishes.

The web is polled every 100 ms (/health and /api/gateways/rows, each from its own process so
no GIL or client batching hides a stall) across two real `worker.py --once` publishes into
the same Redis; Redis's own latency monitor names its longest command meanwhile.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench.procs import Gunicorn, Mistsim, run_worker_once

POLL_SECONDS = 0.1
PATHS = ("/health", "/api/gateways/rows")


@dataclass
class ReaderFigures:
    gateways: int
    path: str
    requests: int
    median_ms: float
    p99_ms: float
    max_ms: float
    failures: int


@dataclass
class PublishFigures:
    gateways: int
    publishes: int
    readers: list[ReaderFigures]
    longest_command_ms: int  # Redis LATENCY LATEST, the "command" event's max
    longest_commands: list[str]  # SLOWLOG's longest few: "NAME key (ms)"


def _poll(url: str, stop: Any, queue: Any) -> None:
    """One reader: GET `url` every 100 ms until `stop` is set; (seconds, ok) per request."""
    timings: list[tuple[float, bool]] = []
    while not stop.is_set():
        started = time.perf_counter()
        ok = True
        try:
            headers = {"Accept-Encoding": "gzip"}
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10):
                pass
        except OSError:
            ok = False
        elapsed = time.perf_counter() - started
        timings.append((elapsed, ok))
        time.sleep(max(0.0, POLL_SECONDS - elapsed))
    queue.put((url, timings))


def _figures(gateways: int, path: str, timings: list[tuple[float, bool]]) -> ReaderFigures:
    times = sorted(seconds * 1000 for seconds, _ in timings) or [0.0]
    return ReaderFigures(
        gateways=gateways,
        path=path,
        requests=len(timings),
        median_ms=statistics.median(times),
        p99_ms=times[min(len(times) - 1, int(0.99 * len(times)))],
        max_ms=times[-1],
        failures=sum(1 for _, ok in timings if not ok),
    )


def _longest_command_ms(client: redis.Redis) -> int:
    for event in client.execute_command("LATENCY", "LATEST"):
        if event[0] in (b"command", "command"):
            return int(event[3])
    return 0


SLOWLOG_MS = 10  # commands this long are named in the report (SLOWLOG)


def _longest_commands(client: redis.Redis, count: int = 3) -> list[str]:
    """The longest commands SLOWLOG kept, as "NAME key (ms)": what held readers up."""
    entries = sorted(client.slowlog_get(128), key=lambda entry: -int(entry["duration"]))
    named = []
    for entry in entries[:count]:
        raw = entry["command"]
        words = (raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)).split()
        named.append(f"{' '.join(words[:2])[:60]} ({int(entry['duration']) / 1000:.0f} ms)")
    return named


def measure_readers(
    mist: Mistsim,
    redis_url: str,
    workdir: Path,
    gateways: int,
    tokens: list[str],
    *,
    publishes: int = 2,
) -> PublishFigures:
    """Poll the web from separate processes while the worker publishes `publishes` times."""
    client = redis.Redis.from_url(redis_url)
    client.config_set("latency-monitor-threshold", 1)
    client.execute_command("LATENCY", "RESET")
    slowlog = str(client.config_get("slowlog-log-slower-than")["slowlog-log-slower-than"])
    client.config_set("slowlog-log-slower-than", SLOWLOG_MS * 1000)
    client.slowlog_reset()
    server = Gunicorn("app:create_app()", redis_url, workdir / "web-readers.log").start()
    try:
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        stop = context.Event()
        pollers = [
            context.Process(target=_poll, args=(server.url + path, stop, queue)) for path in PATHS
        ]
        for poller in pollers:
            poller.start()
        time.sleep(2)  # the pollers are up and polling before the first publish
        for _ in range(publishes):
            run_worker_once(mist, redis_url, tokens)
        time.sleep(1)
        stop.set()
        results = dict(queue.get(timeout=60) for _ in pollers)
        for poller in pollers:
            poller.join(timeout=30)
        longest = _longest_command_ms(client)
        named = _longest_commands(client)
    finally:
        server.stop()
        client.config_set("latency-monitor-threshold", 0)
        client.config_set("slowlog-log-slower-than", slowlog)
    readers = [_figures(gateways, path, results[server.url + path]) for path in PATHS]
    return PublishFigures(gateways, publishes, readers, longest, named)


def readers_section(figures: list[PublishFigures]) -> Any:
    """The "readers during publish" table of docs/BENCHMARKS.md."""
    from bench.report import Section

    section = Section(
        "Readers during publish (web polled every 100 ms across real publishes)",
        ["gateways", "endpoint", "requests", "median (ms)", "p99 (ms)", "max (ms)", "failed",
         "longest Redis command (ms)", "target"],
    )  # fmt: skip
    for run in figures:
        for reader in run.readers:
            target = ""
            if run.gateways >= 10000:
                met = reader.max_ms <= 100 and run.longest_command_ms <= 50
                target = f"max ≤ 100 ms, command ≤ 50 ms: {'✅ met' if met else '❌ missed'}"
            section.rows.append(
                [run.gateways, reader.path, reader.requests, reader.median_ms, reader.p99_ms,
                 reader.max_ms, reader.failures, run.longest_command_ms, target]
            )  # fmt: skip
    section.notes.append(
        "Each endpoint polled from its own process (gzip accepted) while `worker.py --once` "
        "publishes twice into the same Redis (lazyfree on, as shipped); the longest command is "
        "Redis's own `LATENCY LATEST` (`latency-monitor-threshold 1`), named by `SLOWLOG`. "
        "The switch is a few dozen O(1) commands; what remains long is building and copying "
        "the biggest documents (APPEND growing a string of tens of MB, COPY to its last-good "
        "name, UNLINK of the old one: a string is freed at once): it grows with the largest "
        "document's size (DATA.md §2)."
    )
    for run in figures:
        if run.longest_commands:
            section.notes.append(
                f"{run.gateways:,} gateways, longest commands: {', '.join(run.longest_commands)}"
            )
    return section

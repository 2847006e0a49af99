"""Mist calls, refresh wall time and worker peak RSS at 100 / 1,000 / 10,000 gateways.

One mistsim per size (4 WAN ports and 6 peer paths per gateway, half as many sites,
150 ms latency on every call), a fresh Redis, then `worker.py --once` twice: the first
run (history backfill, hourly config) and the steady state (what every refresh costs).
Both start with empty or one-sample traffic histories, so a third run measures what a
deployment pays a week in: every WAN port seeded with 7 days of history (288 fine samples,
168 hourly buckets at 300 s), then `worker.py --once` again.
The calls are counted by mistsim — what Mist itself would bill against the tokens.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench.memory import week_of_history
from bench.procs import Mistsim, RedisServer, WorkerRun, run_worker_once
from history.samples import PortHistory
from store.histories import port_history, read_stored_histories
from store.history_codec import NO_ORG
from store.reads import read_document
from traffic.plan import write_port_histories

TOKENS = ["bench-token-a", "bench-token-b", "bench-token-c"]
# What every refresh asks (DATA.md §1 rows 1-5), what is hourly (6-8) and what is catch-up
# (9-10: device configs and history backfill, capped per refresh until everything is cached).
HOURLY = ("/gatewaytemplates", "/deviceprofiles", "/inventory")
CATCH_UP = ("/sites/{site_id}/devices", "/insights/")  # a gateway's config, a site's list
WEEK_INTERVAL = 300  # the worker's default WORKER_INTERVAL, which run_worker_once uses
SEED_DISTINCT = 48  # distinct week histories reused round-robin when building one per port …
SEED_BUDGET_SECONDS = 20.0  # … would take longer than this (≈ 19 ms each: 40,000 ports ≈ 13 min)
SEED_CHUNK = 1000  # ports read, built and written at a time (bounds the bench's own memory)
SEED_CHECK = 500  # ports read back after the run to confirm it appended a sample
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class RunFigures:
    """One `worker.py --once`: calls Mist saw (by kind), seconds, peak RSS."""

    calls: int
    by_kind: dict[str, int]
    seconds: float
    refresh_seconds: float | None
    peak_rss_mb: float
    ok: bool
    error: str = ""
    configs_read: int = 0  # gateways whose device config this refresh read (its status)

    def _sum(self, wanted: tuple[str, ...]) -> int:
        return sum(n for kind, n in self.by_kind.items() if any(w in kind for w in wanted))

    @property
    def hourly(self) -> int:
        return self._sum(HOURLY)

    @property
    def catch_up(self) -> int:
        return self._sum(CATCH_UP)

    @property
    def every_refresh(self) -> int:
        """Steady state: the calls left once configs and history are cached."""
        return self.calls - self.hourly - self.catch_up


@dataclass
class SeedFigures:
    """How the WAN ports got their week of history before the third run, and what it did."""

    ports: int
    distinct: int  # distinct week histories built; fewer than `ports` means reused round-robin
    build_seconds: float  # building them with history.add_counters (bench/memory.py)
    write_seconds: float  # storing them with traffic.plan.write_port_histories
    end: float  # the worker's last refresh, where every seeded week ends
    fine_samples: int  # median per port as stored (read back)
    hourly_buckets: int
    baseline_only: int = 0  # ports the worker stored no counters for (disconnected gateways)
    after_seconds: float = 0.0  # from the last refresh (the seeded end) to the measured one
    checked: int = 0  # ports read back after the run …
    appended: int = 0  # … whose history the run extended by a sample (the realistic cost)


@dataclass
class ScaleFigures:
    gateways: int
    sites: int
    circuits: int
    peer_paths: int
    first: RunFigures
    steady: RunFigures
    extra_runs: list[RunFigures] = field(default_factory=list)
    week: RunFigures | None = None  # steady, a week of history (ScaleRun.measure_week)
    seed: SeedFigures | None = None

    @property
    def per_gateway_per_port(self) -> int:
        """The usual way: list org, sites and gateways, then one peer-path call per gateway
        and one insights call per WAN port, every refresh."""
        pages = 1 + math.ceil(self.sites / 1000) + math.ceil(self.gateways / 1000)
        return pages + self.gateways + self.circuits


def kind_of(path: str) -> str:
    """`/api/v1/sites/<id>/devices/<id>` → `/api/v1/sites/{id}/devices/{id}`."""
    return _ID.sub("{id}", path.split("?", 1)[0])


def mist_calls(mist: Mistsim) -> dict[str, int]:
    """Calls mistsim answered so far, by kind of call (its `/__mistsim/calls` counters)."""
    raw: Any = mist.admin("calls")
    counts: dict[str, int] = {}
    for endpoint, n in (raw.get("by_endpoint") or {}).items():
        counts[kind_of(str(endpoint))] = counts.get(kind_of(str(endpoint)), 0) + int(n)
    return counts


def calls_since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0) > 0}


def _refresh_run(mist: Mistsim, redis_url: str) -> RunFigures:
    return worker_run(mist, redis_url, TOKENS)[0]


def worker_run(
    mist: Mistsim, redis_url: str, tokens: list[str], extra_env: dict[str, str] | None = None
) -> tuple[RunFigures, WorkerRun]:
    """One `worker.py --once`: its Mist calls by kind (`/self` left out: once per start),
    wall time, peak RSS and the refresh's own seconds from its status."""
    before = mist_calls(mist)
    run: WorkerRun = run_worker_once(mist, redis_url, tokens, extra_env=extra_env)
    by_kind = calls_since(before, mist_calls(mist))
    by_kind = {k: v for k, v in by_kind.items() if "/api/v1/self" not in k}
    status = _status(redis_url)
    figures = RunFigures(
        calls=sum(by_kind.values()),
        by_kind=by_kind,
        seconds=run.seconds,
        peak_rss_mb=run.peak_rss_mb,
        refresh_seconds=status.get("refresh_seconds") if run.returncode == 0 else None,
        ok=run.returncode == 0,
        error="" if run.returncode == 0 else run.output[-800:],
        configs_read=_configs_read(status),
    )
    return figures, run


def _configs_read(status: dict[str, Any]) -> int:
    entry = (status.get("datasets") or {}).get("device_configs") or {}
    items = entry.get("items")
    return items if isinstance(items, int) else 0


def refreshes_until(total: int, first: int, then: int) -> int | None:
    """Refreshes until `total` items are read, `first` in the first refresh and `then` in
    each one after (None: it never ends at that pace)."""
    if first >= total:
        return 1
    return None if then <= 0 else 1 + math.ceil((total - first) / then)


def catch_up_note(f: ScaleFigures, interval: int = WEEK_INTERVAL) -> str | None:
    """What catch-up costs and how long each part takes at this size: the device configs
    until every WAN port knows whether it follows its template, and the history backfill
    until steady state (the two run side by side; the longer one ends the catch-up)."""
    first, then = f.first.configs_read, f.steady.configs_read
    config_calls = sum(n for k, n in f.steady.by_kind.items() if "/sites/{site_id}/devices" in k)
    backfill = sum(n for k, n in f.first.by_kind.items() if "/insights/" in k)
    configs = refreshes_until(f.gateways, first, then)
    if not first or configs is None:
        return None

    def hours(refreshes: int) -> str:
        return f"{refreshes * interval / 3600:.1f} h at {interval} s"

    note = (
        f"{f.gateways:,} gateways: device configs: {first:,} gateways read in the first "
        f"refresh, then {then:,} a refresh ({config_calls} calls) → every WAN port's "
        f"template or override known after ~{configs} refreshes ({hours(configs)})"
    )
    if backfill:
        refreshes = math.ceil(f.circuits / backfill)
        note += (
            f"; backfill {backfill} calls a refresh → ~{refreshes} refreshes "
            f"({hours(refreshes)}) until steady state"
        )
    return note + "."


def _status(redis_url: str) -> dict[str, Any]:
    client = redis.Redis.from_url(redis_url)
    raw = client.get("mist:metadata:status")
    return json.loads(raw) if raw else {}


def summary_counts(redis_url: str) -> dict[str, int]:
    client = redis.Redis.from_url(redis_url)
    raw = read_document(client, "mist:gateways")
    if not raw:
        return {}
    summary = json.loads(raw).get("summary") or {}
    return {k: int(v) for k, v in summary.items() if isinstance(v, int)}


def wan_ports(redis_url: str) -> list[tuple[str, str]]:
    client = redis.Redis.from_url(redis_url)
    raw = read_document(client, "mist:gateways")
    if not raw:
        return []
    payload = json.loads(raw)
    return [
        (gateway["id"], port["port_id"])
        for gateway in payload.get("gateways") or []
        for port in gateway.get("ports") or []
    ]


def _worker_last_refresh(redis_url: str) -> float:
    last = _status(redis_url).get("last_update")
    if not isinstance(last, int | float):
        raise RuntimeError("no successful refresh in mist:metadata:status: nothing to seed after")
    return float(last)


def seed_week_of_history(
    redis_url: str,
    *,
    interval: int = WEEK_INTERVAL,
    distinct: int = SEED_DISTINCT,
    budget_seconds: float = SEED_BUDGET_SECONDS,
) -> SeedFigures:
    """Give every WAN port of the org a week of history ending at the worker's last refresh.

    The samples come from `week_of_history` (the product's own `history.add_counters`); the
    counters state (`last_ts`, `last_rx_bytes`, `last_tx_bytes`) is each port's real stored
    one, so the next refresh appends a sample to a full week, as it does every 300 s in a
    deployment. One history per port when that fits `budget_seconds`, else `distinct` ones
    reused (only the stored samples matter to the cost).
    """
    client = redis.Redis.from_url(redis_url)
    ports = wan_ports(redis_url)
    if not ports:
        raise RuntimeError("no WAN ports in mist:gateways: the worker must have published")
    end = _worker_last_refresh(redis_url)
    started = time.monotonic()
    bases = [week_of_history(interval, seed, end) for seed in range(min(distinct, len(ports)))]
    build_seconds = time.monotonic() - started
    one_each = build_seconds / len(bases) * len(ports) <= budget_seconds
    write_seconds = 0.0
    baseline_only = 0
    for first in range(0, len(ports), SEED_CHUNK):
        chunk = ports[first : first + SEED_CHUNK]
        stored = read_stored_histories(client, chunk)
        started = time.monotonic()
        histories: dict[tuple[str, str], PortHistory] = {}
        for index, port in enumerate(chunk, start=first):
            if index < len(bases) or not one_each:
                base = bases[index % len(bases)]
            else:
                base = week_of_history(interval, index, end)
            last_ts: float | None
            rx: int | None
            tx: int | None
            state = stored.get(port)
            seen = None if state is None else state.home.state
            if seen is None or seen.last_ts is None:
                baseline_only += 1
                last_ts, rx, tx = end, None, None
            else:
                last_ts, rx, tx = seen.last_ts, seen.last_rx_bytes, seen.last_tx_bytes
            histories[port] = dataclasses.replace(
                base,
                last_ts=last_ts,
                last_rx_bytes=rx,
                last_tx_bytes=tx,
                fine=list(base.fine),
                coarse=list(base.coarse),
            )
        build_seconds += time.monotonic() - started
        started = time.monotonic()
        # The worker's own org tag, so its next refresh continues these histories.
        org = next((found.home.org for found in stored.values()), NO_ORG)
        write_port_histories(client, histories, now=end, interval=interval, org=org)
        write_seconds += time.monotonic() - started
    back = read_stored_histories(client, _spread(ports, SEED_CHECK))
    return SeedFigures(
        ports=len(ports),
        distinct=len(ports) if one_each else len(bases),
        build_seconds=build_seconds,
        write_seconds=write_seconds,
        end=end,
        fine_samples=_median_int(len(port_history(s).fine) for s in back.values()),
        hourly_buckets=_median_int(len(port_history(s).coarse) for s in back.values()),
        baseline_only=baseline_only,
    )


def appended_after(redis_url: str, seed: SeedFigures) -> tuple[int, int]:
    """(ports checked, ports whose stored history gained a sample after the seeded week)."""
    client = redis.Redis.from_url(redis_url)
    ports = _spread(wan_ports(redis_url), SEED_CHECK)
    back = read_stored_histories(client, ports)
    fine = [port_history(s).fine for s in back.values()]
    grown = sum(1 for samples in fine if samples and samples[-1][0] > seed.end)
    return len(ports), grown


def _spread(items: list[tuple[str, str]], count: int) -> list[tuple[str, str]]:
    """Up to `count` items evenly spread over the list (first, middle and last gateways)."""
    step = max(1, math.ceil(len(items) / count))
    return items[::step]


def _median_int(values: Iterable[int]) -> int:
    found = list(values)
    return round(statistics.median(found)) if found else 0


class ScaleRun:
    """Context manager: Redis + mistsim for one size, refreshed first and steady."""

    def __init__(self, gateways: int, workdir: Path, latency_ms: int = 150) -> None:
        self.gateways = gateways
        self.sites = max(1, gateways // 2)
        self.workdir = workdir / f"gw{gateways}"
        self.redis = RedisServer(self.workdir / "redis")
        self.mist = Mistsim(gateways, self.sites, TOKENS, self.workdir, latency_ms=latency_ms)

    def __enter__(self) -> ScaleRun:
        self.redis.start()
        try:
            self.mist.start()
        except Exception:
            self.redis.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.mist.stop()
        self.redis.stop()

    def measure(self, steady_runs: int = 1) -> ScaleFigures:
        first = _refresh_run(self.mist, self.redis.url)
        runs = [_refresh_run(self.mist, self.redis.url) for _ in range(max(1, steady_runs))]
        counts = summary_counts(self.redis.url)
        return ScaleFigures(
            gateways=self.gateways,
            sites=self.sites,
            circuits=counts.get("circuits", self.gateways * 4),
            peer_paths=counts.get("peer_paths", self.gateways * 6),
            first=first,
            steady=runs[-1],
            extra_runs=runs[:-1],
        )

    def measure_week(self, figures: ScaleFigures, *, on_schedule: bool = True) -> ScaleFigures:
        """After `measure`: seed a week of history on every WAN port, refresh once more.

        On schedule, the refresh starts one WORKER_INTERVAL after the last one (the bench
        waits for what seeding left of it), as a deployment's next refresh does: the new
        sample then spans a whole interval, and the ports whose periodic `:fine` rewrite
        falls on this refresh see their oldest sample leave the 24 h tier, as every refresh.
        """
        seed = seed_week_of_history(self.redis.url)
        figures.seed = seed
        if on_schedule:
            time.sleep(max(0.0, seed.end + WEEK_INTERVAL - time.time()))
        else:  # at least a second on: a reading in the seeded end's second replaces it
            time.sleep(max(0.0, seed.end + 1.5 - time.time()))
        seed.after_seconds = time.time() - seed.end
        figures.week = _refresh_run(self.mist, self.redis.url)
        seed.checked, seed.appended = appended_after(self.redis.url, seed)
        return figures

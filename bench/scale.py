"""Mist calls, refresh wall time and worker peak RSS at 100 / 1,000 / 10,000 gateways.

One mistsim per size (4 WAN ports and 6 peer paths per gateway, half as many sites,
150 ms latency on every call), a fresh Redis, then `worker.py --once` twice: the first
run (history backfill, hourly config) and the steady state (what every refresh costs).
The calls are counted by mistsim — what Mist itself would bill against the tokens.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench.procs import Mistsim, RedisServer, WorkerRun, run_worker_once

TOKENS = ["bench-token-a", "bench-token-b", "bench-token-c"]
# What every refresh asks (DATA.md §1 rows 1-5), what is hourly (6-8) and what is catch-up
# (9-10: device configs and history backfill, capped per refresh until everything is cached).
HOURLY = ("/gatewaytemplates", "/deviceprofiles", "/inventory")
CATCH_UP = ("/devices/{device_id}", "/insights/")
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
class ScaleFigures:
    gateways: int
    sites: int
    circuits: int
    peer_paths: int
    first: RunFigures
    steady: RunFigures
    extra_runs: list[RunFigures] = field(default_factory=list)

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
    before = mist_calls(mist)
    run: WorkerRun = run_worker_once(mist, redis_url, TOKENS)
    by_kind = calls_since(before, mist_calls(mist))
    by_kind = {k: v for k, v in by_kind.items() if "/api/v1/self" not in k}
    status = _status(redis_url)
    return RunFigures(
        calls=sum(by_kind.values()),
        by_kind=by_kind,
        seconds=run.seconds,
        refresh_seconds=status.get("refresh_seconds"),
        peak_rss_mb=run.peak_rss_mb,
        ok=run.returncode == 0,
        error="" if run.returncode == 0 else run.output[-800:],
    )


def _status(redis_url: str) -> dict[str, Any]:
    client = redis.Redis.from_url(redis_url)
    raw = client.get("mist:metadata:status")
    return json.loads(raw) if raw else {}


def summary_counts(redis_url: str) -> dict[str, int]:
    client = redis.Redis.from_url(redis_url)
    raw = client.get("mist:gateways")
    if not raw:
        return {}
    summary = json.loads(raw).get("summary") or {}
    return {k: int(v) for k, v in summary.items() if isinstance(v, int)}


def wan_ports(redis_url: str) -> list[tuple[str, str]]:
    client = redis.Redis.from_url(redis_url)
    raw = client.get("mist:gateways")
    if not raw:
        return []
    payload = json.loads(raw)
    return [
        (gateway["id"], port["port_id"])
        for gateway in payload.get("gateways") or []
        for port in gateway.get("ports") or []
    ]


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

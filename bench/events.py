"""Events, availability and worst circuits (issues 12 and 15) at 10,000 gateways, one org.

One mistsim (150 ms per call, 4 WAN ports and 6 peer paths per spoke) and `worker.py --once`
three times: the first run only learns (no state to compare with), the next two derive
events and count availability, and their logs say what each step cost ("events: … s",
"availability: … s"). Redis cost per event: realistic events (the org's own gateways, ports
and peers) written by store/events.py's own writer into the worker's sorted set, then
`MEMORY USAGE`. `/api/events` and `/api/worst` under wrk at 8 clients; the worst-circuits
document built and encoded from the stored gateways payload with views/worst.py.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench.orgs import measure_api
from bench.procs import Gunicorn, Mistsim, run_worker_once
from bench.report import Section, verdict
from bench.scale import TOKENS, calls_since, mist_calls
from model.events import make_event
from store.codec import encode_json
from store.events import count_events, encode_member, read_events_org, write_events
from store.keys import events_key, events_system_key
from views.worst import WorstCircuits

EVENTS_LOG = re.compile(r"events: (\d+) new \((\d+) read from Mist\), ([\d.]+) s")
AVAILABILITY_LOG = re.compile(r"availability: (\d+) circuits, (\d+) buckets closed, ([\d.]+) s")
EVENTS_CALL = "/devices/events/search"
SLE_CALL = "/insights/sites-sle"
PER_HOUR_30_DAYS = 24 * 30  # 1 event per gateway per hour, 30 days
BATCH = 10_000


@dataclass
class StepFigures:
    """One refresh after the first: what deriving events and availability cost."""

    events: int
    from_mist: int
    events_seconds: float  # derive + merge + availability's read of its sums (one log line)
    circuits: int
    availability_seconds: float  # availability's read + advance + documents
    events_calls: int  # call 13 of DATA.md §1
    refresh_seconds: float
    calls: int


@dataclass
class EventsFigures:
    gateways: int
    steps: list[StepFigures] = field(default_factory=list)
    inserted: int = 0
    set_bytes: int = 0  # MEMORY USAGE of the org's sorted set after the insert
    member_bytes: float = 0.0  # median encoded member (head + JSON)
    insert_seconds: float = 0.0
    events_p50_ms: float = 0.0
    events_p99_ms: float = 0.0
    events_rps: float = 0.0
    worst_seconds: float = 0.0  # views/worst.py over the stored payload, built + encoded
    worst_bytes: int = 0
    worst_ports: int = 0
    worst_p50_ms: float = 0.0
    worst_p99_ms: float = 0.0
    worst_rps: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def per_event(self) -> float:
        return self.set_bytes / self.inserted if self.inserted else 0.0

    @property
    def month_events(self) -> int:
        return self.gateways * PER_HOUR_30_DAYS

    @property
    def month_bytes(self) -> float:
        return self.per_event * self.month_events


def _step(mist: Mistsim, redis_url: str) -> tuple[StepFigures | None, str]:
    before = mist_calls(mist)
    run = run_worker_once(mist, redis_url, TOKENS)
    by_kind = calls_since(before, mist_calls(mist))
    raw = redis.Redis.from_url(redis_url).get("mist:metadata:status")
    status = json.loads(raw) if raw else {}
    found = EVENTS_LOG.search(run.output)
    counted = AVAILABILITY_LOG.search(run.output)
    if run.returncode != 0 or found is None or counted is None:
        return None, run.output[-800:]
    return (
        StepFigures(
            events=int(found[1]),
            from_mist=int(found[2]),
            events_seconds=float(found[3]),
            circuits=int(counted[1]),
            availability_seconds=float(counted[3]),
            events_calls=sum(n for k, n in by_kind.items() if EVENTS_CALL in k),
            refresh_seconds=float(status.get("refresh_seconds") or run.seconds),
            calls=sum(n for k, n in by_kind.items() if "/api/v1/self" not in k),
        ),
        "",
    )


def realistic_events(payload: dict[str, Any], count: int, end: float) -> list[dict[str, Any]]:
    """`count` events over the 30 days before `end`, on the org's own gateways, WAN ports
    and peers, the mix a month brings (ports and paths down and up, gateways, degradation)."""
    sites = {s.get("id"): s.get("name") for s in payload.get("sites") or []}
    gateways = [g for g in payload.get("gateways") or [] if g.get("ports")]
    pick = random.Random(11)
    step = 30 * 86400 / max(1, count)
    events = []
    for n in range(count):
        gateway = gateways[n % len(gateways)]
        port = pick.choice(gateway["ports"])
        when = end - 30 * 86400 + n * step
        facts: dict[str, Any] = {
            "org_id": gateway.get("org_id"),
            "org_name": "Bench Org",
            "site_id": gateway.get("site_id"),
            "site_name": sites.get(gateway.get("site_id")) or gateway.get("site_name"),
            "gateway_id": gateway["id"],
            "gateway_name": gateway.get("name"),
        }
        roll = n % 10
        if roll < 4:
            kind = "port_down" if n % 2 else "port_up"
            facts.update(port_id=port["port_id"], before=kind == "port_up", after=kind != "port_up")
        elif roll < 8:
            kind = "path_down" if n % 2 else "path_up"
            facts.update(
                port_id=port["port_id"],
                peer_mac="020000" + f"{n % 65536:06x}",
                peer_name=f"dc{n % 3 + 1}-hub-gw01",
                peer_port_id="ge-0/0/" + str(n % 4),
                before=kind == "path_up",
                after=kind != "path_up",
            )
        elif roll == 8:
            kind = "gateway_offline" if n % 2 else "gateway_online"
            facts.update(before=kind == "gateway_online", after=kind != "gateway_online")
        else:
            kind = "circuit_degraded"
            quality = {"degraded": True, "latency": 180.5, "jitter": 31.2, "loss": 2.41, "mos": 3.6}
            facts.update(port_id=port["port_id"], before=False, after=quality)
        source = ("refresh", "mist", "refresh+mist")[n % 3]
        events.append(make_event(kind, when, source, **facts))
    return events


def store_events(redis_url: str, count: int) -> tuple[int, int, float, float]:
    """Write `count` events into the worker's set with store/events.py's writer; (inserted,
    MEMORY USAGE growth, median member bytes, seconds)."""
    client = redis.Redis.from_url(redis_url)
    payload = json.loads(client.get("mist:gateways") or b"{}")
    org_id = read_events_org(client) or str(payload.get("org_id") or "bench")
    key = events_key(org_id)
    before_bytes = int(client.memory_usage(key, samples=0) or 0)
    before = count_events(client, org_id)
    end = time.time()
    events = realistic_events(payload, count, end)
    system = json.loads(client.get(events_system_key(org_id)) or b"{}")
    started = time.monotonic()
    for first in range(0, len(events), BATCH):
        write_events(client, org_id, events[first : first + BATCH], system, end)
    seconds = time.monotonic() - started
    after_bytes = int(client.memory_usage(key, samples=0) or 0)
    inserted = count_events(client, org_id) - before
    member = statistics.median(len(encode_member(e)) for e in events[:2000])
    return inserted, after_bytes - before_bytes, float(member), seconds


def build_worst(redis_url: str) -> tuple[float, int, int]:
    """views/worst.py fed the stored gateways payload, as the worker feeds it: (seconds to
    build and encode, bytes, WAN ports ranked)."""
    client = redis.Redis.from_url(redis_url)
    payload = json.loads(client.get("mist:gateways") or b"{}")
    sites = json.loads(client.get("mist:sites") or b"[]")
    times = []
    body = b""
    ports = 0
    for _ in range(3):
        started = time.perf_counter()
        worst = WorstCircuits(sites)
        for gateway in payload.get("gateways") or []:
            worst.add(gateway)
        body = encode_json(worst.document(time.time()))
        times.append(time.perf_counter() - started)
        ports = worst.ports
    return statistics.median(times), len(body), ports


def measure_events(
    mist: Mistsim,
    redis_url: str,
    workdir: Path,
    gateways: int,
    *,
    events: int = 200_000,
    seconds: float = 4.0,
    rounds: int = 3,
) -> EventsFigures:
    """Three refreshes, the stored events' cost, /api/events, the worst circuits."""
    figures = EventsFigures(gateways)
    for n in range(3):
        step, error = _step(mist, redis_url)
        if step is None:
            figures.problems.append(
                f"{gateways} gateways: refresh {n + 1} gave no figures: {error}"
            )
        elif n > 0:  # the first run only learns
            figures.steps.append(step)
    inserted, grew, member, took = store_events(redis_url, events)
    figures.inserted, figures.set_bytes, figures.member_bytes = inserted, grew, member
    figures.insert_seconds = took
    figures.worst_seconds, figures.worst_bytes, figures.worst_ports = build_worst(redis_url)
    web = Gunicorn("app:create_app()", redis_url, workdir / "web-events.log").start()
    try:
        figures.events_p50_ms, figures.events_p99_ms, figures.events_rps = measure_api(
            web.url + "/api/events", seconds=seconds, rounds=rounds
        )
        figures.worst_p50_ms, figures.worst_p99_ms, figures.worst_rps = measure_api(
            web.url + "/api/worst", seconds=seconds, rounds=rounds
        )
    finally:
        web.stop()
    return figures


def events_sections(found: list[EventsFigures]) -> list[Section]:
    """Issue 12 (events + availability cost, Redis per event, /api/events) and issue 15."""
    events = Section(
        "Events and availability (issue 12)",
        ["gateways", "measure", "value", "target"],
    )
    worst = Section(
        "Worst circuits (issue 15)",
        ["gateways", "measure", "value", "target"],
    )
    for f in found:
        big = f.gateways >= 10000
        for n, s in enumerate(f.steps, start=2):
            added = s.events_seconds + s.availability_seconds
            events.rows += [
                [
                    f.gateways,
                    f"refresh {n}: events derived + availability counted (s)",
                    added,
                    f"≤ 3 s: {verdict(added <= 3)}" if big else "",
                ],
                [
                    f.gateways,
                    f"refresh {n}: of which events step / availability step (s)",
                    f"{s.events_seconds:.2f} / {s.availability_seconds:.2f} "
                    f"({s.events} events, {s.from_mist} from Mist; {s.circuits:,} circuits; "
                    f"refresh {s.refresh_seconds:.1f} s, {s.calls} calls)",
                    "",
                ],
                [
                    f.gateways,
                    f"refresh {n}: Mist calls events + availability add",
                    s.events_calls,
                    f"≤ 2: {verdict(s.events_calls <= 2)}",
                ],
            ]
        events.rows += [
            [
                f.gateways,
                f"Redis bytes per stored event ({f.inserted:,} written, member median "
                f"{f.member_bytes:.0f} B)",
                f.per_event,
                "",
            ],
            [
                f.gateways,
                f"30 days at 1 event per gateway per hour ({f.month_events:,} events)",
                f"{f.month_bytes / 1e6:,.0f} MB",
                f"≤ 200 MB: {verdict(f.month_bytes <= 200e6)}" if big else "",
            ],
            [
                f.gateways,
                "the same under the 2,000,000-event cap (store/events.py MAX_EVENTS)",
                f"{min(f.month_events, 2_000_000) * f.per_event / 1e6:,.0f} MB",
                "",
            ],
            [f.gateways, "/api/events p50 at 8 clients (ms)", f.events_p50_ms, ""],
            [
                f.gateways,
                "/api/events p99 at 8 clients (ms)",
                f.events_p99_ms,
                f"≤ 50 ms: {verdict(f.events_p99_ms <= 50)}",
            ],
        ]
        worst.rows += [
            [
                f.gateways,
                f"worst-circuits document built + encoded ({f.worst_ports:,} WAN ports, "
                f"{f.worst_bytes:,} bytes) (s)",
                f.worst_seconds,
                f"≤ 1 s: {verdict(f.worst_seconds <= 1)}" if big else "",
            ],
            [f.gateways, "/api/worst p50 at 8 clients (ms)", f.worst_p50_ms, ""],
            [
                f.gateways,
                "/api/worst p99 at 8 clients (ms)",
                f.worst_p99_ms,
                f"≤ 50 ms: {verdict(f.worst_p99_ms <= 50)}",
            ],
        ]
    events.notes += [
        "One org, mistsim 150 ms per call, `worker.py --once` three times (WORKER_INTERVAL=300): "
        "the first only learns; refreshes 2 and 3 derive events (the `events: … s` log line: "
        "reading the kept state, deriving, merging Mist's own events, and availability's read "
        "of its stored sums) and count availability (the `availability: … s` line, which "
        "includes that read once more: the sum is an upper bound). Mist's events read (call 13) "
        "runs alongside the snapshot streams, so it adds a call, not wall time; availability "
        "adds no call.",
        "Bytes per event: `MEMORY USAGE` (SAMPLES 0) growth of the worker's own `mist:events:"
        "{org}` sorted set after writing realistic events (the org's gateways, ports and peers; "
        "port, path, gateway and degradation events; all sources) with store/events.py's "
        "`write_events`, over that many events. Projection = bytes per event × gateways × 24 × 30."
        " /api/events: wrk at 8 connections on the default page (100 newest) of that set.",
    ]
    worst.notes += [
        "Build: views/worst.py's `WorstCircuits` fed every gateway record of the stored "
        "`mist:gateways` payload and its document encoded (store/codec.py), median of 3, as the "
        "worker does while the payload streams past. /api/worst: wrk at 8 connections, gzip "
        "accepted, the stored bytes (ETag)."
    ]
    return [events, worst]

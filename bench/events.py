"""Events, availability and worst circuits (issues 12 and 15) at 10,000 gateways, one org.

One mistsim (150 ms per call, 4 WAN ports and 6 peer paths per spoke) and `worker.py --once`
three times: the first run only learns (no state to compare with), the next two derive
events and count availability, and their logs say what each step cost ("events: … s",
"availability: … s"). Redis cost per event: hours of realistic events (the org's own
gateways and ports, its hubs as peers, 1 event per gateway per hour) written refresh by
refresh with store/events.py's own writer, which packs each hour as it closes, then
`MEMORY USAGE` of the blocks, the catalog and the recent set. `/api/events` and `/api/worst`
under wrk at 8 clients; the worst-circuits document built and encoded from the stored
gateways payload with views/worst.py.
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
from bench.report import Section, latency_rows, verdict
from bench.scale import TOKENS, calls_since, mist_calls
from model.events import make_event
from store.codec import encode_json
from store.event_pack import read_meta
from store.events import read_events_org, write_events
from store.keys import event_blocks_key, event_catalog_key, events_key, events_system_key
from store.reads import read_document
from views.worst import WorstCircuits

EVENTS_LOG = re.compile(r"events: (\d+) new \((\d+) read from Mist\), ([\d.]+) s")
AVAILABILITY_LOG = re.compile(r"availability: (\d+) circuits, (\d+) buckets closed, ([\d.]+) s")
EVENTS_CALL = "/devices/events/search"
SLE_CALL = "/insights/sites-sle"
PER_HOUR_30_DAYS = 24 * 30  # 1 event per gateway per hour, 30 days
REFRESH = 300  # seconds between the writes (WORKER_INTERVAL)


@dataclass
class StepFigures:
    """One refresh after the first: what deriving events and availability cost."""

    events: int
    from_mist: int
    events_seconds: float  # the kept state read, derived, Mist's merged, state encoded
    circuits: int
    availability_seconds: float  # the circuit catalogue, the sums' read, advance, documents
    events_calls: int  # call 13 of DATA.md §1
    refresh_seconds: float
    calls: int


@dataclass
class EventsFigures:
    gateways: int
    steps: list[StepFigures] = field(default_factory=list)
    inserted: int = 0
    packed: int = 0  # of which packed into blocks (the rest: the hour still open)
    block_bytes: int = 0  # MEMORY USAGE growth of the org's blocks
    catalog_bytes: int = 0  # and of its catalog (every gateway once: does not grow with time)
    recent_bytes: int = 0  # and of its recent set (about the last hour: does not grow either)
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
        """Bytes of a packed event (what 30 days are made of)."""
        return self.block_bytes / self.packed if self.packed else 0.0

    @property
    def month_events(self) -> int:
        return self.gateways * PER_HOUR_30_DAYS

    def kept_bytes(self, events: int) -> float:
        """Redis for `events` events: blocks, plus the catalog and the recent set."""
        return self.per_event * events + self.catalog_bytes + self.recent_bytes

    @property
    def month_bytes(self) -> float:
        return self.kept_bytes(self.month_events)


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


def realistic_events(
    payload: dict[str, Any], start: float, end: float, pick: random.Random
) -> list[dict[str, Any]]:
    """What an org of the payload's gateways tells from `start` to `end` at 1 event per
    gateway per hour: WAN ports and peer paths (to the org's hubs) down and up, gateways,
    degradation with its measured values; the refresh's own at the refresh's time, Mist's
    at their own times."""
    sites = {s.get("id"): s.get("name") for s in payload.get("sites") or []}
    gateways = [g for g in payload.get("gateways") or [] if g.get("ports")]
    hubs = [(f"02000000{n:04x}", f"dc{n + 1}-hub-gw01") for n in range(4)]
    events = []
    for n in range(round(len(gateways) * (end - start) / 3600)):
        gateway = pick.choice(gateways)
        port = pick.choice(gateway["ports"])
        source = ("refresh", "mist", "refresh+mist")[n % 3]
        when = end if source == "refresh" else pick.uniform(start, end)
        facts: dict[str, Any] = {
            "org_id": gateway.get("org_id"),
            "org_name": "Bench Org",
            "site_id": gateway.get("site_id"),
            "site_name": sites.get(gateway.get("site_id")) or gateway.get("site_name"),
            "gateway_id": gateway["id"],
            "gateway_name": gateway.get("name"),
        }
        roll, down = n % 10, n % 2 == 1
        if roll < 4:
            kind = "port_down" if down else "port_up"
            facts.update(port_id=port["port_id"], before=not down, after=down)
        elif roll < 8:
            kind = "path_down" if down else "path_up"
            mac, name = pick.choice(hubs)
            facts.update(
                port_id=port["port_id"],
                peer_mac=mac,
                peer_name=name,
                peer_port_id="ge-0/0/" + str(pick.randrange(2)),
                before=not down,
                after=down,
            )
        elif roll == 8:
            kind = "gateway_offline" if down else "gateway_online"
            facts.update(before=not down, after=down)
        else:
            kind = "circuit_degraded" if down else "circuit_recovered"
            quality = {
                "degraded": True,
                "latency": round(pick.uniform(100, 400), 1),
                "jitter": round(pick.uniform(5, 60), 1),
                "loss": round(pick.uniform(0, 5), 2),
                "mos": round(pick.uniform(2.5, 4.2), 2),
            }
            facts.update(port_id=port["port_id"], before=not down, after=quality if down else False)
        events.append(make_event(kind, when, source, **facts))
    return events


def _sizes(client: redis.Redis, org_id: str) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        int(client.memory_usage(key, samples=0) or 0)
        for key in (event_blocks_key(org_id), event_catalog_key(org_id), events_key(org_id))
    )


def store_events(redis_url: str, hours: int, figures: EventsFigures) -> None:
    """`hours` of events written refresh by refresh (REFRESH apart, ending now) with the
    worker's writer, which packs the hours as they close; what each part of the store grew."""
    client = redis.Redis.from_url(redis_url)
    payload = json.loads(read_document(client, "mist:gateways") or b"{}")
    org_id = read_events_org(client) or str(payload.get("org_id") or "bench")
    system = json.loads(client.get(events_system_key(org_id)) or b"{}")
    before, packed_before = _sizes(client, org_id), read_meta(client, org_id).total()
    end = time.time()
    pick = random.Random(11)
    took, written = 0.0, 0
    for step in range(hours * 3600 // REFRESH, 0, -1):
        at = end - (step - 1) * REFRESH
        events = realistic_events(payload, at - REFRESH, at, pick)
        started = time.monotonic()
        write_events(client, org_id, events, system, at)
        took += time.monotonic() - started
        written += len(events)
    after = _sizes(client, org_id)
    figures.inserted, figures.insert_seconds = written, took
    figures.packed = read_meta(client, org_id).total() - packed_before
    figures.block_bytes, figures.catalog_bytes, figures.recent_bytes = (
        a - b for a, b in zip(after, before, strict=True)
    )


def build_worst(redis_url: str) -> tuple[float, int, int]:
    """views/worst.py fed the stored gateways payload, as the worker feeds it: (seconds to
    build and encode, bytes, WAN ports ranked)."""
    client = redis.Redis.from_url(redis_url)
    payload = json.loads(read_document(client, "mist:gateways") or b"{}")
    sites = json.loads(read_document(client, "mist:sites") or b"[]")
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
    """Three refreshes, the stored events' cost (about `events` of them, in whole hours of
    the org's shape), /api/events, the worst circuits."""
    figures = EventsFigures(gateways)
    for n in range(3):
        step, error = _step(mist, redis_url)
        if step is None:
            figures.problems.append(
                f"{gateways} gateways: refresh {n + 1} gave no figures: {error}"
            )
        elif n > 0:  # the first run only learns
            figures.steps.append(step)
    store_events(redis_url, max(2, -(-events // max(1, gateways))), figures)  # whole hours
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
                f"Redis bytes per stored event ({f.inserted:,} written in "
                f"{f.insert_seconds:.1f} s, {f.packed:,} packed; catalog "
                f"{f.catalog_bytes / 1e6:.1f} MB, recent set {f.recent_bytes / 1e6:.1f} MB)",
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
                f"{f.kept_bytes(min(f.month_events, 2_000_000)) / 1e6:,.0f} MB",
                "",
            ],
            *latency_rows(f.gateways, "/api/events", f.events_p50_ms, f.events_p99_ms),
        ]
        worst.rows += [
            [
                f.gateways,
                f"worst-circuits document built + encoded ({f.worst_ports:,} WAN ports, "
                f"{f.worst_bytes:,} bytes) (s)",
                f.worst_seconds,
                f"≤ 1 s: {verdict(f.worst_seconds <= 1)}" if big else "",
            ],
            *latency_rows(f.gateways, "/api/worst", f.worst_p50_ms, f.worst_p99_ms),
        ]
    events.notes += [
        "One org, mistsim 150 ms per call, `worker.py --once` three times (WORKER_INTERVAL=300): "
        "the first only learns; refreshes 2 and 3 derive events (the `events: … s` log line: "
        "reading the kept state, deriving, merging Mist's own events, encoding the state kept) "
        "and count availability (the "
        "`availability: … s` line: the snapshot's circuit catalogue, the read of the stored "
        "sums, moving them on, the documents and the metric families; each part is in one line "
        "only). Mist's events read (call 13) "
        "runs alongside the snapshot streams, so it adds a call, not wall time; availability "
        "adds no call.",
        "Bytes per event: hours of realistic events (1 per gateway per hour, on the org's "
        "gateways and ports, its hubs as peers, degradations with varied values; all sources) "
        "written refresh by refresh (every 300 s) with store/events.py's `write_events`, which "
        "packs each hour as it closes; `MEMORY USAGE` (SAMPLES 0) growth of the org's blocks "
        "over the events packed. Projection = bytes per event × gateways × 24 × 30, plus the "
        "catalog (every gateway once) and the recent set (the open hour), which do not grow "
        "with the days kept. /api/events: wrk at 8 connections on the default page (100 "
        "newest, prepared once per write, gzip).",
    ]
    worst.notes += [
        "Build: views/worst.py's `WorstCircuits` fed every gateway record of the stored "
        "`mist:gateways` payload and its document encoded (store/codec.py), median of 3, as the "
        "worker does while the payload streams past. /api/worst: wrk at 8 connections, gzip "
        "accepted, the stored bytes (ETag)."
    ]
    return [events, worst]

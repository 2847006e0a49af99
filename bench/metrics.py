"""/metrics at scale: the exposition's size and series (summary and all), what building it
adds to a refresh, and how fast the web serves it beside the bare-bytes ceiling."""

from __future__ import annotations

import gzip
import statistics
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import fakeredis

from bench.procs import Gunicorn
from bench.report import Section
from bench.web import idle
from bench.wrk import run_wrk
from refresh.writer import MetricsDocuments, write_snapshot
from store.keys import KEY_METRICS
from store.publisher import Publisher
from store.reads import read_document
from tests.fixtures.mist_answers import mist_answers, simulated_org
from tests.fixtures.sample_data import build_sample_snapshot, status_document
from traffic.step import TrafficResult

GZIP = {"Accept-Encoding": "gzip"}
SCRAPERS = 4
P99_TARGET_MS = 250.0
BUILD_TARGET_S = 2.0
CEILING_SHARE = 0.7


@dataclass
class Exposition:
    gateways: int
    peer_paths: str
    series: int
    body_bytes: int
    gzip_bytes: int
    build_seconds: float


@dataclass
class MetricsWeb:
    gateways: int
    product_rps: float
    ceiling_rps: float
    p99_ms: float
    errors: int


def build_exposition(gateways: int, peer_paths: str, *, now: float = 1.8e9) -> Exposition:
    """One refresh's snapshot written through the worker's writer into an in-memory Redis:
    the stored text body, its gzip twin and the seconds the metrics' families took."""
    sim = simulated_org(gateways, seed=1, edge_cases=False, now=now)
    snapshot = build_sample_snapshot(mist_answers(sim, now), now)
    client = fakeredis.FakeRedis()
    with Publisher(client, interval=300, now=now) as out:
        metrics = MetricsDocuments(out, peer_paths)
        write_snapshot(out, snapshot, TrafficResult(volumes={}), metrics)
        metrics.finish(status_document(now), {"token 1": 20})
        out.commit()
    zipped = read_document(client, KEY_METRICS + ":gz")  # stored as gzip alone (GZIP_ONLY)
    assert isinstance(zipped, bytes)
    body = gzip.decompress(zipped)
    series = sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))
    return Exposition(
        gateways, peer_paths, series, len(body), len(zipped), round(metrics.seconds, 3)
    )


def _capture(product_url: str, folder: Path) -> None:
    """The ceiling serves what the product serves at /metrics, byte for byte in size."""
    with urllib.request.urlopen(product_url + "/metrics", timeout=30) as response:
        plain = response.read()
    (folder / "metrics.body").write_bytes(plain)
    (folder / "metrics.gz").write_bytes(gzip.compress(plain))


def measure_metrics_web(
    redis_url: str, workdir: Path, gateways: int, *, seconds: float = 4.0, rounds: int = 2
) -> MetricsWeb:
    """Requests/s of /metrics beside the ceiling (32 connections, gzip) and the p99 at
    SCRAPERS concurrent scrapers, interleaved like bench/web.py."""
    folder = workdir / "bodies"
    folder.mkdir(parents=True, exist_ok=True)
    product = Gunicorn("app:create_app()", redis_url, workdir / "metrics-product.log").start()
    servers = {"product": product}
    try:
        _capture(product.url, folder)
        servers["ceiling"] = Gunicorn(
            "bench.refapps:ceiling_app()",
            redis_url,
            workdir / "metrics-ceiling.log",
            env_extra={"BENCH_BODIES_DIR": str(folder)},
        ).start()
        rps: dict[str, list[float]] = {"product": [], "ceiling": []}
        p99: list[float] = []
        errors = 0
        for _ in range(rounds):
            for name, server in servers.items():
                idle(server)
                result = run_wrk(
                    server.url + "/metrics", connections=32, seconds=seconds, headers=GZIP
                )
                rps[name].append(result.rps)
            idle(product)
            scrape = run_wrk(
                product.url + "/metrics", connections=SCRAPERS, seconds=seconds, headers=GZIP
            )
            p99.append(scrape.latency_ms["p99"])
            errors += scrape.errors["status"] + scrape.socket_errors
        return MetricsWeb(
            gateways,
            statistics.median(rps["product"]),
            statistics.median(rps["ceiling"]),
            statistics.median(p99),
            errors,
        )
    finally:
        for server in servers.values():
            server.stop()


def metrics_section(built: list[Exposition], served: list[MetricsWeb]) -> Section:
    """One table: per org size and mode, the body and series; then the web's figures."""
    section = Section(
        "/metrics (Prometheus)",
        ["gateways", "peer paths", "series", "body", "gzip", "build s (target ≤ 2)"],
    )
    for item in built:
        section.rows.append(
            [
                f"{item.gateways:,}",
                item.peer_paths,
                f"{item.series:,}",
                f"{item.body_bytes / 1e6:.1f} MB",
                f"{item.gzip_bytes / 1e6:.2f} MB",
                f"{item.build_seconds:.2f}"
                + ("" if item.build_seconds <= BUILD_TARGET_S else " (over)"),
            ]
        )
    for web in served:
        share = web.product_rps / web.ceiling_rps if web.ceiling_rps else 0.0
        section.notes.append(
            f"{web.gateways:,} gateways (summary, gzip): {web.product_rps:.0f} req/s vs the "
            f"bare-bytes ceiling's {web.ceiling_rps:.0f} ({share:.2f}×, target ≥ "
            f"{CEILING_SHARE}); p99 {web.p99_ms:.0f} ms at {SCRAPERS} scrapers (target ≤ "
            f"{P99_TARGET_MS:.0f}); {web.errors} errors"
        )
    section.notes.append(
        "build s: the metrics' families of one refresh (text and OpenMetrics, gzip twins "
        "and ETags included), what /metrics adds to a refresh"
    )
    return section

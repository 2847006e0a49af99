"""Web throughput and latency: the product beside the usual way and the ceiling, one run.

All three are served by gunicorn with the Docker image's settings, from the same Redis,
measured in interleaved rounds (product, reference, ceiling, product, …) so that noise on
a shared 2-core machine hits all three alike; the table shows medians and ratios.
"""

from __future__ import annotations

import gzip
import statistics
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.procs import Gunicorn
from bench.wrk import WrkResult, run_wrk

ENDPOINTS = ("/api/gateways", "/api/status", "/health")
GZIP = {"Accept-Encoding": "gzip"}


@dataclass
class Throughput:
    endpoint: str
    product_rps: float
    reference_rps: float
    ceiling_rps: float
    product_p99_ms: float
    errors: int
    reference_is_bound: bool = False
    """True when the reference finished no request at all: its rps is then an upper bound."""

    @property
    def vs_reference(self) -> float:
        return self.product_rps / self.reference_rps if self.reference_rps else float("inf")

    @property
    def vs_ceiling(self) -> float:
        return self.product_rps / self.ceiling_rps if self.ceiling_rps else 0.0


@dataclass
class Latency:
    endpoint: str
    connections: int
    gzip: bool
    p50_ms: float
    p99_ms: float
    rps: float
    target_ms: float


@dataclass
class WebFigures:
    gateways: int
    body_bytes: int
    gzip_bytes: int
    throughput: list[Throughput]
    latency: list[Latency]

    @property
    def gzip_bytes_per_gateway(self) -> float:
        return self.gzip_bytes / self.gateways if self.gateways else 0.0


def capture_bodies(product_url: str, folder: Path) -> tuple[int, int]:
    """Save what the product serves (plain and gzip) so the ceiling returns the same sizes."""
    folder.mkdir(parents=True, exist_ok=True)
    sizes = (0, 0)
    for path in ENDPOINTS:
        name = path.strip("/").replace("/", "_")
        with urllib.request.urlopen(product_url + path, timeout=30) as response:
            plain = response.read()
        request = urllib.request.Request(product_url + path, headers=GZIP)
        with urllib.request.urlopen(request, timeout=30) as response:
            zipped = response.read()
            if response.headers.get("Content-Encoding") != "gzip":
                zipped = gzip.compress(plain)
        (folder / f"{name}.body").write_bytes(plain)
        (folder / f"{name}.gz").write_bytes(zipped)
        if path == "/api/gateways":
            sizes = (len(plain), len(zipped))
    return sizes


def idle(server: Gunicorn, patience: float = 3.0) -> None:
    """Make sure no backlog from the previous run (requests wrk gave up on but gunicorn still
    works through) spills into the next one: wait briefly for a quick /health, else restart."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=0.5) as response:
                response.read()
            if time.monotonic() - started < 0.05:
                return
        except OSError:
            pass
        time.sleep(0.1)
    server.restart()


def measure_web(
    redis_url: str,
    workdir: Path,
    gateways: int,
    *,
    seconds: float = 4.0,
    rounds: int = 2,
    connections: int = 32,
) -> WebFigures:
    """Start product, reference and ceiling under gunicorn and load each in turn."""
    workdir.mkdir(parents=True, exist_ok=True)
    product = Gunicorn("app:create_app()", redis_url, workdir / "web-product.log").start()
    servers: dict[str, Gunicorn] = {"product": product}
    try:
        body_bytes, gzip_bytes = capture_bodies(product.url, workdir / "bodies")
        servers["reference"] = Gunicorn(
            "bench.refapps:reference_app()", redis_url, workdir / "web-reference.log"
        ).start()
        servers["ceiling"] = Gunicorn(
            "bench.refapps:ceiling_app()",
            redis_url,
            workdir / "web-ceiling.log",
            env_extra={"BENCH_BODIES_DIR": str(workdir / "bodies")},
        ).start()
        results: dict[tuple[str, str], list[WrkResult]] = {}
        for _ in range(rounds):
            for endpoint in ENDPOINTS:
                for name, server in servers.items():
                    idle(server)
                    result = run_wrk(
                        server.url + endpoint,
                        connections=connections,
                        seconds=seconds,
                        headers=GZIP,
                        count_status=False,
                        timeout_s=10.0,
                    )
                    idle(server)  # its backlog must not steal CPU from the next server
                    results.setdefault((name, endpoint), []).append(result)
        throughput = []
        for endpoint in ENDPOINTS:

            def median_rps(name: str, endpoint: str = endpoint) -> float:
                return statistics.median(r.rps for r in results[(name, endpoint)])

            mine = results[("product", endpoint)]
            reference = results[("reference", endpoint)]
            reference_rps = median_rps("reference")
            bound = False
            if reference_rps == 0:  # too slow for the window: average, or an upper bound
                total_seconds = sum(r.seconds for r in reference) or 1.0
                done = sum(r.requests for r in reference)
                reference_rps, bound = max(done, 1) / total_seconds, done == 0
            throughput.append(
                Throughput(
                    endpoint=endpoint,
                    product_rps=median_rps("product"),
                    reference_rps=reference_rps,
                    reference_is_bound=bound,
                    ceiling_rps=median_rps("ceiling"),
                    product_p99_ms=statistics.median(r.latency_ms["p99"] for r in mine),
                    errors=sum(r.errors["status"] + r.socket_errors for r in mine),
                )
            )
        latency = []
        for endpoint, clients, target in (
            ("/api/gateways", 8, 50.0),
            ("/api/status", 4, 5.0),
            ("/health", 4, 5.0),
        ):
            runs = []
            for _ in range(rounds):
                idle(product)
                runs.append(
                    run_wrk(
                        product.url + endpoint, connections=clients, seconds=seconds, headers=GZIP
                    )
                )
            latency.append(
                Latency(
                    endpoint=endpoint,
                    connections=clients,
                    gzip=True,
                    p50_ms=statistics.median(r.latency_ms["p50"] for r in runs),
                    p99_ms=statistics.median(r.latency_ms["p99"] for r in runs),
                    rps=statistics.median(r.rps for r in runs),
                    target_ms=target,
                )
            )
        return WebFigures(gateways, body_bytes, gzip_bytes, throughput, latency)
    finally:
        for server in servers.values():
            server.stop()

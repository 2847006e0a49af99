"""A real Prometheus scrapes the product: worker against mistsim, the web under gunicorn,
Debian's `prometheus` on a free loopback port in a temp dir."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.ports import free_port, wait_until
from tests.fixtures.web_server import start_web_server
from tests.fixtures.worker_proc import worker_env

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy/grafana/dashboards/mistcircuitstats.json"


class Prometheus:
    def __init__(self, directory: Path, target: str) -> None:
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is missing: install Debian's prometheus (make system-deps)")
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            f"rule_files: [{ROOT / 'deploy/prometheus/rules/mist.yml'}]\n"
            "scrape_configs:\n"
            "  - job_name: mistcircuitstats\n"
            f"    static_configs: [{{targets: ['{target}']}}]\n"
        )
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = (directory / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                binary,
                f"--config.file={directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address={self.url.removeprefix('http://')}",
            ],
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def query(self, expr: str) -> list[dict[str, Any]]:
        answer = requests.get(self.url + "/api/v1/query", params={"query": expr}, timeout=10)
        document = answer.json()
        assert document["status"] == "success", (expr, document)
        return list(document["data"]["result"])

    def ready(self) -> bool:
        try:
            return requests.get(self.url + "/-/ready", timeout=2).ok
        except requests.RequestException:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture
def scraped(mistsim_factory, redis_server, worker_proc, tmp_path) -> Iterator[tuple]:
    sim = mistsim_factory(gateways=12, sites=4, edge_cases=True)
    worker_proc([], worker_env(sim, redis_server.url, WORKER_INTERVAL="2"))
    web = start_web_server(redis_server.url, tmp_path / "web")
    prometheus = Prometheus(tmp_path / "prometheus", f"127.0.0.1:{web.port}")
    try:
        wait_until(prometheus.ready, timeout=30, what="prometheus ready")
        yield sim, web, prometheus
    finally:
        prometheus.stop()
        web.stop()


def _value(prometheus: Prometheus, expr: str) -> float | None:
    result = prometheus.query(expr)
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_the_org_and_sees_a_port_go_down(scraped) -> None:
    sim, web, prometheus = scraped
    up = 'up{job="mistcircuitstats"}'
    wait_until(lambda: _value(prometheus, up) == 1, timeout=60, what="target up")
    summary = sim.org_summary()
    gateways = "count(mist_gateway_up)"
    wait_until(
        lambda: _value(prometheus, gateways) == summary["gateways"], timeout=30, what="gateways"
    )
    payload = web.get("/api/gateways").json()
    ports = sum(len(g["ports"]) for g in payload["gateways"])
    assert _value(prometheus, "count(mist_wan_port_speed_bytes_per_second)") is not None
    assert _value(prometheus, "count(mist_wan_port_peer_paths)") == ports
    body = web.get("/metrics").text
    lines = [line for line in body.splitlines() if line and not line.startswith("#")]
    scraped_samples = 'scrape_samples_scraped{job="mistcircuitstats"}'
    wait_until(
        lambda: _value(prometheus, scraped_samples) == len(lines), timeout=10, what="samples"
    )
    gateway = next(g for g in payload["gateways"] if any(p["up"] for p in g["ports"]))
    port = next(p for p in gateway["ports"] if p["up"])
    sim.port_down(gateway["mac"], port["port_id"])
    query = f'mist_wan_port_up{{gateway_id="{gateway["id"]}",port="{port["port_id"]}"}}'
    wait_until(lambda: _value(prometheus, query) == 0, timeout=60, what="the port reads 0")


def test_every_grafana_panel_query_evaluates(scraped) -> None:
    _, _, prometheus = scraped
    wait_until(
        lambda: _value(prometheus, "count(mist_wan_port_receive_bytes_total)") is not None,
        timeout=60,
        what="a scrape",
    )
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [
        target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])
    ]
    assert len(queries) >= 20
    filled = 0
    for expr in queries:
        expr = re.sub(r"\$(org|site|gateway)\b", ".*", expr).replace("$__rate_interval", "1m")
        filled += bool(prometheus.query(expr))
    assert filled >= len(queries) // 2  # most panels show data once a scrape is in
    for variable in dashboard["templating"]["list"]:
        metric = re.search(r"label_values\((\w+)", variable["query"]["query"])
        assert metric is not None and prometheus.query(metric.group(1))

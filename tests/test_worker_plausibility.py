"""A counter that leaps by 10 TB between two refreshes (mistsim's `leap` fault), end to end:
real worker → real Redis → the web app. The port's chart, its "Last 24 h" and
/api/insights/all stay within its speed, and /api/status counts the one refused sample."""

from __future__ import annotations

import logging
import re
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest

import app as web
import web.api as web_api
import worker as worker_module
from mist.connection import MistConnection
from settings import load_worker_settings
from tests.fixtures.mistsim_server import MistSim
from tests.fixtures.worker_proc import worker_env

INTERVAL = 60
MARGIN = 1.05


def sim_worker(sim: MistSim, redis_url: str) -> worker_module.Worker:
    """A worker whose clock is the simulator's, so counter deltas span simulated time."""
    environ = worker_env(sim, redis_url, WORKER_INTERVAL=str(INTERVAL))
    settings = load_worker_settings(environ, env_file=None)
    connection = MistConnection.from_settings(settings, timeout=5.0, backoff=0.01)
    instance = worker_module.Worker(
        settings,
        connection=connection,
        lease_seconds=30,
        clock=lambda: float(sim.admin("GET", "clock")["now"]),
    )
    assert instance.acquire_lease()
    return instance


def a_busy_port(gateways: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A connected gateway's WAN port that is up and reports a speed."""
    for gateway in gateways["gateways"]:
        for port in gateway["ports"]:
            if gateway["status"] == "connected" and port["up"] and port["speed"]:
                return gateway, port
    raise AssertionError("no WAN port is up")


def test_a_10_tb_counter_leap_is_refused_and_counted_once(
    mistsim: MistSim,
    redis_server: Any,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.INFO, logger="worker.traffic")
    instance = sim_worker(mistsim, redis_server.url)
    api = web.create_app({"REDIS_URL": redis_server.url}).test_client()
    # No backfill: the 24 h volumes are then this test's measured minutes alone.
    mistsim.set_faults(error_rate=1.0, paths="insights")
    started = instance.clock()
    try:
        assert instance.refresh()
        mistsim.advance(INTERVAL)
        assert instance.refresh()
        assert api.get("/api/status").get_json()["rejected_samples"] == 0
        gateway, port = a_busy_port(api.get("/api/gateways").get_json())
        leap = mistsim.leap(gateway["mac"], port["port_id"])
        assert leap["bytes"] == 10 * 10**12
        mistsim.advance(INTERVAL)
        assert instance.refresh()
        assert api.get("/api/status").get_json()["rejected_samples"] == 1
        mistsim.advance(INTERVAL)
        assert instance.refresh()  # the baseline moved on: the next step is a usual one
        assert api.get("/api/status").get_json()["rejected_samples"] == 0
        now = instance.clock()
    finally:
        instance.close()

    refused = [r.getMessage() for r in caplog.records if "refused a counter jump" in r.getMessage()]
    assert len(refused) == 1 and f"{gateway['id']} {port['port_id']}:" in refused[0]
    jump = re.search(r"rx \+(\d+), tx \+(\d+) bytes", refused[0])
    assert jump is not None and int(jump.group(1)) >= 10**13 and int(jump.group(2)) >= 10**13
    bound = port["speed"] * 1e6 * MARGIN  # Mist's speed is Mbit/s
    most_bytes = bound * (now - started + INTERVAL) / 8
    name = quote(port["port_id"], safe="")
    # The chart ends at the web's clock; the shared simulator's clock runs ahead of the wall
    # by whatever other tests advanced it, so the web reads the simulator's time here.
    monkeypatch.setattr(web_api, "time", SimpleNamespace(time=lambda: now))
    chart = api.get(f"/api/gateway/{gateway['id']}/port/{name}/traffic?range=1h").get_json()
    rates = [rate for rate in chart["rx_bps"] + chart["tx_bps"] if rate is not None]
    assert rates and max(rates) <= bound
    shown = next(
        p
        for g in api.get("/api/gateways").get_json()["gateways"]
        if g["id"] == gateway["id"]
        for p in g["ports"]
        if p["port_id"] == port["port_id"]
    )
    assert 0 < shown["rx_bytes_24h"] <= most_bytes and shown["tx_bytes_24h"] <= most_bytes
    insights = api.get("/api/insights/all").get_json()[f"{gateway['id']}:{port['port_id']}"]
    assert 0 < insights["rx_bytes_24h"] <= most_bytes and insights["tx_bytes_24h"] <= most_bytes

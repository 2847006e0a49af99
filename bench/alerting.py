"""Alert delivery latency (issue 12): from a change in Mist to the webhook receiving it.

A long-running `worker.py` (the deployment's loop, WORKER_INTERVAL as given) with
ALERT_WEBHOOK_URLS pointing at a loopback receiver; once it has refreshed twice (the first
only learns), mistsim takes one connected gateway's WAN port link down
(`POST /__mistsim/link`), and the bench waits for the receiver to get that port's alert.
Flips are made at different points of the interval: right after a publish, half an
interval later, and right after a refresh read the ports (the worst case: the change waits
for the next refresh, then that refresh's fetch, build and events; its alert leaves before
history, availability and the publish).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis

from bench.procs import Mistsim, kill, start_worker
from bench.report import Section, verdict
from bench.scale import TOKENS
from store.reads import read_document


class Receiver:
    """A loopback webhook: records each POST body with the time it arrived."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.arrived = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    document = json.loads(body)
                except ValueError:
                    document = {}
                with outer.arrived:
                    outer.received.append((time.time(), document))
                    outer.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, gateway_id: str, port_id: str, after: float, timeout: float) -> float:
        """When the first alert naming this port (or its gateway's WAN) arrived; 0: never."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for when, document in self.received:
                    event = document.get("event") or {}
                    if (
                        when >= after
                        and event.get("gateway_id") == gateway_id
                        and event.get("type") in ("port_down", "gateway_wan_down")
                        and event.get("port_id") in (port_id, None)
                    ):
                        return when
                left = deadline - time.monotonic()
                if left <= 0:
                    return 0.0
                self.arrived.wait(left)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class AlertFigures:
    gateways: int
    interval: int
    latencies: list[tuple[str, float]] = field(default_factory=list)  # (when flipped, seconds)
    refresh_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def worst(self) -> float:
        return max((s for _, s in self.latencies), default=0.0)


def _last_update(client: redis.Redis) -> tuple[float, float]:
    raw = client.get("mist:metadata:status")
    status = json.loads(raw) if raw else {}
    return float(status.get("last_update") or 0), float(status.get("refresh_seconds") or 0)


def _wait_refresh(client: redis.Redis, after: float, timeout: float) -> float:
    """Until a refresh publishes after `after`; its last_update."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last, _ = _last_update(client)
        if last > after:
            return last
        time.sleep(0.2)
    raise TimeoutError(f"no refresh published within {timeout:.0f} s")


def _wait_ports_read(client: redis.Redis, after: float, timeout: float) -> None:
    """Until a refresh that started after `after` has read the ports (its status says so)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = client.get("mist:metadata:status")
        status = json.loads(raw) if raw else {}
        started = float(status.get("last_attempt") or 0)
        if started > after and "ports" in (status.get("datasets") or {}):
            return
        time.sleep(0.05)
    raise TimeoutError(f"no refresh read the ports within {timeout:.0f} s")


FLIPS = ("just after a publish", "half an interval after a publish", "just after the ports read")


def _flip_point(client: redis.Redis, label: str, seen: float, interval: int) -> None:
    """Wait for the point of the interval `label` names (`seen`: the last publish)."""
    if label == FLIPS[2]:
        _wait_ports_read(client, seen, 3 * interval + 300)
        return
    _wait_refresh(client, seen, 3 * interval + 300)
    time.sleep(interval / 2 if label == FLIPS[1] else 0.0)


def _targets(client: redis.Redis, count: int) -> list[tuple[str, str, str]]:
    """(gateway id, mac, port id): connected gateways with an enabled WAN port up."""
    payload = json.loads(read_document(client, "mist:gateways") or b"{}")
    found = []
    for gateway in payload.get("gateways") or []:
        if gateway.get("status") != "connected" or not gateway.get("mac"):
            continue
        for port in gateway.get("ports") or []:
            if port.get("up") and port.get("enabled") is not False:
                found.append((gateway["id"], gateway["mac"], port["port_id"]))
                break
        if len(found) >= count * 7:
            break
    return found[::7][:count]


def measure_alerts(
    mist: Mistsim, redis_url: str, workdir: Path, gateways: int, *, interval: int = 60
) -> AlertFigures:
    """Three flips: right after a publish, half an interval later, right after the ports
    were read."""
    figures = AlertFigures(gateways, interval)
    client = redis.Redis.from_url(redis_url)
    receiver = Receiver()
    targets = _targets(client, len(FLIPS))
    rules = workdir / "alerts-bench.yml"
    rules.write_text(
        "routes:\n  - receivers: [1]\n    gateways: ["
        + ", ".join(f'"{gateway_id}"' for gateway_id, _, _ in targets)
        + "]\n"
    )
    worker = start_worker(
        mist,
        redis_url,
        TOKENS,
        interval,
        workdir / "worker-alerts.log",
        extra_env={
            "ALERT_WEBHOOK_URLS": receiver.url,
            "ALERT_WEBHOOK_FORMATS": "generic",
            "ALERT_RULES_FILE": str(rules),
        },
    )
    try:
        started = time.time()
        seen = _wait_refresh(client, started, 10 * interval + 300)  # the first only learns
        seen = _wait_refresh(client, seen, 3 * interval + 300)
        for (gateway_id, mac, port_id), label in zip(targets, FLIPS, strict=False):
            _flip_point(client, label, seen, interval)
            flipped = time.time()
            mist.admin("link", {"mac": mac, "port_id": port_id, "state": "down"})
            arrived = receiver.wait_for(gateway_id, port_id, flipped, 2 * interval + 120)
            if not arrived:
                got = [
                    (d.get("kind"), d.get("type"), (d.get("event") or {}).get("gateway_id"))
                    for _, d in receiver.received[-5:]
                ]
                figures.problems.append(
                    f"no alert for {gateway_id} {port_id} ({label}); "
                    f"{len(receiver.received)} received, the last: {got}"
                )
                continue
            figures.latencies.append((label, arrived - flipped))
            seen = _last_update(client)[0]
        figures.refresh_seconds = _last_update(client)[1]
    except TimeoutError as error:
        tail = (workdir / "worker-alerts.log").read_text(errors="replace")[-800:]
        figures.problems.append(f"alert latency at {gateways}: {error}: {tail}")
    finally:
        kill(worker)
        receiver.stop()
    return figures


def alerts_section(found: list[AlertFigures]) -> Section:
    section = Section(
        "Alert delivery latency (issue 12)",
        ["gateways", "WORKER_INTERVAL (s)", "flip made", "latency (s)", "target"],
    )
    for f in found:
        limit = f.interval + 10
        for label, seconds in f.latencies:
            section.rows.append(
                [
                    f.gateways,
                    f.interval,
                    label,
                    seconds,
                    f"≤ {limit} s: {verdict(seconds <= limit)}",
                ]
            )
        if f.refresh_seconds:
            section.notes.append(
                f"{f.gateways:,} gateways: a refresh takes {f.refresh_seconds:.1f} s; refreshes "
                f"start every {f.interval} s (from the previous start). A change landing just "
                f"after a refresh read the stats waits for the next refresh, then its fetch, "
                f"build and events: the alert is queued then, before history, availability "
                f"and the publish."
            )
    section.notes.append(
        "From `POST /__mistsim/link {state: down}` on a connected gateway's WAN port to the "
        "loopback receiver (generic format) getting its `port_down` alert; a long-running "
        "`worker.py`, mistsim 150 ms per call, ALERT_HOLD_DOWN default (the first down of a "
        "subject is sent at once). An alerts.yml routes only the flipped gateways' events to "
        "the receiver, so the alert is not folded into a storm summary of mistsim's own flaps "
        "(routing is applied before the storm limit) nor queued behind them."
    )
    return section

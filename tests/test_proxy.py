"""Slow clients against the proxied web (issue 17): eight sockets that send their headers a
byte a second for 20 s must not delay /health beyond its usual p99, no probe may time out,
and the proxy closes the slow sockets itself. The proxy is deploy/nginx/nginx.conf, the very
file Compose mounts, in front of gunicorn configured as in the container (gthread)."""

from __future__ import annotations

import math
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.fixtures.proxy import Proxy, render_config
from tests.fixtures.web_server import WebServer, start_web_server

SLOW_SOCKETS = 8
ATTACK_SECONDS = 20.0
PROBE_TIMEOUT = 4.0
PROBE_EVERY = 0.25


@pytest.fixture
def proxied_web(redis_server: Any, tmp_path: Path) -> Iterator[tuple[WebServer, Proxy]]:
    web = start_web_server(redis_server.url, tmp_path / "web")
    proxy = Proxy(web.port, tmp_path / "nginx")
    try:
        yield web, proxy
    finally:
        proxy.stop()
        web.stop()


def probe(url: str) -> float | None:
    """Seconds /health took, or None when it timed out or failed."""
    started = time.monotonic()
    try:
        response = requests.get(url + "/health", timeout=PROBE_TIMEOUT)
    except requests.RequestException:
        return None
    return time.monotonic() - started if response.status_code == 200 else None


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


class SlowClients:
    """Sockets that send an endless header a byte a second; notes when the server hangs up."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        self.closed_after: dict[int, float] = {}
        self.header = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.started = time.monotonic()

    def __enter__(self) -> SlowClients:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()

    def _run(self) -> None:
        position = 0
        while not self._stop.wait(1.0):
            for index, sock in enumerate(self.sockets):
                if index not in self.closed_after and self._hung_up(sock, position):
                    self.closed_after[index] = time.monotonic() - self.started
            position += 1

    def _hung_up(self, sock: socket.socket, position: int) -> bool:
        """Send the next byte; True once the server answered (408) or closed the socket."""
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                return True
            sock.send(self.header[position : position + 1])
        except OSError:
            return True
        return False


def test_the_proxy_template_swaps_exactly_the_marked_values(tmp_path: Path) -> None:
    text = render_config(6000, 7000, tmp_path)
    assert "listen 127.0.0.1:7000;" in text and "server 127.0.0.1:6000;" in text
    assert f"pid {tmp_path}/nginx.pid;" in text and "_temp_path /tmp/nginx-" not in text
    for deadline in ("client_header_timeout", "client_body_timeout", "keepalive_timeout"):
        assert f"\n    {deadline} " in text, deadline
    assert "proxy_buffering on;" in text and "proxy_request_buffering on;" in text


def test_slow_header_clients_do_not_delay_health_through_the_proxy(proxied_web) -> None:
    web, proxy = proxied_web
    for _ in range(5):  # warm up: the first answers open connections and caches
        probe(proxy.url)
    baseline = [probe(proxy.url) for _ in range(60)]
    assert None not in baseline, f"/health failed without any attack:\n{proxy.output()}"
    usual = p99([sample for sample in baseline if sample is not None])

    attacked: list[float | None] = []
    direct: list[float | None] = []  # gunicorn itself meanwhile: the machine's own noise
    with SlowClients(proxy.port, SLOW_SOCKETS) as slow:
        deadline = slow.started + ATTACK_SECONDS
        while time.monotonic() < deadline:
            attacked.append(probe(proxy.url))
            direct.append(probe(web.url))
            time.sleep(PROBE_EVERY)
        closed = dict(slow.closed_after)

    assert None not in attacked, f"{attacked.count(None)} of {len(attacked)} probes timed out"
    worst = p99([sample for sample in attacked if sample is not None])
    # "Usual" is the quiet baseline or, when the shared machine got busier meanwhile (other
    # tests run on the same cores), gunicorn's own p99 in the same seconds, which the slow
    # clients never reach; a probe stalled behind a slow client takes seconds, or times out,
    # so a second above usual tells the two apart (0.25 s did not: CI's noise reached 0.26 s).
    usual = max(usual, p99([sample for sample in direct if sample is not None]))
    allowed = max(3 * usual, usual + 1.0)
    assert worst <= allowed, f"p99 {worst:.3f}s under attack, {usual:.3f}s usual"
    assert len(closed) == SLOW_SOCKETS, f"the proxy closed only {sorted(closed)} within 20 s"
    assert max(closed.values()) < 15.0, closed  # client_header_timeout 10s, plus a tick
    assert web.get("/health").status_code == 200

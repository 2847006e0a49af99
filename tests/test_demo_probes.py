"""The demo's readiness probe never kills the demo: a slow, refused or broken answer is a
"not yet", whatever the web or the network does (issue 19: a 10,000-gateway publish once made
/health slower than the probe's timeout and the demo died with a traceback)."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from scripts.demo import published
from tests.fixtures.ports import free_port


class _Slow(http.server.BaseHTTPRequestHandler):
    delay = 3.0
    body = b'{"last_update": 1.0}'

    def do_GET(self) -> None:
        time.sleep(self.delay)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def slow_web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_web_slower_than_the_probe_is_not_yet_published(slow_web):
    started = time.monotonic()
    assert published(slow_web) is False
    assert time.monotonic() - started < 2.9  # gave up at its own timeout, raised nothing


def test_a_refused_or_cut_connection_is_not_yet_published():
    assert published(f"http://127.0.0.1:{free_port()}/") is False
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def cut() -> None:
            connection, _ = listener.accept()
            connection.recv(100)
            connection.close()  # no answer at all

        threading.Thread(target=cut, daemon=True).start()
        assert published(f"http://127.0.0.1:{port}/") is False


def test_a_prompt_answer_with_a_refresh_is_published(slow_web, monkeypatch):
    monkeypatch.setattr(_Slow, "delay", 0.0)
    assert published(slow_web) is True

"""HTTPS serving: a throw-away CA (trustme) and a threaded HTTP/1.1 keep-alive server.

Werkzeug's development handler closes every connection and waits 10 ms per request to
drain the socket; a worker reusing one TLS connection for thousands of calls would pay a
handshake and that pause each time. Our app always answers with one complete body, so the
handler below can send it with a Content-Length and keep the connection open.
"""

from __future__ import annotations

import ssl
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trustme
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

IDLE_TIMEOUT = 120.0  # seconds an idle keep-alive connection (or a silent client) may hold a thread
ERROR_BODY = b'{"detail":"mistsim internal error"}'


class KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive for GETs, no access log."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT

    def run_wsgi(self) -> None:
        environ = self.make_environ()
        answer: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            answer["status"], answer["headers"] = status, headers
            return lambda data: None

        try:
            chunks = self.server.app(environ, start_response)
            body = b"".join(chunks)
            if hasattr(chunks, "close"):
                chunks.close()
            status, headers = answer["status"], answer["headers"]
        except Exception:
            traceback.print_exc(file=sys.stderr)
            status, body = "500 INTERNAL SERVER ERROR", ERROR_BODY
            headers = [("Content-Type", "application/json")]
        code, _, reason = status.partition(" ")
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD"):
            self.close_connection = True  # a body we may not have read must not become a request
        self.send_response(int(code), reason)
        length = str(len(body))
        for name, value in headers:
            if name.lower() == "content-length":
                length = value  # HEAD: the length the GET would have had
            elif name.lower() != "connection":
                self.send_header(name, value)
        if environ["REQUEST_METHOD"] == "HEAD":
            body = b""
        self.send_header("Content-Length", length)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            super().log(type, message, *args)


def tls_context(ca_file: Path, host: str) -> ssl.SSLContext:
    """A server context whose certificate chains to a fresh CA written to `ca_file`."""
    ca = trustme.CA()
    names = sorted({"127.0.0.1", "localhost", "::1", host})
    cert = ca.issue_cert(*names)
    ca_file.parent.mkdir(parents=True, exist_ok=True)
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    return context


def build_server(host: str, port: int, app: Any, context: ssl.SSLContext) -> BaseWSGIServer:
    """Threaded server; the TLS handshake runs in each connection's thread rather than in the
    accept loop, so one silent client cannot stall the rest."""
    server = make_server(host, port, app, threaded=True, request_handler=KeepAliveHandler)
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    server.ssl_context = context
    return server

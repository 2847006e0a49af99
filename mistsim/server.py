"""HTTPS serving: a throw-away CA (trustme) and a threaded, keep-alive werkzeug server."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import trustme
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    """HTTP/1.1 keep-alive and no access log (a benchmark's thousands of lines would be the
    bottleneck)."""

    protocol_version = "HTTP/1.1"

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
    """Threaded HTTP/1.1 (keep-alive) server; the TLS handshake runs in each connection's
    thread rather than in the accept loop, so one silent client cannot stall the rest."""
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    server.socket = context.wrap_socket(
        server.socket, server_side=True, do_handshake_on_connect=False
    )
    server.ssl_context = context
    return server

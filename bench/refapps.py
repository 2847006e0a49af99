"""Two yardsticks served by gunicorn with the product's own settings, side by side with app.py.

- `reference_app`: the usual way — each request GETs the same JSON from Redis, decodes it,
  re-encodes it (and gzips it when the client accepts gzip), like `jsonify(json.loads(...))`.
- `ceiling_app`: a bare WSGI callable returning constant bytes of exactly the size the product
  serves (captured from it beforehand into BENCH_BODIES_DIR): no Redis, no framework.
"""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import redis
from flask import Flask, Response, request

from store.reads import read_document

_KEYS = {"/api/gateways": "mist:gateways", "/api/status": "mist:metadata:status"}


def _reference() -> Flask:
    app = Flask("bench-reference")
    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))

    def answer(document: Any) -> Response:
        body = json.dumps(document).encode()
        headers = {"Content-Type": "application/json"}
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return Response(body, headers=headers)

    @app.get("/api/gateways")
    def gateways() -> Response:
        raw = read_document(client, _KEYS["/api/gateways"])
        return answer(json.loads(raw) if raw else {})

    @app.get("/api/status")
    def status() -> Response:
        raw = client.get(_KEYS["/api/status"])
        document = json.loads(raw) if raw else {}
        document["age"] = time.time() - float(document.get("last_update") or 0)
        return answer(document)

    @app.get("/health")
    def health() -> Response:
        client.ping()
        return answer({"status": "ok"})

    return app


def _ceiling() -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """Path → (identity bytes, gzip bytes) loaded once from files the bench captured."""
    folder = Path(os.environ.get("BENCH_BODIES_DIR", "."))
    bodies: dict[str, tuple[bytes, bytes]] = {}
    for path in ("/api/gateways", "/api/status", "/health", "/metrics"):
        name = path.strip("/").replace("/", "_")
        plain, zipped = folder / f"{name}.body", folder / f"{name}.gz"
        if plain.exists():
            bodies[path] = (plain.read_bytes(), zipped.read_bytes() if zipped.exists() else b"")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        found = bodies.get(environ.get("PATH_INFO", ""))
        if found is None:
            start_response("404 Not Found", [("Content-Length", "0")])
            return [b""]
        plain, zipped = found
        headers = [("Content-Type", "application/json")]
        body = plain
        if zipped and "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            body = zipped
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        return [body]

    return app


def reference_app() -> Flask:
    """gunicorn 'bench.refapps:reference_app()'."""
    return _reference()


def ceiling_app() -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """gunicorn 'bench.refapps:ceiling_app()'."""
    return _ceiling()

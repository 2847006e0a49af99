"""JSON errors for the Flask routes: a status and a message, never a trace or an echo."""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from store.codec import encode_json
from web.answers import INTERNAL_ERROR, JSON_MIMETYPE, REDIS_DOWN

LOG = logging.getLogger("mistcircuitstats.web")
MESSAGES = {404: "not found", 405: "method not allowed", 413: "request too large"}


def json_response(payload: object, status: int = 200) -> Response:
    """A JSON document the web built itself (not stored bytes): compact and never cached."""
    response = Response(encode_json(payload), status=status, mimetype=JSON_MIMETYPE)
    response.headers["Cache-Control"] = "no-store"
    return response


def json_error(status: int, message: str) -> Response:
    """A 4xx/5xx a person can act on; the message is ours, never the request echoed back."""
    return json_response({"error": message, "status": status}, status)


def http_error(error: HTTPException) -> Response:
    """Werkzeug's HTML error pages become JSON."""
    status = error.code or 500
    return json_error(status, MESSAGES.get(status, error.name.lower()))


def redis_error(error: redis.RedisError) -> Response:
    """Redis away: a 503 the page shows, and one log line without the connection details."""
    LOG.warning("redis unavailable: %s", type(error).__name__)
    return json_error(503, REDIS_DOWN)


def unexpected_error(error: Exception) -> Response:
    """A bug: the log gets the trace, the client only that something went wrong."""
    LOG.exception("unexpected error on %s", request.path)
    return json_error(500, INTERNAL_ERROR)


def register(app: Flask) -> None:
    """Every error a Flask route can raise, answered as JSON."""
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(redis.RedisError, redis_error)
    app.register_error_handler(Exception, unexpected_error)

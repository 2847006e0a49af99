"""The pieces of a raw WSGI answer that every web module shares: media types, JSON bodies,
the error body and the ETag of one encoding. No Flask here: the fast path answers without it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

JSON_MIMETYPE = "application/json"
CSV_MIMETYPE = "text/csv; charset=utf-8"
NO_STORE_JSON = (("Content-Type", JSON_MIMETYPE), ("Cache-Control", "no-store"))
REDIS_DOWN = "the data store (Redis) is unreachable; try again shortly"
INTERNAL_ERROR = "internal error; the log has the details"

Headers = list[tuple[str, str]]
Answer = tuple[int, Headers, bytes]
Environ = Mapping[str, Any]


def json_bytes(document: object) -> bytes:
    """Compact UTF-8 JSON, the one encoding of every JSON body the web writes itself."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def error_body(status: int, message: str) -> bytes:
    """A 4xx/5xx body a person can act on; the message is ours, never the request echoed."""
    return json_bytes({"error": message, "status": status})


def error_answer(status: int, message: str) -> Answer:
    """A JSON error as a raw answer, never cached."""
    return status, list(NO_STORE_JSON), error_body(status, message)


def variant_etag(etag: str, gzipped: bool) -> str:
    """The bare (unquoted) ETag of one encoding: the gzip representation gets its own."""
    bare = etag.removeprefix("W/").strip('"')
    return f"{bare}-gz" if gzipped else bare

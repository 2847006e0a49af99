"""The pieces of a raw WSGI answer that every web module shares: media types, JSON bodies,
the error body and the ETag of one encoding. No Flask here: the fast path answers without it."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping
from typing import Any

from store.codec import encode_json

JSON_MIMETYPE = "application/json"
CSV_MIMETYPE = "text/csv; charset=utf-8"
NO_STORE_JSON = (("Content-Type", JSON_MIMETYPE), ("Cache-Control", "no-store"))
# Stored answers hold internal addresses and circuit ids: no shared cache may keep them.
PRIVATE_NO_CACHE = "private, no-cache"
REDIS_DOWN = "the data store (Redis) is unreachable; try again shortly"
INTERNAL_ERROR = "internal error; the log has the details"

Headers = list[tuple[str, str]]


class Inflated:
    """A gzip body sent inflated, as it is inflated (no Content-Length): /metrics for a
    client that does not take gzip, a few MB at a time, never the whole 80-160 MB
    exposition of a big org in a web process at once. `head` goes first, as it is."""

    def __init__(self, head: bytes, gzipped: bytes, chunk: int = 64 << 10) -> None:
        self.head = head
        self.gzipped = gzipped
        self.chunk = chunk  # gzip bytes inflated per step (some MB of text)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        inflate = zlib.decompressobj(31)  # wbits 31: gzip, every member in turn
        view = memoryview(self.gzipped)
        for start in range(0, len(view), self.chunk):
            data = view[start : start + self.chunk]
            while data:
                yield inflate.decompress(data)
                if not inflate.eof:
                    break
                data = memoryview(inflate.unused_data)  # the next gzip member
                inflate = zlib.decompressobj(31)
        yield inflate.flush()


Answer = tuple[int, Headers, bytes | Inflated]
Environ = Mapping[str, Any]


def error_body(status: int, message: str) -> bytes:
    """A 4xx/5xx body a person can act on; the message is ours, never the request echoed."""
    return encode_json({"error": message, "status": status})


def error_answer(status: int, message: str) -> Answer:
    """A JSON error as a raw answer, never cached."""
    return status, list(NO_STORE_JSON), error_body(status, message)


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether Accept-Encoding names gzip with a quality above 0 (RFC 9110 §12.5.3).

    `gzip;q=0` refuses gzip; a wildcard alone gets identity, which is always acceptable.
    A quality that is not a number from 0 to 1 counts as a refusal: identity is never wrong.
    """
    for item in accept_encoding.split(","):
        coding, *params = item.split(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            return quality(params) > 0
    return False


def quality(params: list[str]) -> float:
    """The q parameter of one Accept or Accept-Encoding item (1 when absent, 0 when
    malformed or outside 0-1)."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


def variant_etag(etag: str, gzipped: bool) -> str:
    """The bare (unquoted) ETag of one encoding: the gzip representation gets its own."""
    bare = etag.removeprefix("W/").strip('"')
    return f"{bare}-gz" if gzipped else bare

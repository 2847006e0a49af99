"""A streamed document's gzip twin and ETag, made on a thread of their own as its bytes pass.

zlib's deflate and hashlib's blake2b let go of the GIL while they work on a buffer, so the
worker encodes its next bytes (Python, holding the GIL) while the chunk before is being
compressed and hashed on another core, instead of doing both in turn: at 10,000 gateways
a refresh's big documents are a few hundred MB of JSON, CSV and exposition, and their
deflate and hash were the better part of a second of the publish. One thread serves every
document, first come first served, so each document's chunks are squeezed in order.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from store.codec import etag_hash, gzip_stream, quoted_etag

IN_FLIGHT = 4  # chunks of one document waiting for the thread: the bytes held meanwhile

_SQUEEZER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gzip-twin")


class Twin:
    """gzip_stream(level) and etag_hash() of a document fed a chunk at a time: add() hands
    back the compressed bytes ready so far, in order; finish() the rest and the ETag."""

    def __init__(self, level: int) -> None:
        self._gzip = gzip_stream(level)
        self._hash = etag_hash()
        self._waiting: deque[Future[bytes]] = deque()

    def add(self, chunk: bytes) -> list[bytes]:
        """Queue `chunk`; the compressed bytes of the chunks done by now (waiting for the
        oldest when IN_FLIGHT are queued)."""
        self._waiting.append(_SQUEEZER.submit(self._squeeze, chunk))
        ready: list[bytes] = []
        while self._waiting and (len(self._waiting) > IN_FLIGHT or self._waiting[0].done()):
            ready.append(self._waiting.popleft().result())
        return ready

    def _squeeze(self, chunk: bytes) -> bytes:
        """On the squeezer thread (the compressor and the hash are only touched there until
        finish, which waits for every chunk first)."""
        self._hash.update(chunk)
        return self._gzip.compress(chunk)

    def finish(self) -> tuple[list[bytes], str]:
        """The compressed bytes still owed, the end of the gzip stream, and the ETag."""
        rest = [future.result() for future in self._waiting]
        self._waiting.clear()
        rest.append(self._gzip.flush())
        return rest, quoted_etag(self._hash)

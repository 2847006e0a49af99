"""store.twin: the gzip twin and ETag made on the squeezer thread are the bytes the web
would get from the whole body at once, whatever the chunks and however documents interleave."""

from __future__ import annotations

import gzip
import os
import zlib

from store.codec import etag_of, gzip_bytes
from store.twin import IN_FLIGHT, Twin


def whole(body: bytes, level: int) -> bytes:
    """The body gzipped in one go (gzip_bytes at level 6, the same stream at any level)."""
    return gzip_bytes(body) if level == 6 else zlib.compress(body, level, wbits=31)


def squeezed(twin: Twin, chunks: list[bytes]) -> tuple[bytes, str]:
    out: list[bytes] = []
    for chunk in chunks:
        out += twin.add(chunk)
    rest, etag = twin.finish()
    return b"".join(out + rest), etag


def test_a_document_fed_in_chunks_gets_the_twin_and_etag_of_its_whole_body():
    body = b"".join(b'{"gateway":%d,"name":"ge-0/0/%d"},' % (n, n % 4) for n in range(60000))
    chunks = [body[start : start + 65536] for start in range(0, len(body), 65536)]
    twin, etag = squeezed(Twin(1), chunks)
    assert twin == whole(body, 1) and gzip.decompress(twin) == body
    assert etag == etag_of(body)


def test_two_documents_interleaved_keep_their_own_bytes_in_order():
    first, second = Twin(6), Twin(1)
    parts = {id(first): [], id(second): []}
    bodies = {id(first): [], id(second): []}
    for n in range(4 * IN_FLIGHT + 3):
        for twin, size in ((first, 1000 + n), (second, 50000 - n)):
            chunk = os.urandom(size) if n % 3 else bytes([n]) * size
            bodies[id(twin)].append(chunk)
            parts[id(twin)] += twin.add(chunk)
    for twin, level in ((first, 6), (second, 1)):
        rest, etag = twin.finish()
        body = b"".join(bodies[id(twin)])
        assert b"".join(parts[id(twin)] + rest) == whole(body, level)
        assert etag == etag_of(body)


def test_an_empty_document_is_an_empty_gzip_stream():
    twin, etag = squeezed(Twin(6), [b""])
    assert gzip.decompress(twin) == b"" and etag == etag_of(b"")

"""Ready values into the bytes the web sends: compact JSON, CSV, gzip twins and ETags.

What the web serves is stored ready to send (compact JSON plus a gzip twin and an ETag), so a
request costs one round trip and no JSON work (DATA.md §2). The big documents are written a
piece at a time into a `Sink` so the worker never holds a whole one as bytes.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol


def encode_json(document: Any) -> bytes:
    """Compact UTF-8 standard JSON (DATA.md §2): what the web sends byte for byte. Bytes are
    taken as JSON already encoded. NaN or an infinity raises ValueError rather than become
    `NaN`/`Infinity`, which the browser's JSON.parse rejects with the whole document."""
    if isinstance(document, bytes):
        return document
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


class Sink(Protocol):
    """Where the document writers put their bytes: a BytesIO, or a ServedDocument that
    sends them into the publish transaction as they come."""

    def write(self, data: bytes, /) -> Any: ...


def write_json_document(
    sink: Sink, head: Mapping[str, Any], name: str, items: Iterable[Any]
) -> None:
    """encode_json({**head, name: list(items)}) byte for byte into `sink`, one item at a
    time (the list is the document's last member).

    Encoding a 25 MB document in one go holds its pieces, their join and the UTF-8 copy at
    once; item by item, only the finished bytes grow.
    """
    opening = encode_json({**head, name: []})
    assert opening.endswith(b"[]}")  # the list is the last member by construction
    sink.write(opening[:-2])
    for index, item in enumerate(items):
        if index:
            sink.write(b",")
        sink.write(encode_json(item))
    sink.write(b"]}")


def write_json_object(sink: Sink, members: Iterable[tuple[str, Any]]) -> None:
    """encode_json(dict(members)) byte for byte into `sink` (keys unique, in order)."""
    sink.write(b"{")
    for index, (key, value) in enumerate(members):
        if index:
            sink.write(b",")
        sink.write(encode_json(key))
        sink.write(b":")
        sink.write(encode_json(value))
    sink.write(b"}")


class _Utf8:
    """What csv.writer writes to: each row's text on to a byte sink as UTF-8."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    def write(self, text: str) -> int:
        self._sink.write(text.encode("utf-8"))
        return len(text)


class CsvEncoder:
    """CSV bytes built row by row into `sink`: UTF-8 with a BOM (so Excel reads accents
    right), CRLF. Rows leave as UTF-8 at once: no row list, no text copy of the whole file."""

    def __init__(self, columns: Sequence[str], sink: Sink) -> None:
        sink.write("\ufeff".encode())
        self._writer = csv.writer(_Utf8(sink), lineterminator="\r\n")
        self._writer.writerow(columns)

    def add(self, row: Iterable[str]) -> None:
        self._writer.writerow(row)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What Excel runs as a formula at the start of a cell."""
CELL_BREAKS = (";", "\t", "\r", "\n")
"""Where Excel may start a new cell inside ours: `;` is the list separator of many locales
(it opens a comma-separated file with it), tab separates cells on paste, and a line break
ends the row when such a locale does not see our quotes (a cell quoted after a `,` is no
quoted field where `,` separates nothing)."""
CELL_QUOTES = ('"',)
"""Quotes Excel strips before it reads a cell: `"=1+1"` is still a formula."""
_FORMULA = re.compile("[" + re.escape("".join(FORMULA_STARTS)) + "]")
_UNSAFE = re.compile(
    "(?:^|(?<=[" + re.escape("".join(CELL_BREAKS)) + "]))"
    "(?=[" + re.escape("".join(CELL_QUOTES)) + "]*[" + re.escape("".join(FORMULA_STARTS)) + "])"
)


def excel_safe(value: object) -> str:
    """A CSV cell Excel cannot run as a formula: a quote goes before any = + - @ tab or CR
    that starts the cell or follows a CELL_BREAKS character (`x;=1+1` is two cells, one a
    formula, in a `;` locale), quotes in between (CELL_QUOTES) not counting.

    Mist names are free text (a site called =HYPERLINK(...) must stay text in the sheet).
    """
    if value is None:
        return ""
    text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    if _FORMULA.search(text):  # only a formula character can make a formula
        return _UNSAFE.sub("'", text)
    return text  # the common case, found cheaply: a CSV has 30 cells a WAN port


def gzip_bytes(body: bytes) -> bytes:
    """Deterministic gzip (mtime 0) so identical bodies give identical twins."""
    return gzip.compress(body, compresslevel=6, mtime=0)


def gzip_stream(level: int = 6) -> Any:
    """gzip_bytes a piece at a time: the same parameters give the same bytes."""
    return zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: a gzip header with mtime 0


def gzip_member(body: bytes, level: int) -> bytes:
    """`body` as one whole gzip member (mtime 0, as gzip_stream's), to follow others."""
    stream = gzip_stream(level)
    return stream.compress(body) + stream.flush()


def etag_hash() -> Any:
    """The hash behind an ETag, fed a piece at a time (etag_of for whole bodies)."""
    return hashlib.blake2b(digest_size=8)


def etag_of(body: bytes) -> str:
    """A short quoted hash of the bytes, as sent in the ETag header."""
    digest = etag_hash()
    digest.update(body)
    return quoted_etag(digest)


def quoted_etag(digest: Any) -> str:
    return '"' + digest.hexdigest() + '"'

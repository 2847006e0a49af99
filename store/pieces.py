"""Big served documents stored in bounded pieces behind a small manifest (DATA.md §2).

A document of tens of MB kept as one Redis string costs one long command wherever it is
built (APPEND moves the whole string as it grows), copied (COPY to its last-good name) or
freed (a string is one allocation). Stored in pieces of at most PIECE_BYTES, each under a
name of its own generation (`mist:pieces:metrics:<generation>:<n>`), no command ever
touches more than one piece: the live key (`mist:metrics`) and its last-good copy hold the
same small manifest naming the pieces, the switch renames the manifests, and the old
generation's pieces are UNLINKed after it. A generation's pieces never change, so a reader
that found them all read one generation; one that misses a piece (retired meanwhile) reads
the manifest again. A document that fits in one piece stays a plain string.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis

from store.keys import piece_key

PIECE_BYTES = 1 << 20  # the most one command writes, copies, reads or frees of a document
MAGIC = b"\x00mist-pieces "  # no document (JSON, CSV, exposition, gzip) starts with NUL
MANIFEST_MAX = 4096  # a manifest is a few dozen bytes: GETRANGE this much tells one apart
READ_BATCH = 4  # pieces asked per round trip: a few MB, each GET its own short command
DROP_BATCH = 1  # pieces freed per UNLINK: one, as every retired key


@dataclass(frozen=True)
class Manifest:
    """Where a pieced document's bytes are: `count` pieces `base:0` … of `size` bytes."""

    base: str
    count: int
    size: int

    def names(self) -> list[str]:
        return [f"{self.base}:{index}" for index in range(self.count)]

    def encode(self) -> bytes:
        document = {"base": self.base, "count": self.count, "size": self.size}
        return MAGIC + json.dumps(document, separators=(",", ":")).encode()


def manifest_of(raw: Any) -> Manifest | None:
    """The manifest a stored value is, or None (a plain document, or nothing)."""
    if raw is None or bytes(raw[: len(MAGIC)]) != MAGIC:
        return None
    try:
        found = json.loads(bytes(raw[len(MAGIC) :]))
        return Manifest(str(found["base"]), int(found["count"]), int(found["size"]))
    except (ValueError, KeyError, TypeError):
        return None


class PieceWriter:
    """One value (a document or its gzip twin) written into staging: kept here until it
    outgrows a piece, then sent a piece at a time under `base`; close() stages either the
    whole small value or the manifest (under the value's staged name and, through
    `manifest_to`, its staged last-good name)."""

    def __init__(
        self,
        key: str,
        generation: str,
        piece_bytes: int,
        send: Callable[[str, bytes], None],
    ) -> None:
        self.key = key
        self.base = piece_key(key, generation)
        self._piece_bytes = piece_bytes
        self._send = send
        self._buffer = bytearray()
        self.pieces: list[str] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= self._piece_bytes:
            self._piece(bytes(self._buffer[: self._piece_bytes]))
            del self._buffer[: self._piece_bytes]

    def _piece(self, data: bytes) -> None:
        name = f"{self.base}:{len(self.pieces)}"
        self.pieces.append(name)
        self._send(name, data)

    def close(self) -> Manifest | bytes:
        """The whole value when it fits in one piece, else the manifest of its pieces."""
        if not self.pieces:
            return bytes(self._buffer)
        if self._buffer:
            self._piece(bytes(self._buffer))
        self._buffer = bytearray()
        return Manifest(self.base, len(self.pieces), self.size)


def read_pieces(client: redis.Redis, manifest: Manifest) -> bytes | None:
    """The document's bytes, READ_BATCH pieces a round trip (one GET each); None when a
    piece is gone (its generation was retired after the manifest was read)."""
    parts: list[bytes] = []
    keys = manifest.names()
    for start in range(0, len(keys), READ_BATCH):
        pipe = client.pipeline(transaction=False)
        for key in keys[start : start + READ_BATCH]:
            pipe.get(key)
        for piece in pipe.execute():
            if piece is None:
                return None
            parts.append(bytes(piece))
    body = b"".join(parts)
    return body if len(body) == manifest.size else None


def manifests(client: redis.Redis, keys: Iterable[str]) -> dict[str, Manifest]:
    """The manifests among `keys` (a GETRANGE of each head: a big plain value is not read,
    a hash is no manifest)."""
    names = list(keys)
    pipe = client.pipeline(transaction=False)
    for key in names:
        pipe.getrange(key, 0, MANIFEST_MAX)
    found = {}
    for key, head in zip(names, pipe.execute(raise_on_error=False), strict=True):
        manifest = None if isinstance(head, Exception) else manifest_of(head)
        if manifest is not None:
            found[key] = manifest
    return found


def drop_pieces(client: redis.Redis, pieces: Iterable[Manifest]) -> None:
    """UNLINK the pieces of `pieces` (each generation once), DROP_BATCH pieces a command."""
    names = sorted({key for manifest in pieces for key in manifest.names()})
    if not names:
        return
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(names), DROP_BATCH):
        pipe.unlink(*names[start : start + DROP_BATCH])
    pipe.execute()

"""One refresh made visible in a single transaction, sent while it is being written."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis

from store.codec import encode_json, etag_hash, etag_of, gzip_bytes, gzip_stream, quoted_etag
from store.histories import HistoryWrite, queue_history_write
from store.keys import (
    DATASET_KEYS,
    GZ_SUFFIX,
    KEY_ETAGS,
    KEY_LAST_UPDATE,
    Dataset,
    gateway_key,
    history_key,
    peer_paths_key,
    snapshot_ttl,
)
from store.status import queue_status
from store.transaction import Transaction


class ServedDocument:
    """A served document that goes into the publish transaction while it is written.

    Its bytes leave about a megabyte at a time (SET, then APPEND, as the transaction's
    commands), its gzip twin is compressed and its ETag hashed as they pass: at EXEC Redis
    holds exactly what Publisher.served stores for the whole body, and this process never
    held the body. Open it with Publisher.document; close() (the `with` block) finishes it.
    """

    def __init__(self, publisher: Publisher, dataset: Dataset, piece_bytes: int) -> None:
        self._publisher = publisher
        self._dataset = dataset
        self._key = DATASET_KEYS[dataset]
        self._piece_bytes = piece_bytes
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._hash = etag_hash()
        self._gzip = gzip_stream()
        self._started: set[str] = set()
        self.size = 0

    def __enter__(self) -> ServedDocument:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:  # after an error the transaction is discarded anyway
            self.close()

    def write(self, data: bytes) -> int:
        self._pending.append(data)
        self._pending_bytes += len(data)
        self._hash.update(data)
        if self._pending_bytes >= self._piece_bytes:
            self._send_piece()
        return len(data)

    def _send_piece(self) -> None:
        piece = b"".join(self._pending)
        self._pending = []
        self._pending_bytes = 0
        self.size += len(piece)
        self._put(self._key, piece)
        self._put(self._key + GZ_SUFFIX, self._gzip.compress(piece))

    def _put(self, key: str, data: bytes) -> None:
        if key in self._started:
            if data:
                self._publisher.transaction.append(key, data)
        else:
            self._started.add(key)
            self._publisher.transaction.set(key, data, ex=self._publisher.ttl)

    def close(self) -> None:
        """Send the rest and the end of the gzip twin; the ETag joins the others."""
        if self._gzip is None:
            return
        self._send_piece()
        self._put(self._key + GZ_SUFFIX, self._gzip.flush())
        self._gzip = None
        self._publisher.add_etag(self._dataset, quoted_etag(self._hash))


class Publisher:
    """One refresh made visible in a single transaction, sent while it is being written.

    The worker hands over each gateway's and each peer-path list's bytes as it encodes
    them and writes the big documents into document(), which sends them as they grow;
    everything leaves at once (see Transaction), so the process never holds the snapshot
    as bytes. commit() adds the ETags hash and `last_update` and runs EXEC: before it,
    readers see only the previous snapshot.
    """

    def __init__(
        self, client: redis.Redis, *, interval: int, now: float, batch_bytes: int = 1 << 20
    ) -> None:
        self.ttl = snapshot_ttl(interval)
        self._now = now
        self._etags: dict[str, str] = {}
        self.written = 0  # keys written
        self.transaction = Transaction(client, batch_bytes=batch_bytes)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.transaction.close()

    def served(self, dataset: Dataset, body: bytes) -> None:
        """A served document (compact JSON or CSV bytes): its key, gzip twin and ETag."""
        key = DATASET_KEYS[dataset]
        self.transaction.set(key, body, ex=self.ttl)
        self.transaction.set(key + GZ_SUFFIX, gzip_bytes(body), ex=self.ttl)
        self.add_etag(dataset, etag_of(body))

    def served_json(self, dataset: Dataset, document: object) -> None:
        self.served(dataset, encode_json(document))

    def document(self, dataset: Dataset, *, piece_bytes: int = 1 << 20) -> ServedDocument:
        """A served document written piece by piece (the big ones: the gateways payload, the
        CSV, all peer paths), sent as it grows; same keys, twin and ETag as served()."""
        return ServedDocument(self, dataset, piece_bytes)

    def add_etag(self, dataset: Dataset, etag: str) -> None:
        self._etags[dataset.value] = etag
        self.written += 2  # the body and its gzip twin

    def gateway(self, gateway_id: str, body: bytes) -> None:
        """One gateway's JSON with its WAN ports (`/api/gateway/<id>`)."""
        self.transaction.set(gateway_key(gateway_id), body, ex=self.ttl)
        self.written += 1

    def peer_paths(self, gateway_id: str, body: bytes) -> None:
        """One gateway's peer paths as a JSON list."""
        self.transaction.set(peer_paths_key(gateway_id), body, ex=self.ttl)
        self.written += 1

    def history_write(self, port: tuple[str, str], write: HistoryWrite) -> None:
        """What one port's stored history needs this refresh (traffic.plan decided it)."""
        queue_history_write(self.transaction, history_key(*port), write)
        self.written += 1

    def commit(self, status: Mapping[str, Any] | None = None) -> int:
        """ETags, `last_update` and the worker's status with the rest, then EXEC: the status
        never names older data than is served. Returns the keys written."""
        if status is not None:
            queue_status(self.transaction, status)
        self.transaction.hset(KEY_ETAGS, mapping=self._etags)  # type: ignore[arg-type]
        self.transaction.expire(KEY_ETAGS, self.ttl)
        self.transaction.set(KEY_LAST_UPDATE, repr(float(self._now)))
        self.transaction.execute()
        return self.written

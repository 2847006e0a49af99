"""One refresh made visible at once, without holding Redis up while it is written.

The refresh is written under staging keys (`mist:staged:…`) in pipelined batches that Redis
applies as they come, serving every reader in between; then one small MULTI/EXEC renames the
staged keys live, with the ETags, `last_update` and the worker's status. A reader sees the
whole old snapshot or the whole new one, and never waits for more than the switch: a few
dozen O(1) commands, whatever the org's size (DATA.md §2).

Nothing is freed inside the switch: it renames the old generation to retired names (a
RENAME onto an existing key would free the old value in place unless Redis runs with
`lazyfree-lazy-server-del`), and each retired key is UNLINKed after it, one command each
(a big hash is freed in Redis's background thread; a string, one allocation, at once).
Leftovers are UNLINKed. A per-gateway hash is its own last-good copy, kept as long (a
COPY of a 10,000-field hash held Redis for hundreds of milliseconds; writing a second copy
field by field doubled what the hashes cost).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import redis
from redis.exceptions import WatchError

from store.codec import encode_json, etag_hash, gzip_stream, quoted_etag
from store.histories import HistoryWrite, queue_history_write, write_bytes
from store.keys import (
    DEFAULT_KEYSPACE,
    GZ_SUFFIX,
    GZIP_ONLY,
    KEY_LOCK,
    LAST_GOOD_TTL,
    Dataset,
    Keyspace,
    history_key,
    last_good_key,
    peer_paths_key,
    retired_key,
    snapshot_ttl,
    staged_key,
)
from store.pieces import PIECE_BYTES, Manifest, PieceWriter, drop_pieces, manifests
from store.status import queue_status
from store.transaction import Batches, Transaction

HISTORY_CHUNK = 500  # ports per history transaction: each port's keys change together
HISTORY_CHUNK_BYTES = 256 << 10  # … or fewer: about this much history per EXEC (a few ms)
FENCE_TRIES = 5  # our own heartbeat renewing the lease mid-switch costs one more try
COMPRESS_CHUNK = 256 << 10  # a document's bytes are gzipped (and sent) this much at a time


class ServedDocument:
    """A served document written a piece at a time into staging.

    Its bytes leave as they come (at most a piece a command, DATA.md §2), its gzip twin is
    compressed and its ETag hashed as they pass: after the switch Redis holds exactly what
    Publisher.served stores for the whole body, and this process never held the body. A
    document bigger than a piece is stored in pieces behind a manifest (store.pieces), its
    twin alike. Open it with Publisher.document; close() (the `with` block) finishes it.

    A GZIP_ONLY document (the exposition, availability) is its twin alone: its ETag hashes
    the gzip bytes it stores (a sixth of the text or less), and it may take whole gzip members
    made once for several documents (write_member): gzip readers take members as one stream.
    """

    def __init__(
        self, publisher: Publisher, dataset: Dataset, piece_bytes: int, gzip_level: int = 6
    ) -> None:
        self._publisher = publisher
        self._dataset = dataset
        key = publisher.keyspace.dataset_key(dataset)
        piece_bytes = min(piece_bytes, publisher.piece_bytes)
        self._plain: PieceWriter | None = None  # GZIP_ONLY: the twin alone is stored
        if dataset in GZIP_ONLY:
            publisher.drop_after_switch(key)  # an older worker's plain bytes, if any
        else:
            self._plain = publisher.pieces(key, piece_bytes)
        self._twin = publisher.pieces(key + GZ_SUFFIX, piece_bytes)
        self._chunk = max(1, min(piece_bytes, COMPRESS_CHUNK))
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._hash = etag_hash()
        self._level = gzip_level
        self._gzip = gzip_stream(gzip_level)
        self._member_open = False  # bytes went into the current gzip member
        self._closed = False

    def __enter__(self) -> ServedDocument:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:  # after an error nothing is switched live anyway
            self.close()

    def write(self, data: bytes) -> int:
        if not data:  # nothing to send: no gzip member opened for it
            return 0
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._plain is not None:
            self._hash.update(data)
        if self._pending_bytes >= self._chunk:
            self._send_chunk()
        return len(data)

    def write_member(self, member: bytes) -> None:
        """A whole gzip member (GZIP_ONLY documents only: a plain copy would need the text)
        after what was written so far, which ends a member of its own first."""
        if self._plain is not None:
            raise ValueError("gzip members go only into a document stored as gzip alone")
        self._end_member()
        self._stored(member)

    def _send_chunk(self) -> None:
        if not self._pending:
            return
        chunk = b"".join(self._pending)
        self._pending = []
        self._pending_bytes = 0
        if self._plain is not None:
            self._plain.write(chunk)
        self._stored(self._gzip.compress(chunk))
        self._member_open = True

    def _end_member(self) -> None:
        """The open gzip member sent and finished; the next bytes open a new one."""
        self._send_chunk()
        if self._member_open:
            self._stored(self._gzip.flush())
            self._gzip = gzip_stream(self._level)
            self._member_open = False

    def _stored(self, zipped: bytes) -> None:
        self._twin.write(zipped)
        if self._plain is None:  # GZIP_ONLY: the ETag is of the bytes stored
            self._hash.update(zipped)

    def close(self) -> None:
        """Send the rest and the end of the gzip twin; the ETag joins the others."""
        if self._closed:
            return
        self._closed = True
        self._send_chunk()
        if self._member_open or not self._twin.size:  # an empty document: one empty member
            self._stored(self._gzip.flush())
        if self._plain is not None:
            self._publisher.finish(self._plain)
        self._publisher.finish(self._twin)
        self._publisher.add_etag(self._dataset, quoted_etag(self._hash))


class Publisher:
    """One refresh: staged while it is written, switched live by commit().

    The worker hands over each gateway's and each peer-path list's bytes as it encodes them
    and writes the big documents into document(), which sends them as they grow, so the
    process never holds the snapshot as bytes. Traffic histories go in their own small
    transactions (a port's keys change together), outside the switch.

    With `owner` every transaction (histories and the switch) is fenced on the worker lease:
    a worker that lost it, paused or not, applies none of them (store.lease.LeaseLost).
    `keyspace` is where the snapshot goes: one org's own keys in a multi-org deployment
    (each org staged and switched on its own), the seed's keys by default.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        interval: int,
        now: float,
        batch_bytes: int = 1 << 20,
        owner: str | None = None,
        keyspace: Keyspace = DEFAULT_KEYSPACE,
        piece_bytes: int = PIECE_BYTES,
    ) -> None:
        self.ttl = snapshot_ttl(interval)
        self.interval = interval
        self.piece_bytes = piece_bytes
        self.generation = secrets.token_hex(6)  # names this refresh's pieces (store.pieces)
        self.keyspace = keyspace
        self._client = client
        self._fence = None if owner is None else (KEY_LOCK, owner)
        self._now = now
        self._etags: dict[str, str] = {}
        self._live: list[str] = []  # the live keys whose staging key this refresh wrote
        self._hashes: set[str] = set()
        self._pieced: set[str] = set()  # live keys staged as a manifest (and its last-good)
        self._manifests: list[Manifest] = []
        self._pieces: list[str] = []  # every piece this refresh wrote
        self._histories: list[tuple[str, HistoryWrite]] = []
        self._history_bytes = 0
        self._with_switch: list[Callable[[Transaction], None]] = []
        self._switched: list[str] = []  # other staged values renamed live by the switch
        self._nested: list[Publisher] = []  # other keyspaces switched in the same EXEC
        self._dropped: list[str] = []  # live names no longer written: freed with the retired
        self.written = 0  # keys written
        self.staging = Batches(client, batch_bytes=batch_bytes)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.staging.close()

    def stage(self, key: str, body: bytes) -> None:
        """A whole value for the live `key`, staged with the snapshot's TTL."""
        self.staging.set(staged_key(key), body, ex=self.ttl)
        self._live.append(key)

    def pieces(self, key: str, piece_bytes: int) -> PieceWriter:
        """A writer of the value of live `key` in pieces of `piece_bytes`; finish() it."""

        def send(name: str, piece: bytes) -> None:
            self.staging.set(name, piece, ex=self.ttl)
            self._pieces.append(name)

        return PieceWriter(key, self.generation, piece_bytes, send)

    def finish(self, writer: PieceWriter) -> None:
        """Stage what `writer` wrote: the whole value when small, else its manifest under
        the staged name and the staged last-good name (the pieces are never copied)."""
        value = writer.close()
        if isinstance(value, bytes):
            self.stage(writer.key, value)
            return
        manifest = value.encode()
        self.stage(writer.key, manifest)
        self.staging.set(staged_key(last_good_key(writer.key)), manifest, ex=self.ttl)
        self._pieced.add(writer.key)
        self._manifests.append(value)

    def drop_after_switch(self, key: str) -> None:
        """A live value this worker no longer writes (a GZIP_ONLY document's plain bytes, left
        by an older worker): it and its last-good copy go with the retired generation."""
        self._dropped += [key, last_good_key(key)]

    def served(self, dataset: Dataset, body: bytes) -> None:
        """A served document (compact JSON or CSV bytes): its key, gzip twin and ETag."""
        with self.document(dataset) as document:
            document.write(body)

    def served_json(self, dataset: Dataset, document: object) -> None:
        self.served(dataset, encode_json(document))

    def document(
        self, dataset: Dataset, *, piece_bytes: int = PIECE_BYTES, gzip_level: int = 6
    ) -> ServedDocument:
        """A served document written piece by piece (the big ones: the gateways payload, the
        CSV, all peer paths), sent as it grows; same keys, twin and ETag as served()."""
        return ServedDocument(self, dataset, piece_bytes, gzip_level)

    def add_etag(self, dataset: Dataset, etag: str) -> None:
        self._etags[dataset.value] = etag
        self.written += 2  # the body and its gzip twin

    def _field(self, key: str, gateway_id: str, body: bytes) -> None:
        """One field of a per-gateway hash, into its staged hash."""
        self.staging.hset(self._staged_hash(key), gateway_id, body)

    def _staged_hash(self, key: str) -> str:
        """The staged name of a per-gateway hash, its own last-good copy (DATA.md §2.1);
        the first time this refresh, leftovers UNLINKed (a dead worker's must not join this
        refresh) and an older worker's separate copy dropped after the switch."""
        staged = staged_key(key)
        if key not in self._hashes:
            self._hashes.add(key)
            self.staging.unlink(staged, staged_key(last_good_key(key)))  # in the background
            self._switched.append(key)
            self._dropped.append(last_good_key(key))
        return staged

    def gateway(self, gateway_id: str, body: bytes) -> None:
        """One gateway's JSON with its WAN ports (`/api/gateway/<id>`)."""
        self._field(self.keyspace.gateway_details, gateway_id, body)
        self.written += 1

    def peer_paths(self, gateway_id: str, body: bytes) -> None:
        """One gateway's peer paths as a JSON list: in the switched hash the web reads, and
        in the seed's own key `mist:vpn_peers:{id}-{mac}` (written as it comes)."""
        self._field(self.keyspace.peer_path_details, gateway_id, body)
        self.staging.set(peer_paths_key(gateway_id), body, ex=self.ttl)
        self.written += 1

    def details(self, key: str, bodies: Mapping[str, bytes]) -> None:
        """Several gateways' fields of another per-gateway hash (availability) at once,
        switched live with the snapshot like the gateway's own: one HSET into the staged hash
        (at 10,000 gateways, one field a command was 10,000 commands, most of what writing
        them cost)."""
        if not bodies:
            return
        items = [part for pair in bodies.items() for part in pair]  # field, body, field…
        self.staging.hset(self._staged_hash(key), items=items)
        self.written += len(bodies)

    def nested(self, keyspace: Keyspace) -> Publisher:
        """Another keyspace's publish (a single-org deployment's overview) staged on these
        batches and switched in this publish's MULTI/EXEC: both go live at once. Not
        committed on its own."""
        other = Publisher(
            self._client,
            interval=self.interval,
            now=self._now,
            keyspace=keyspace,
            piece_bytes=self.piece_bytes,
        )
        other.staging.close()
        other.staging = self.staging
        self._nested.append(other)
        return other

    def with_switch(self, queue: Callable[[Transaction], None]) -> None:
        """More commands for the switch: they go live with the snapshot (its events)."""
        self._with_switch.append(queue)

    def switch_value(self, key: str) -> None:
        """A value the caller staged under `staged_key(key)` (e.g. an org's events state),
        renamed live by the switch like the snapshot's own: its old value retired and
        UNLINKed after the EXEC, never freed inside it. No last-good copy."""
        self._switched.append(key)

    def history_write(self, port: tuple[str, str], write: HistoryWrite) -> None:
        """What one port's stored history needs this refresh (traffic.plan decided it)."""
        self._histories.append((history_key(*port), write))
        self._history_bytes += write_bytes(write)
        if len(self._histories) >= HISTORY_CHUNK or self._history_bytes >= HISTORY_CHUNK_BYTES:
            self._write_histories()
        self.written += 1

    def _write_histories(self) -> None:
        def queue(pipe: Any) -> None:
            for key, write in self._histories:
                queue_history_write(pipe, key, write)

        self._fenced(queue)
        self._histories = []
        self._history_bytes = 0

    def _fenced(self, queue: Callable[[Any], None]) -> None:
        """One MULTI/EXEC of what `queue` adds, applied only while we hold the lease (when
        fenced): a changed lease key makes EXEC apply nothing, and we ask again."""
        for attempt in range(FENCE_TRIES):
            try:
                with Transaction(self._client, fence=self._fence) as transaction:
                    queue(transaction)
                    transaction.execute()
                return
            except WatchError:
                if attempt == FENCE_TRIES - 1:
                    raise

    def commit(self, status: Mapping[str, Any] | None = None) -> int:
        """Finish staging, then switch: every staged key renamed live, with the ETags,
        `last_update` and the worker's status, in one small MULTI/EXEC. Returns keys written."""
        publishes = [self, *self._nested]
        for publish in publishes:
            publish._prepare()
        self.staging.execute()
        for publish in publishes:  # a dead worker's leftovers: the switch needs the names free
            publish._retire()
        if self._histories:
            self._write_histories()
        switches = [self._switch(status), *(nested._switch(None) for nested in self._nested)]

        def switch(transaction: Any) -> None:
            for queue in switches:
                queue(transaction)

        try:
            self._fenced(switch)
        except BaseException:
            for publish in publishes:
                publish._drop_new_pieces()
            raise
        for publish in publishes:  # the generation the switch moved aside
            publish._retire()
        return self.written + sum(nested.written for nested in self._nested)

    def _prepare(self) -> None:
        """Queue what the switch needs staged: TTLs, small values' last-good copies (Redis
        COPYs at most a piece), the pieces' TTL."""
        for key in self._hashes:  # each its own last-good copy: kept as long
            self.staging.expire(staged_key(key), LAST_GOOD_TTL)
        for key in self._live:
            if key not in self._pieced:
                target = staged_key(last_good_key(key))
                self.staging.unlink(target)  # a leftover: not freed inside COPY … REPLACE
                self.staging.copy(staged_key(key), target)
        for name in self._pieces:  # the last-good manifest names them too: its TTL
            self.staging.expire(name, LAST_GOOD_TTL)

    def _switch(self, status: Mapping[str, Any] | None) -> Callable[[Any], None]:
        keys = self.keyspace

        def switch(transaction: Any) -> None:
            for key in (keys.gateway_details, keys.peer_path_details):
                if key not in self._hashes:  # no gateway this refresh: none stays live
                    transaction.unlink(key, last_good_key(key))
            for live in self._renamed():
                # the old generation moves aside (an empty placeholder when there is none,
                # so RENAME cannot fail): the new one lands on a free name and nothing is
                # freed inside EXEC
                transaction.set(live, b"", nx=True)
                transaction.rename(live, retired_key(live))
                transaction.rename(staged_key(live), live)
            for key in self._live:
                transaction.expire(last_good_key(key), LAST_GOOD_TTL)
            transaction.unlink(last_good_key(keys.etags))  # exactly the copied bodies' ETags
            for key, ttl in ((keys.etags, self.ttl), (last_good_key(keys.etags), LAST_GOOD_TTL)):
                transaction.hset(key, mapping=self._etags)
                transaction.expire(key, ttl)
            last_update = repr(float(self._now))
            # an org of a multi-org deployment: gone 7 days after its last publish, like its
            # last-good copy (the seed's key has no TTL)
            kept = LAST_GOOD_TTL if keys.org_id is not None else None
            transaction.set(keys.last_update, last_update, ex=kept)
            transaction.set(last_good_key(keys.last_update), last_update, ex=LAST_GOOD_TTL)
            for queue in self._with_switch:
                queue(transaction)
            if status is not None:
                queue_status(transaction, status, keys)

        return switch

    def _retire(self) -> None:
        """UNLINK every retired name, one command each, then the pieces their manifests
        name: the old generation of a pieced document goes a piece a command."""
        retired = [*(retired_key(live) for live in self._renamed()), *self._dropped]
        found = manifests(self._client, retired)
        pipe = self._client.pipeline(transaction=False)
        for name in retired:
            pipe.unlink(name)
        pipe.execute()
        drop_pieces(self._client, found.values())

    def _drop_new_pieces(self) -> None:
        """A switch that failed (lease lost): this refresh's pieces go now, not in 7 days."""
        with contextlib.suppress(redis.RedisError):  # Redis away: they expire with their TTL
            drop_pieces(self._client, self._manifests)

    def _renamed(self) -> list[str]:
        """Every live name the switch renames a staged key onto."""
        return [
            *(name for key in self._live for name in (key, last_good_key(key))),
            *self._switched,
        ]

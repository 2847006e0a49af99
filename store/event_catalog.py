"""An org's catalog of event subjects and peers: each told once, numbered, and named by
number in the packed blocks (store/event_blocks.py), so a name costs nothing per event.

One hash per org (`mist:events:{org_id}:catalog`): `n` the count, `e` the catalog's epoch
(made when it is created: a catalog made again after a flush is another catalog), `<index>`
the JSON list of an entry's facts (a subject: org, site, gateway ids and names; a peer: mac,
name, port), and `g:<gateway_id>` / `s:<site_id>` the subjects of a gateway / site, for the
filters. Entries never change once written: the web keeps what it read.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from store.codec import encode_json
from store.histories import as_bytes
from store.keys import event_catalog_key

MAX_CACHED = 500_000  # entries the web keeps per process before it starts again


class CatalogWriter:
    """The worker's view of an org's catalog: indices for facts, new entries queued."""

    def __init__(self, org_id: str, epoch: str, entries: dict[int, list[Any]]) -> None:
        self.org_id = org_id
        self.epoch = epoch
        self.count = max(entries, default=-1) + 1
        self._index = {encode_json(facts): index for index, facts in entries.items()}
        self._by: dict[str, list[int]] = {}
        for index, facts in entries.items():
            if len(facts) == 6:
                self._remember(index, facts)
        self._new: dict[str, bytes] = {}

    def _remember(self, index: int, facts: Sequence[Any]) -> list[str]:
        changed = []
        for prefix, value in (("g:", facts[4]), ("s:", facts[2])):
            if value is not None:
                self._by.setdefault(prefix + str(value), []).append(index)
                changed.append(prefix + str(value))
        return changed

    def index(self, facts: Sequence[Any]) -> int:
        """The index of `facts` (a subject's six or a peer's three), new ones numbered."""
        key = encode_json(list(facts))
        found = self._index.get(key)
        if found is not None:
            return found
        found = self._index[key] = self.count
        self.count += 1
        self._new[str(found)] = key
        if len(facts) == 6:
            for field in self._remember(found, facts):
                self._new[field] = encode_json(self._by[field])
        return found

    def entries(self) -> dict[int, list[Any]]:
        """Every entry by index (to unpack the blocks the worker repacks)."""
        return {index: json.loads(key) for key, index in self._index.items()}

    def queue(self, pipe: Any) -> None:
        """The new entries, the count and the epoch, on `pipe`; nothing when nothing is new."""
        if self._new:
            self._new.update(n=str(self.count).encode(), e=self.epoch.encode())
            pipe.hset(event_catalog_key(self.org_id), mapping=self._new)
            self._new = {}


_writers: dict[str, CatalogWriter] = {}
_writers_lock = threading.Lock()


def catalog_writer(client: redis.Redis, org_id: str) -> CatalogWriter:
    """The org's catalog as Redis holds it (kept in this process while its count and epoch
    match Redis's, so a busy hour reads two small fields, not the whole catalog)."""
    key = event_catalog_key(org_id)
    count, epoch = client.hmget(key, ["n", "e"])
    with _writers_lock:
        kept = _writers.get(org_id)
        if (
            kept is not None
            and epoch is not None
            and kept.epoch == as_bytes(epoch).decode()
            and kept.count == int(count or 0)
            and not kept._new
        ):
            return kept
        raw: dict[Any, Any] = client.hgetall(key)
        entries = {
            int(field): json.loads(value)
            for field, value in raw.items()
            if as_bytes(field).isdigit()
        }
        made = epoch is None
        writer = CatalogWriter(
            org_id, secrets.token_hex(8) if made else as_bytes(epoch).decode(), entries
        )
        _writers[org_id] = writer
        return writer


class CatalogReader:
    """The web's reads of catalogs: entries by index, kept per process (they never change
    within an epoch)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, int], list[Any]] = {}
        self._lock = threading.Lock()

    def entries(
        self, client: redis.Redis, org_id: str, indices: Iterable[int]
    ) -> dict[int, list[Any]]:
        """The entries of `indices` (one HMGET for those not kept yet)."""
        wanted = sorted(set(indices))
        key = event_catalog_key(org_id)
        raw: list[Any] = client.hmget(key, ["e", *(str(i) for i in wanted)])
        epoch = as_bytes(raw[0]).decode() if raw[0] is not None else ""
        found: dict[int, list[Any]] = {}
        with self._lock:
            if len(self._entries) > MAX_CACHED:
                self._entries.clear()
            for index, value in zip(wanted, raw[1:], strict=True):
                kept = self._entries.get((org_id, epoch, index))
                if kept is None:
                    if value is None:  # never written: the facts stay null
                        found[index] = []
                        continue
                    kept = self._entries[(org_id, epoch, index)] = json.loads(value)
                found[index] = kept
        return found

    @staticmethod
    def subjects(
        client: redis.Redis, org_id: str, site: str | None, gateway: str | None
    ) -> frozenset[int] | None:
        """The subject indices a site/gateway filter keeps (None: no such filter)."""
        if site is None and gateway is None:
            return None
        fields = [f"s:{site}"] if site is not None else []
        fields += [f"g:{gateway}"] if gateway is not None else []
        chosen: set[int] | None = None
        for raw in client.hmget(event_catalog_key(org_id), fields):
            found = set(json.loads(raw)) if raw is not None else set()
            chosen = found if chosen is None else chosen & found
        return frozenset(chosen or ())

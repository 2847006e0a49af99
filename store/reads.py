"""What the web app reads: served documents with their ETags, one gateway, the health facts.

Every read is one round trip; a body and its ETag come from one transaction, so a reader
sees either the whole old snapshot or the whole new one. A big document is a manifest there,
and its pieces (one generation's, never rewritten) follow a few a round trip (store.pieces);
a piece gone meanwhile (that generation was retired) means reading the manifest again.
Once the live snapshot has expired (a long Mist outage) the same reads answer from its
last-good copy (DATA.md §2), which is the same snapshot the live keys last held: one more
round trip, only then.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.connection import parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel

from settings import SentinelSettings
from store.codec import etag_of
from store.histories import as_bytes
from store.keys import (
    DEFAULT_KEYSPACE,
    GZ_SUFFIX,
    GZIP_ONLY,
    KEY_HEARTBEAT,
    KEY_INTERVAL,
    KEY_LAST_UPDATE,
    KEY_ORGS_INDEX,
    KEY_WORKER_STATUS,
    PREFIX,
    Dataset,
    Keyspace,
    keyspace_of,
    last_good_key,
)
from store.pieces import manifest_of, read_pieces


@dataclass(frozen=True)
class Served:
    """A body ready to send with its ETag; `body` is gzip bytes when `gzipped`."""

    body: bytes
    etag: str
    gzipped: bool


SENTINEL_TIMEOUT = 0.5  # per Sentinel asked: all of them down is a quick 503, not a hang


def connect(
    url: str,
    *,
    timeout: float = 2.0,
    sentinel: SentinelSettings | None = None,
    replica: bool = False,
) -> redis.Redis:
    """The one place a Redis client is built, for both tiers; short socket timeouts so a
    dead Redis is a 503. With `sentinel` the data node is the master Sentinel names now
    (found again after a failover), or with `replica` one of its replicas (the web, when
    REDIS_READ_FROM_REPLICAS=1); REDIS_URL then gives only the user, password and db."""
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": 30,
    }
    if sentinel is None:
        return redis.Redis.from_url(url, **options)
    node = {k: v for k, v in parse_url(url).items() if k in ("username", "password", "db")}
    asked = min(timeout, SENTINEL_TIMEOUT)
    sentinel_options: dict[str, Any] = {
        "socket_timeout": asked,
        "socket_connect_timeout": asked,
        "retry": Retry(NoBackoff(), 0),  # the next Sentinel is the retry
    }
    if sentinel.password is not None:
        sentinel_options["password"] = sentinel.password.reveal()
    sentinels = Sentinel(list(sentinel.addresses), sentinel_kwargs=sentinel_options)
    # One quick retry: after a failover it finds the promoted node; with none, a prompt error.
    options["retry"] = Retry(ExponentialBackoff(cap=0.2, base=0.05), 1)
    if replica:
        return sentinels.slave_for(sentinel.master, **options, **node)
    return sentinels.master_for(sentinel.master, **options, **node)


def read_served(
    client: redis.Redis,
    dataset: Dataset,
    *,
    gzip_ok: bool,
    keyspace: Keyspace = DEFAULT_KEYSPACE,
) -> Served | None:
    """Body and ETag of one dataset (of the org whose `keyspace` it is) from one MULTI/EXEC
    round trip; None when absent (live and last-good). A GZIP_ONLY dataset asked for plain
    is its twin inflated here (tests, diagnostics: /metrics streams it, web/metrics.py)."""
    if dataset in GZIP_ONLY and not gzip_ok:
        zipped = read_served(client, dataset, gzip_ok=True, keyspace=keyspace)
        if zipped is None or not zipped.gzipped:
            return zipped
        return Served(body=gzip.decompress(zipped.body), etag=zipped.etag, gzipped=False)
    keys = keyspace_of(dataset, keyspace)
    key = keys.dataset_key(dataset)
    served = _read_body(client, key, keys.etags, dataset, gzip_ok)
    if served is None:
        served = _read_body(client, last_good_key(key), last_good_key(keys.etags), dataset, gzip_ok)
    return served


READ_TRIES = 3  # a publish retired the pieces being read: read its manifest instead


def _read_body(
    client: redis.Redis, key: str, etags: str, dataset: Dataset, gzip_ok: bool
) -> Served | None:
    def read() -> tuple[Any, Any]:
        pipe = client.pipeline(transaction=True)
        pipe.get(key + GZ_SUFFIX if gzip_ok else key)
        pipe.hget(etags, dataset.value)
        body, etag = pipe.execute()
        return body, etag

    body, etag = _joined(client, read)
    if body is None and gzip_ok:  # a twin that is missing: serve the plain bytes
        return _read_body(client, key, etags, dataset, False)
    if body is None:
        return None
    body = bytes(body)
    if etag is None:
        etag = etag_of(gzip.decompress(body) if gzip_ok else body).encode()
    return Served(body=body, etag=bytes(etag).decode(), gzipped=gzip_ok)


def read_document(client: redis.Redis, key: str) -> bytes | None:
    """The bytes of a served document as stored at `key`, pieces joined (tests, the bench,
    diagnostics: the web reads through read_served, with its ETag)."""
    raw, _ = _joined(client, lambda: (client.get(key), None))
    return None if raw is None else as_bytes(raw)


def _joined(client: redis.Redis, read: Callable[[], tuple[Any, Any]]) -> tuple[Any, Any]:
    """`read`'s value (and what it read beside it) with a manifest's pieces joined; read
    again when a publish retired those pieces meanwhile (None after READ_TRIES)."""
    raw, beside = None, None
    for _ in range(READ_TRIES):
        raw, beside = read()
        manifest = manifest_of(raw)
        if manifest is None:
            return raw, beside
        raw = read_pieces(client, manifest)
        if raw is not None:
            return raw, beside
    return raw, beside


def read_etag(
    client: redis.Redis, dataset: Dataset, keyspace: Keyspace = DEFAULT_KEYSPACE
) -> str | None:
    """The current ETag of a dataset (cheap: for If-None-Match); the last-good one's once
    the live snapshot is gone."""
    etags = keyspace_of(dataset, keyspace).etags
    etag = client.hget(etags, dataset.value)
    if etag is None:
        etag = client.hget(last_good_key(etags), dataset.value)
    return None if etag is None else as_bytes(etag).decode()


def _hash_field(client: redis.Redis, key: str, field: str) -> bytes | None:
    """A field of a per-gateway hash, its own last-good copy (DATA.md §2.1: a gateway
    missing from it is gone, not last known); an older worker's separate copy only when
    the hash itself is gone."""
    body = client.hget(key, field)
    if body is None and not client.exists(key):
        body = client.hget(last_good_key(key), field)
    return None if body is None else as_bytes(body)


def read_gateway(
    client: redis.Redis, gateway_id: str, keyspace: Keyspace = DEFAULT_KEYSPACE
) -> bytes | None:
    """JSON of one gateway with its WAN ports (DATA.md §3.1 item), as the worker stored it."""
    return _hash_field(client, keyspace.gateway_details, gateway_id)


def read_gateway_peer_paths(
    client: redis.Redis, gateway_id: str, keyspace: Keyspace = DEFAULT_KEYSPACE
) -> bytes | None:
    """JSON list of one gateway's peer paths, as the worker stored it."""
    return _hash_field(client, keyspace.peer_path_details, gateway_id)


def read_gateway_availability(
    client: redis.Redis, gateway_id: str, keyspace: Keyspace = DEFAULT_KEYSPACE
) -> bytes | None:
    """One gateway's availability JSON (DATA.md §3.10), as the worker stored it."""
    return _hash_field(client, keyspace.availability_details, gateway_id)


def serving_last_good(client: redis.Redis, keyspace: Keyspace = DEFAULT_KEYSPACE) -> bool:
    """True when the live snapshot is gone and its last-good copy is what the web serves."""
    pipe = client.pipeline(transaction=False)
    pipe.exists(keyspace.etags)
    pipe.exists(last_good_key(keyspace.etags))
    live, last_good = pipe.execute()
    return not live and bool(last_good)


def read_status_published(
    client: redis.Redis, keyspace: Keyspace = DEFAULT_KEYSPACE
) -> tuple[bytes | None, float | None, int | None]:
    """The status JSON as stored, `last_update` and the worker's interval, in one MGET."""
    body, last_update, interval = client.mget([keyspace.status, keyspace.last_update, KEY_INTERVAL])
    return (None if body is None else as_bytes(body)), as_float(last_update), as_int(interval)


def read_last_update(client: redis.Redis, keyspace: Keyspace = DEFAULT_KEYSPACE) -> float | None:
    """When the served snapshot was published (`mist:metadata:last_update`), or None."""
    return as_float(client.get(keyspace.last_update))


@dataclass(frozen=True)
class OrgIndex:
    """Which orgs the worker publishes (`mist:orgs:index`): `multi` when each has its own
    keys (DATA.md §2.3), else the one org uses the seed's keys."""

    multi: bool
    orgs: tuple[str, ...]


def read_org_index(client: redis.Redis) -> OrgIndex | None:
    """The org index the worker wrote, or None (no worker has run yet)."""
    document = json_object(client.get(KEY_ORGS_INDEX))
    if document is None or not isinstance(document.get("orgs"), list):
        return None
    orgs = tuple(str(org) for org in document["orgs"] if isinstance(org, str))
    return OrgIndex(multi=document.get("multi") is True, orgs=orgs)


def read_health(client: redis.Redis) -> dict[str, Any]:
    """Liveness facts for /health without loading any snapshot or document (one MGET)."""
    last_update, worker_status, heartbeat, interval = client.mget(
        [KEY_LAST_UPDATE, KEY_WORKER_STATUS, KEY_HEARTBEAT, KEY_INTERVAL]
    )
    return {
        "redis": "ok",
        "last_update": as_float(last_update),
        "worker_status": None if worker_status is None else as_bytes(worker_status).decode(),
        "heartbeat": as_float(heartbeat),
        "interval": as_int(interval),
    }


def json_object(raw: Any) -> dict[str, Any] | None:
    """A stored JSON object, or None (absent or not an object)."""
    if raw is None:
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def scan_keys(client: redis.Redis, pattern: str = PREFIX + "*") -> Iterable[str]:
    """Every key under our prefix by SCAN (never KEYS); for tests and diagnostics."""
    for key in client.scan_iter(match=pattern, count=1000):
        yield as_bytes(key).decode()


def as_int(raw: Any) -> int | None:
    found = as_float(raw)
    return int(found) if found is not None and found.is_integer() and found > 0 else None


def as_float(raw: Any) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None

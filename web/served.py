"""The datasets the worker stored ready to send: one small Redis read (the ETag) per request,
the bytes from this process's memory until the ETag moves (DATA.md §3.6)."""

from __future__ import annotations

import redis
from werkzeug.http import parse_etags

from store import reads
from store.keys import DEFAULT_KEYSPACE, GZIP_ONLY, Dataset, Keyspace, keyspace_of
from web.answers import (
    CSV_MIMETYPE,
    JSON_MIMETYPE,
    PRIVATE_NO_CACHE,
    Answer,
    Headers,
    Inflated,
    accepts_gzip,
    error_answer,
    variant_etag,
)

DATASET_MIMETYPES = {
    Dataset.EXPORT_CSV: CSV_MIMETYPE,
    Dataset.AVAILABILITY_CSV: CSV_MIMETYPE,
    Dataset.ISPS_CSV: CSV_MIMETYPE,
}
NO_DATA_YET = "no data yet: the worker has not finished a refresh"
MAX_CACHED = 64  # bodies kept per process (a few orgs' datasets in both encodings)


class DatasetServer:
    """The served datasets: the body of each dataset and encoding is kept per process until
    its ETag moves, so a request costs one HGET round trip and no copy of a megabyte."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._bodies: dict[tuple[str, Dataset, bool], reads.Served] = {}

    def answer(
        self,
        dataset: Dataset,
        accept_encoding: str,
        if_none_match: str | None,
        keyspace: Keyspace = DEFAULT_KEYSPACE,
    ) -> Answer:
        """(status, headers, body) for a GET of the dataset of the org whose `keyspace` it
        is; raises redis.RedisError when Redis is away. A dataset stored as gzip alone
        (store.keys.GZIP_ONLY) goes to a client that takes no gzip inflated as it is sent."""
        gzip_ok = accepts_gzip(accept_encoding)
        stored_gzip = gzip_ok or dataset in GZIP_ONLY  # the bytes read (and kept) from Redis
        keyspace = keyspace_of(dataset, keyspace)
        etag = reads.read_etag(self.client, dataset, keyspace)
        headers = [("Vary", "Accept-Encoding"), ("Cache-Control", PRIVATE_NO_CACHE)]
        served = None
        if etag is not None:
            variant = variant_etag(etag, gzip_ok)
            if if_none_match and parse_etags(if_none_match).contains(variant):
                return 304, [*headers, ("ETag", f'"{variant}"')], b""
            cached = self._bodies.get((keyspace.prefix, dataset, stored_gzip))
            if cached is not None and cached.etag == etag:
                served = cached
        if served is None:
            served = reads.read_served(self.client, dataset, gzip_ok=stored_gzip, keyspace=keyspace)
            if served is None:
                return error_answer(503, NO_DATA_YET)
            if len(self._bodies) >= MAX_CACHED:  # hundreds of orgs: keep the memory bounded
                self._bodies.clear()
            self._bodies[(keyspace.prefix, dataset, stored_gzip)] = served
        headers = self._headers(dataset, served.etag, served.gzipped and gzip_ok, headers)
        if served.gzipped and not gzip_ok:
            return 200, headers, Inflated(b"", served.body)
        return 200, headers, served.body

    @staticmethod
    def _headers(dataset: Dataset, etag: str, gzipped: bool, base: Headers) -> Headers:
        headers = [*base, ("Content-Type", DATASET_MIMETYPES.get(dataset, JSON_MIMETYPE))]
        headers.append(("ETag", f'"{variant_etag(etag, gzipped)}"'))
        if gzipped:
            headers.append(("Content-Encoding", "gzip"))
        return headers

"""The datasets the worker stored ready to send: one small Redis read (the ETag) per request,
the bytes from this process's memory until the ETag moves (DATA.md §3.6)."""

from __future__ import annotations

import redis
from werkzeug.http import parse_etags

from store import reads
from store.keys import Dataset
from web.answers import (
    CSV_MIMETYPE,
    JSON_MIMETYPE,
    PRIVATE_NO_CACHE,
    Answer,
    Headers,
    accepts_gzip,
    error_answer,
    variant_etag,
)

DATASET_MIMETYPES = {Dataset.EXPORT_CSV: CSV_MIMETYPE}
NO_DATA_YET = "no data yet: the worker has not finished a refresh"


class DatasetServer:
    """The served datasets: the body of each dataset and encoding is kept per process until
    its ETag moves, so a request costs one HGET round trip and no copy of a megabyte."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._bodies: dict[tuple[Dataset, bool], reads.Served] = {}

    def answer(self, dataset: Dataset, accept_encoding: str, if_none_match: str | None) -> Answer:
        """(status, headers, body) for a GET; raises redis.RedisError when Redis is away."""
        gzip_ok = accepts_gzip(accept_encoding)
        etag = reads.read_etag(self.client, dataset)
        headers = [("Vary", "Accept-Encoding"), ("Cache-Control", PRIVATE_NO_CACHE)]
        if etag is not None:
            variant = variant_etag(etag, gzip_ok)
            if if_none_match and parse_etags(if_none_match).contains(variant):
                return 304, [*headers, ("ETag", f'"{variant}"')], b""
            cached = self._bodies.get((dataset, gzip_ok))
            if cached is not None and cached.etag == etag:
                return 200, self._headers(dataset, cached, headers), cached.body
        served = reads.read_served(self.client, dataset, gzip_ok=gzip_ok)
        if served is None:
            return error_answer(503, NO_DATA_YET)
        self._bodies[(dataset, gzip_ok)] = served
        return 200, self._headers(dataset, served, headers), served.body

    @staticmethod
    def _headers(dataset: Dataset, served: reads.Served, base: Headers) -> Headers:
        headers = [*base, ("Content-Type", DATASET_MIMETYPES.get(dataset, JSON_MIMETYPE))]
        headers.append(("ETag", f'"{variant_etag(served.etag, served.gzipped)}"'))
        if served.gzipped:
            headers.append(("Content-Encoding", "gzip"))
        return headers

"""/metrics: the Prometheus exposition the worker stored, with the one per-request family
(`mist_data_age_seconds`) put in front, and the optional bearer token.

The stored body is gzip alone (store.keys.GZIP_ONLY), sent as it is to a scraper that takes
gzip (every Prometheus does), with the age ahead of it as a gzip member of its own, which
every gzip reader takes as part of the same stream; to a client that does not take gzip it
is inflated as it is sent. The scraper's Accept picks the text format 0.0.4 or OpenMetrics;
both were stored at publish.
"""

from __future__ import annotations

import hmac
import time

import redis

from settings import Secret
from store.codec import gzip_bytes
from store.exposition import OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE, data_age_family
from store.keys import Dataset
from store.reads import read_last_update
from web.answers import Answer, Environ, Inflated, accepts_gzip, error_answer, quality
from web.freshness import data_age
from web.scope import OrgScopes, org_argument
from web.served import DatasetServer

OPENMETRICS = "application/openmetrics-text"
TEXT = "text/plain"
UNAUTHORIZED = "/metrics needs the bearer token set in METRICS_BEARER_TOKEN"
_ACCEPT_CACHE_SIZE = 64  # scrapers send one Accept each, again and again


def prefers_openmetrics(accept: str) -> bool:
    """Whether the Accept header rates OpenMetrics above zero and at least as high as the
    text format (Prometheus asks for OpenMetrics first; curl's */* gets text)."""
    best = {OPENMETRICS: 0.0, TEXT: 0.0}
    for entry in accept.split(","):
        media, *params = entry.split(";")
        media = media.strip().lower()
        if media in best:
            best[media] = max(best[media], quality(params))
    return best[OPENMETRICS] > 0 and best[OPENMETRICS] >= best[TEXT]


class MetricsRoute:
    """The /metrics handler of the fast path table."""

    def __init__(
        self,
        client: redis.Redis,
        datasets: DatasetServer,
        bearer: Secret | None,
        scopes: OrgScopes | None = None,
    ) -> None:
        self.client = client
        self.datasets = datasets
        self.scopes = scopes or OrgScopes(client)
        self._bearer = None if bearer is None else bearer.reveal().encode()
        self._formats: dict[str, bool] = {}

    def authorized(self, header: str) -> bool:
        """No token set, or `Authorization: Bearer <token>` matching it in constant time."""
        if self._bearer is None:
            return True
        scheme, _, given = header.strip().partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self._bearer)

    def _openmetrics(self, accept: str) -> bool:
        found = self._formats.get(accept)
        if found is None:
            found = prefers_openmetrics(accept)
            if len(self._formats) < _ACCEPT_CACHE_SIZE:
                self._formats[accept] = found
        return found

    def __call__(self, environ: Environ) -> Answer:
        if not self.authorized(environ.get("HTTP_AUTHORIZATION", "")):
            status, headers, body = error_answer(401, UNAUTHORIZED)
            return status, [*headers, ("WWW-Authenticate", 'Bearer realm="metrics"')], body
        keyspace = self.scopes.choose(org_argument(environ)).keyspace  # one org per scrape
        openmetrics = self._openmetrics(environ.get("HTTP_ACCEPT", ""))
        dataset = Dataset.METRICS_OPENMETRICS if openmetrics else Dataset.METRICS
        # stored as gzip alone (store.keys.GZIP_ONLY): asked for so, whatever the client takes
        status, headers, body = self.datasets.answer(dataset, "gzip", None, keyspace)
        if status != 200 or not isinstance(body, bytes):
            return status, headers, body
        age = data_age_family(data_age(read_last_update(self.client, keyspace), time.time()))
        kept = [
            ("Content-Type", OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE),
            ("Cache-Control", "no-store"),
            ("Vary", "Accept, Accept-Encoding, Authorization"),
        ]
        if ("Content-Encoding", "gzip") not in headers:  # an older worker's plain bytes
            return 200, kept, age + body
        if not accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", "")):
            return 200, kept, Inflated(age, body)
        return 200, [("Content-Encoding", "gzip"), *kept], gzip_bytes(age) + body

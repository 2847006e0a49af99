"""The one routing table of the hot JSON paths, answered in raw WSGI: no Flask request
context, routing or response object. It answers every method of its own paths (GET and HEAD
served, anything else a JSON 405 with Allow); every other path goes to Flask."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis
from werkzeug.http import HTTP_STATUS_CODES

from settings import Secret
from store.codec import encode_json
from store.keys import DEFAULT_KEYSPACE, Dataset
from store.reads import read_health, read_status_published, serving_last_good
from store.status import read_heartbeat
from web import freshness, overview
from web.answers import (
    INTERNAL_ERROR,
    NO_STORE_JSON,
    REDIS_DOWN,
    Answer,
    Environ,
    error_answer,
)
from web.events import EventsRoute
from web.metrics import MetricsRoute
from web.scope import OrgRefused, OrgScopes, org_argument
from web.security import SECURITY_HEADERS
from web.served import DatasetServer

LOG = logging.getLogger("mistcircuitstats.web")
Handler = Callable[[Environ], Answer]
ALLOWED = ("GET", "HEAD")
SERVED_ROUTES = {
    "/api/organization": Dataset.ORG,
    "/api/sites": Dataset.SITES,
    "/api/gateways": Dataset.GATEWAYS,
    "/api/gateways/rows": Dataset.GATEWAY_ROWS,
    "/api/gateways/first": Dataset.GATEWAY_FIRST,  # the rows' first screen, asked first
    "/api/vpn-peers/all": Dataset.VPN_PEERS_ALL,
    "/api/insights/all": Dataset.INSIGHTS_ALL,
    "/api/availability": Dataset.AVAILABILITY,
    "/api/isps": Dataset.ISPS,
    "/api/worst": Dataset.WORST,
}
CSV_ROUTES = {  # served with ETag and gzip like the JSON, downloaded as a named file
    "/api/availability.csv": (Dataset.AVAILABILITY_CSV, "mist-availability"),
    "/api/isps.csv": (Dataset.ISPS_CSV, "mist-isps"),
}


class FastPaths:
    """WSGI middleware in front of Flask: `routes` maps a path to the handler of its GET."""

    def __init__(self, flask_app: Any, routes: Mapping[str, Handler]) -> None:
        self.flask_app = flask_app
        self.routes = routes
        self.security = list(SECURITY_HEADERS.items())

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        handler = self.routes.get(environ.get("PATH_INFO", ""))
        if handler is None:
            return self.flask_app(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        if method in ALLOWED:
            status, headers, body = self._answer(handler, environ)
        else:
            status, headers, body = error_answer(405, "method not allowed")
            headers.append(("Allow", ", ".join(ALLOWED)))
        headers = [*headers, *self.security]
        if isinstance(body, bytes):
            headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, '')}", headers)
        if method == "HEAD":
            return [b""]
        return [body] if isinstance(body, bytes) else body  # Inflated: sent as it is made

    @staticmethod
    def _answer(handler: Handler, environ: Environ) -> Answer:
        """The handler's answer; Redis away is a 503, a bug a 500 (the trace only in the log)."""
        try:
            return handler(environ)
        except OrgRefused as refused:  # no org where several are served, or an unknown one
            return refused.answer()
        except redis.RedisError as error:
            LOG.warning("redis unavailable: %s", type(error).__name__)
            return error_answer(503, REDIS_DOWN)
        except Exception:
            LOG.exception("unexpected error on %s", environ.get("PATH_INFO"))
            return error_answer(500, INTERNAL_ERROR)


def _dataset_handler(datasets: DatasetServer, dataset: Dataset, scopes: OrgScopes) -> Handler:
    def answer(environ: Environ) -> Answer:
        """The dataset of the org `?org=` names (the only org without it)."""
        keyspace = scopes.choose(org_argument(environ)).keyspace
        return datasets.answer(
            dataset,
            environ.get("HTTP_ACCEPT_ENCODING", ""),
            environ.get("HTTP_IF_NONE_MATCH"),
            keyspace,
        )

    return answer


def _export_handler(datasets: DatasetServer, scopes: OrgScopes) -> Handler:
    def answer(environ: Environ) -> Answer:
        """Every circuit as the CSV the worker wrote, downloaded as a dated attachment."""
        keyspace = scopes.choose(org_argument(environ)).keyspace
        status, headers, body = datasets.answer(
            Dataset.EXPORT_CSV, environ.get("HTTP_ACCEPT_ENCODING", ""), None, keyspace
        )
        if status != 200:
            return status, headers, body
        stamp = time.strftime("%Y%m%d-%H%M", time.gmtime())
        headers = [(name, value) for name, value in headers if name != "Cache-Control"]
        headers += [
            ("Cache-Control", "no-store"),
            ("Content-Disposition", f'attachment; filename="mist-circuits-{stamp}.csv"'),
        ]
        return status, headers, body

    return answer


def _csv_handler(
    datasets: DatasetServer, dataset: Dataset, name: str, scopes: OrgScopes
) -> Handler:
    def answer(environ: Environ) -> Answer:
        status, headers, body = _dataset_handler(datasets, dataset, scopes)(environ)
        if status == 200:
            headers = [*headers, ("Content-Disposition", f'attachment; filename="{name}.csv"')]
        return status, headers, body

    return answer


def _health_handler(client: redis.Redis, interval: int) -> Handler:
    def answer(environ: Environ) -> Answer:
        """Liveness without loading the org: Redis reachable, data age, worker status."""
        try:
            state = read_health(client)
        except redis.RedisError:
            return error_answer(503, "redis unreachable")
        document = freshness.health_document(state, interval, time.time())
        return 200, list(NO_STORE_JSON), encode_json(document)

    return answer


def _status_handler(client: redis.Redis, interval: int, scopes: OrgScopes) -> Handler:
    def answer(environ: Environ) -> Answer:
        """The worker's status JSON plus the age of the data and whether it is stale; with
        `?org=` that org's own status (in a multi-org deployment), else the worker's."""
        org = org_argument(environ)
        keyspace = DEFAULT_KEYSPACE if org is None else scopes.choose(org).keyspace
        stored, published, worker_interval = read_status_published(client, keyspace)
        now = time.time()
        age = freshness.data_age(published, now)  # only stale data may be the last-good copy
        last_good = freshness.is_stale(age, worker_interval or interval) and serving_last_good(
            client, keyspace
        )
        body = freshness.status_body(
            stored,
            published,
            worker_interval,
            interval,
            now,
            last_good=last_good,
            heartbeat=read_heartbeat(client),  # expired: the worker is not responding
        )
        return 200, list(NO_STORE_JSON), body

    return answer


def routes(
    client: redis.Redis, interval: int, metrics_bearer: Secret | None = None
) -> dict[str, Handler]:
    """Every fast path and its handler: the served datasets, the CSV, /health, /api/status
    and /metrics (behind `metrics_bearer` when one is set)."""
    datasets = DatasetServer(client)
    scopes = OrgScopes(client)
    table: dict[str, Handler] = {
        "/health": _health_handler(client, interval),
        "/api/status": _status_handler(client, interval, scopes),
        "/api/export.csv": _export_handler(datasets, scopes),
        "/metrics": MetricsRoute(client, datasets, metrics_bearer, scopes),
        "/api/events": EventsRoute(client, scopes),  # its default page prepared (web/events)
    }
    table.update(overview.routes(datasets))  # the MSP overview (every org: not org-scoped)
    for path, dataset in SERVED_ROUTES.items():
        table[path] = _dataset_handler(datasets, dataset, scopes)
    for path, (dataset, name) in CSV_ROUTES.items():
        table[path] = _csv_handler(datasets, dataset, name, scopes)
    return table

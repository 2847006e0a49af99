"""The MSP overview's routes (/api/orgs, /api/orgs.csv, DATA.md §3.13) and how many orgs the
page is rendered for. Neither is org-scoped: they list every org the worker reads. web.fast
adds the routes to its table."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable

import redis

from store import reads
from store.keys import Dataset
from web.answers import CSV_MIMETYPE, Answer, Environ
from web.served import DatasetServer

LOG = logging.getLogger("mistcircuitstats.web")
Handler = Callable[[Environ], Answer]


def _overview_handler(datasets: DatasetServer) -> Handler:
    def answer(environ: Environ) -> Answer:
        """The overview document as the worker stored it: gzip, ETag and 304 as the others."""
        return datasets.answer(
            Dataset.ORGS, environ.get("HTTP_ACCEPT_ENCODING", ""), environ.get("HTTP_IF_NONE_MATCH")
        )

    return answer


def _overview_csv_handler(datasets: DatasetServer) -> Handler:
    def answer(environ: Environ) -> Answer:
        """The overview as the CSV the worker wrote, downloaded as a dated attachment."""
        status, headers, body = datasets.answer(
            Dataset.ORGS_CSV, environ.get("HTTP_ACCEPT_ENCODING", ""), None
        )
        if status != 200:
            return status, headers, body
        stamp = time.strftime("%Y%m%d-%H%M", time.gmtime())
        replaced = ("Cache-Control", "Content-Type")
        headers = [(name, value) for name, value in headers if name not in replaced]
        headers += [
            ("Content-Type", CSV_MIMETYPE),
            ("Cache-Control", "no-store"),
            ("Content-Disposition", f'attachment; filename="mist-orgs-{stamp}.csv"'),
        ]
        return status, headers, body

    return answer


def routes(datasets: DatasetServer) -> dict[str, Handler]:
    """The overview's fast paths (web.fast adds them to its table)."""
    return {
        "/api/orgs": _overview_handler(datasets),
        "/api/orgs.csv": _overview_csv_handler(datasets),
    }


class OrgCount:
    """How many orgs the stored overview lists: the page renders its MSP overview only for
    several (one org, or no overview stored, is today's page exactly). One HGET per page;
    the document is read again only when its ETag moved."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._seen: tuple[str, int] | None = None

    def __call__(self) -> int:
        """0 when no overview is stored (or Redis is away: the page then loads as today)."""
        try:
            etag = reads.read_etag(self.client, Dataset.ORGS)
            with self._lock:
                seen = self._seen
            if etag is None:
                return 0
            if seen is not None and seen[0] == etag:
                return seen[1]
            served = reads.read_served(self.client, Dataset.ORGS, gzip_ok=False)
        except redis.RedisError as error:
            LOG.warning("redis unavailable: %s", type(error).__name__)
            return 0
        count = _count(None if served is None else served.body)
        with self._lock:
            self._seen = (etag, count)
        return count


def _count(body: bytes | None) -> int:
    """The number of rows in a stored overview (0 for none or a body that does not parse)."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        return 0
    orgs = document.get("orgs") if isinstance(document, dict) else None
    return len(orgs) if isinstance(orgs, list) else 0

"""`/api/events` and `/api/events.csv`: an org's events, newest first, filtered and paged.

`/api/events` is a fast path (web/fast.py, raw WSGI). Its default answer (no filter: the
newest page) is built once per write of the worker's (the version token it leaves) and per
process, and served gzip'd with an ETag like the stored datasets; a filtered page is read
from the store (store/events.py: the recent set, then the packed hours). A cursor is where
the last page stopped: the time of its last event and how many events at that time were
read.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs

import redis
from flask import Blueprint, Response, request
from werkzeug.http import parse_etags

from model.events import EVENT_TYPES, SEVERITIES
from store.codec import CsvEncoder, encode_json, excel_safe
from store.events import Filter, StoredEvent, find_page, read_events_org, read_version
from web.answers import (
    CSV_MIMETYPE,
    JSON_MIMETYPE,
    NO_STORE_JSON,
    PRIVATE_NO_CACHE,
    Answer,
    Environ,
    accepts_gzip,
    error_answer,
    variant_etag,
)
from web.errors import json_error
from web.scope import OrgChoice, OrgRefused, OrgScopes, org_argument

ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
CURSOR_RE = re.compile(r"^(\d{1,12}(?:\.\d{1,6})?)_(\d{1,9})$")
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
CSV_DEFAULT_LIMIT, CSV_MAX_LIMIT = 10_000, 10_000
POINTER_SECONDS = 1.0
MAX_SCANNED = 50_000  # events read for one page at most: a rare filter answers in parts
CSV_COLUMNS = (
    "time",
    "id",
    "type",
    "severity",
    "source",
    "site",
    "gateway",
    "port",
    "peer",
    "peer_port",
    "before",
    "after",
)


class BadQuery(ValueError):
    """A filter the answer cannot honour: a 400 that names it."""


@dataclass(frozen=True)
class EventQuery:
    """One request's filters and where its page starts."""

    since: float = 0.0
    until: float = math.inf
    types: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    site: str | None = None
    gateway: str | None = None
    limit: int = DEFAULT_LIMIT
    start: tuple[float, int] | None = None  # (time, events at that time already sent)

    def filter(self) -> Filter:
        return Filter(self.types, self.severities, self.site, self.gateway)


def _time(name: str, raw: str) -> float:
    """Epoch seconds or ISO 8601 (a time without a zone is UTC)."""
    try:
        value = float(raw)
    except ValueError:
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise BadQuery(f"{name} must be epoch seconds or an ISO 8601 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        value = moment.timestamp()
    if not math.isfinite(value) or value < 0:
        raise BadQuery(f"{name} must be epoch seconds or an ISO 8601 time")
    return value


def _choices(name: str, raw: str, allowed: Mapping[str, object] | tuple[str, ...]) -> frozenset:
    chosen = frozenset(part.strip() for part in raw.split(",") if part.strip())
    if not chosen or not chosen <= set(allowed):
        raise BadQuery(f"{name} must be one or more of " + ", ".join(allowed))
    return chosen


def _identifier(name: str, raw: str) -> str:
    if not ID_RE.match(raw):
        raise BadQuery(f"{name} must be a Mist id")
    return raw


def _limit(raw: str, maximum: int) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise BadQuery(f"limit must be a whole number from 1 to {maximum}")
    return int(raw)


def _cursor(raw: str) -> tuple[float, int]:
    found = CURSOR_RE.match(raw)
    if found is None:
        raise BadQuery("cursor must be the `next` of a previous answer")
    return float(found.group(1)), int(found.group(2))


def parse_query(args: Mapping[str, str], *, limit: int, max_limit: int) -> EventQuery:
    """The filters of a request's arguments; BadQuery names the first bad one."""
    get = args.get
    query = EventQuery(
        since=_time("since", get("since", "")) if get("since") else 0.0,
        until=_time("until", get("until", "")) if get("until") else math.inf,
        types=_choices("type", get("type", ""), EVENT_TYPES) if "type" in args else frozenset(),
        severities=(
            _choices("severity", get("severity", ""), SEVERITIES)
            if "severity" in args
            else frozenset()
        ),
        site=_identifier("site", get("site", "")) if "site" in args else None,
        gateway=_identifier("gateway", get("gateway", "")) if "gateway" in args else None,
        limit=_limit(get("limit", ""), max_limit) if "limit" in args else limit,
        start=_cursor(get("cursor", "")) if "cursor" in args else None,
    )
    if query.since > query.until:
        raise BadQuery("since must not be after until")
    return query


def find_events(
    client: redis.Redis, query: EventQuery, org: OrgChoice | None = None
) -> tuple[list[StoredEvent], str | None]:
    """One page of matching events of the org (in a single-org deployment the one whose
    events the worker last wrote), newest first, and the cursor of the next (None: done)."""
    org_id = events_org(client, org)
    if org_id is None:
        return [], None
    found, position = find_page(
        client,
        org_id,
        query.filter(),
        start=query.start or (query.until, 0),
        oldest=query.since,
        limit=query.limit,
        budget=MAX_SCANNED,
    )
    return found, None if position is None else f"{position[0]!r}_{position[1]}"


def events_org(client: redis.Redis, org: OrgChoice | None) -> str | None:
    """The org whose events a request reads: the one it chose in a multi-org deployment,
    else the one whose events the worker last wrote."""
    return org.org_id if org is not None and org.keyspace.org_id else read_events_org(client)


def page_body(found: list[StoredEvent], cursor: str | None) -> bytes:
    """The JSON answer: the events' bytes joined as they are, and the next cursor."""
    body = b'{"events":[' + b",".join(event.body for event in found) + b'],"next":'
    return body + encode_json(cursor) + b"}"


def _bad(handler: Callable[[], Response]) -> Callable[[], Response]:
    def answer() -> Response:
        try:
            return handler()
        except BadQuery as error:
            return json_error(400, str(error))

    answer.__name__ = handler.__name__
    return answer


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return excel_safe(encode_json(value).decode("utf-8"))
    return excel_safe(value)


def csv_body(events: list[StoredEvent]) -> bytes:
    """The events as CSV rows (names rather than ids; Excel-safe cells)."""
    sink = io.BytesIO()
    encoder = CsvEncoder(CSV_COLUMNS, sink)
    for stored in events:
        event = json.loads(stored.body)
        moment = datetime.fromtimestamp(event["time"], UTC).isoformat().replace("+00:00", "Z")
        encoder.add(
            _cell(value)
            for value in (
                moment,
                event["id"],
                event["type"],
                event["severity"],
                event["source"],
                event["site_name"] or event["site_id"],
                event["gateway_name"] or event["gateway_id"],
                event["port_id"],
                event["peer_name"] or event["peer_mac"],
                event["peer_port_id"],
                event["before"],
                event["after"],
            )
        )
    return sink.getvalue()


def blueprint(client: redis.Redis) -> Blueprint:
    """`/api/events.csv`, reading `client` (`/api/events` is EventsRoute, a fast path)."""
    routes = Blueprint("events", __name__)
    scopes = OrgScopes(client)

    @routes.errorhandler(OrgRefused)
    def refused(error: OrgRefused) -> Response:
        """No `?org=` where several orgs are served (400 naming them), or an unknown one."""
        response = Response(error.body, status=error.status, mimetype=JSON_MIMETYPE)
        response.headers["Cache-Control"] = "no-store"
        return response

    @routes.get("/api/events.csv")
    @_bad
    def events_csv() -> Response:
        org = scopes.choose(request.args.get("org"))
        query = parse_query(request.args, limit=CSV_DEFAULT_LIMIT, max_limit=CSV_MAX_LIMIT)
        found, cursor = find_events(client, query, org)
        response = Response(csv_body(found), mimetype=CSV_MIMETYPE)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Disposition"] = 'attachment; filename="events.csv"'
        if cursor is not None:
            response.headers["X-Next-Cursor"] = cursor
        return response

    return routes


@dataclass(frozen=True)
class Prepared:
    """The default page of one org at one version of its events, in both encodings."""

    version: str
    etag: str
    body: bytes
    gzipped: bytes


class EventsRoute:
    """`GET /api/events` as a fast path: the default page from this process's prepared
    bytes while the worker's version token stands, any other from the store."""

    def __init__(self, client: redis.Redis, scopes: OrgScopes) -> None:
        self.client = client
        self.scopes = scopes
        self._pages: dict[str, Prepared] = {}
        self._lock = threading.Lock()
        self._pointer: tuple[float, str | None] = (-1e18, None)  # (read at, org id)

    def __call__(self, environ: Environ) -> Answer:
        raw = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        args = {name: values[0] for name, values in raw.items()}
        org = self.scopes.choose(org_argument(environ))
        try:
            query = parse_query(args, limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT)
        except BadQuery as error:
            return error_answer(400, str(error))
        if set(args) <= {"org"}:
            return self._default(environ, org)
        found, cursor = find_events(self.client, query, org)
        return 200, list(NO_STORE_JSON), page_body(found, cursor)

    def _org(self, org: OrgChoice) -> str | None:
        """The org of the default page; the worker's pointer is read at most once a second
        (it moves only when the deployment's org changes)."""
        if org.keyspace.org_id:
            return org.org_id
        read_at, org_id = self._pointer
        now = time.monotonic()
        if org_id is None or now - read_at > POINTER_SECONDS:
            org_id = read_events_org(self.client)
            self._pointer = (now, org_id)
        return org_id

    def _default(self, environ: Environ, org: OrgChoice) -> Answer:
        org_id = self._org(org)
        version = read_version(self.client, org_id) if org_id is not None else None
        if org_id is None or version is None:
            return 200, list(NO_STORE_JSON), page_body([], None)
        page = self._pages.get(org_id)
        if page is None or page.version != version:
            page = self._prepare(org_id, version)
        gzip_ok = accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        variant = variant_etag(page.etag, gzip_ok)
        headers = [
            ("Content-Type", JSON_MIMETYPE),
            ("Vary", "Accept-Encoding"),
            ("Cache-Control", PRIVATE_NO_CACHE),
            ("ETag", f'"{variant}"'),
        ]
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and parse_etags(if_none_match).contains(variant):
            return 304, headers, b""
        if gzip_ok:
            return 200, [*headers, ("Content-Encoding", "gzip")], page.gzipped
        return 200, headers, page.body

    def _prepare(self, org_id: str, version: str) -> Prepared:
        """The newest page read once for this version (read after the version: never older)."""
        found, position = find_page(
            self.client,
            org_id,
            Filter(),
            start=(math.inf, 0),
            oldest=0.0,
            limit=DEFAULT_LIMIT,
            budget=MAX_SCANNED,
        )
        cursor = None if position is None else f"{position[0]!r}_{position[1]}"
        body = page_body(found, cursor)
        page = Prepared(version, f"ev-{version}", body, gzip.compress(body, 6, mtime=0))
        with self._lock:
            if len(self._pages) > 256:  # hundreds of orgs: keep the memory bounded
                self._pages.clear()
            self._pages[org_id] = page
        return page

"""`/api/events` and `/api/events.csv`: an org's events, newest first, filtered and paged.

The JSON answer is the stored events' bytes joined as they are: the filters read only the
short head each member carries (store/events.py), never its JSON. A cursor is where the
last page stopped: the time of its last event and how many events at that time were read.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import redis
from flask import Blueprint, Response, request

from model.events import EVENT_TYPES, SEVERITIES
from store.codec import CsvEncoder, encode_json, excel_safe
from store.events import StoredEvent, read_event_page, read_events_org
from web.answers import CSV_MIMETYPE, JSON_MIMETYPE
from web.errors import json_error
from web.scope import OrgChoice, OrgRefused, OrgScopes

ID_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")
CURSOR_RE = re.compile(r"^(\d{1,12}(?:\.\d{1,6})?)_(\d{1,9})$")
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
CSV_DEFAULT_LIMIT, CSV_MAX_LIMIT = 10_000, 10_000
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

    def matches(self, event: StoredEvent) -> bool:
        return (
            (not self.types or event.type in self.types)
            and (not self.severities or event.severity in self.severities)
            and (self.site is None or event.site_id == self.site)
            and (self.gateway is None or event.gateway_id == self.gateway)
        )


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
    org_id = org.org_id if org is not None and org.keyspace.org_id else read_events_org(client)
    if org_id is None:
        return [], None
    newest, skip = query.start or (query.until, 0)
    found: list[StoredEvent] = []
    scanned, batch = 0, min(max(query.limit * 2, 200), 5000)
    while len(found) < query.limit and scanned < MAX_SCANNED:
        page = read_event_page(
            client, org_id, newest=newest, oldest=query.since, skip=skip, count=batch
        )
        read = 0
        for event in page:
            read += 1
            newest, skip = (event.time, skip + 1) if event.time == newest else (event.time, 1)
            if query.matches(event):
                found.append(event)
                if len(found) == query.limit:
                    break
        scanned += read
        if len(page) < batch and read == len(page):  # nothing older is left in range
            return found, None
    return found, f"{newest!r}_{skip}"


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
    """The two routes, reading `client`."""
    routes = Blueprint("events", __name__)
    scopes = OrgScopes(client)

    @routes.errorhandler(OrgRefused)
    def refused(error: OrgRefused) -> Response:
        """No `?org=` where several orgs are served (400 naming them), or an unknown one."""
        response = Response(error.body, status=error.status, mimetype=JSON_MIMETYPE)
        response.headers["Cache-Control"] = "no-store"
        return response

    @routes.get("/api/events")
    @_bad
    def events() -> Response:
        org = scopes.choose(request.args.get("org"))
        query = parse_query(request.args, limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT)
        found, cursor = find_events(client, query, org)
        body = b'{"events":[' + b",".join(event.body for event in found) + b'],"next":'
        response = Response(body + encode_json(cursor) + b"}", mimetype=JSON_MIMETYPE)
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

"""`/api/events` and `/api/events.csv` (web/events.py) over a real redis-server: the default
page prepared (gzip, ETag, 304), filtered pages across the packed hours, the 400s."""

from __future__ import annotations

import csv
import gzip
import io
from typing import Any

import pytest

from store.event_pack import GRACE, HOUR, read_meta
from store.events import Retention, write_events
from tests.test_events import app_client, every_page
from tests.test_store_events import FOREVER, ORG, START, newest_first, stream


@pytest.fixture
def stored(redis_server) -> list[dict[str, Any]]:
    """250 events over 4 hours, the first three packed."""
    events = stream(250, 4)
    write_events(redis_server.client(), ORG, events, {}, START + 3 * HOUR + GRACE + 1, FOREVER)
    assert len(read_meta(redis_server.client(), ORG).counts) == 3
    return newest_first(events)


def test_the_default_page_is_prepared_gzipped_with_an_etag(redis_server, stored):
    web = app_client(redis_server)
    answer = web.get("/api/events", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "gzip"
    assert answer.headers["Cache-Control"] == "private, no-cache"
    etag = answer.headers["ETag"]
    body = gzip.decompress(answer.data)
    plain = web.get("/api/events")
    assert "Content-Encoding" not in plain.headers and plain.data == body
    assert plain.headers["ETag"] != etag  # each encoding its own
    page = plain.get_json()
    assert page["events"] == stored[:100]
    filtered = web.get("/api/events", query_string={"limit": 100}).get_json()
    assert filtered == page  # the same answer as the same page asked with arguments
    again = web.get("/api/events", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""

    later = stream(3, 0.01, start=START + 4 * HOUR)
    write_events(redis_server.client(), ORG, later, {}, START + 4 * HOUR + 60, FOREVER)
    moved = web.get("/api/events", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert moved.status_code == 200 and moved.headers["ETag"] != etag
    assert gzip.decompress(moved.data).startswith(b'{"events":[{"id":"' + later[-1]["id"].encode())


def test_filtered_pages_join_up_across_the_packed_hours(redis_server, stored):
    web = app_client(redis_server)
    seen = every_page(web, limit=13, severity="warning,critical")
    assert seen == [e for e in stored if e["severity"] != "info"]
    old = web.get("/api/events", query_string={"until": START + 1800, "gateway": "gw-2"})
    assert old.get_json()["events"] == [
        e for e in stored if e["time"] <= START + 1800 and e["gateway_id"] == "gw-2"
    ]


def test_the_csv_reads_the_blocks_too(redis_server, stored):
    web = app_client(redis_server)
    answer = web.get("/api/events.csv", query_string={"type": "circuit_degraded"})
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.data.decode("utf-8-sig"))))
    wanted = [e for e in stored if e["type"] == "circuit_degraded"]
    assert [row["id"] for row in rows] == [e["id"] for e in wanted]
    assert rows[-1]["site"] == wanted[-1]["site_name"] and '"latency"' in rows[-1]["after"]


@pytest.mark.parametrize(
    "args",
    [
        {"since": "yesterday"},
        {"until": "-5"},
        {"since": "200", "until": "100"},
        {"type": "port_down,nope"},
        {"severity": ""},
        {"site": "not an id!"},
        {"gateway": "x" * 65},
        {"limit": "0"},
        {"limit": "1001"},
        {"cursor": "abc"},
    ],
)
def test_bad_filters_are_a_400_that_names_them(redis_server, stored, args):
    web = app_client(redis_server)
    answer = web.get("/api/events", query_string=args)
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["status"] == 400 and next(iter(args)) in body["error"]
    assert "nope" not in body["error"] and "not an id" not in body["error"]


def test_no_events_yet_is_an_empty_page(redis_server):
    web = app_client(redis_server)
    assert web.get("/api/events").get_json() == {"events": [], "next": None}


def test_a_trimmed_store_serves_what_is_left(redis_server, stored):
    now = START + 3 * HOUR + GRACE + 1
    write_events(redis_server.client(), ORG, [], {}, now, Retention(10**9, max_events=40))
    page = app_client(redis_server).get("/api/events", query_string={"limit": 1000}).get_json()
    assert page == {"events": stored[:40], "next": None}

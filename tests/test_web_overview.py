"""/api/orgs and /api/orgs.csv (web/overview.py) on a real redis-server, and the page the server
renders for several orgs: stored bytes with gzip, ETag and 304; a 503 before the worker
published the overview; today's page exactly with one org or none."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator

import pytest
import redis
from flask.testing import FlaskClient

import app as web
from store.keys import DATASET_KEYS, GZ_SUFFIX, Dataset
from tests.fixtures.orgs_data import publish_overview, sample_orgs

GZIP = {"Accept-Encoding": "gzip"}
PLAIN = {"Accept-Encoding": "identity"}


@pytest.fixture
def store(redis_server) -> redis.Redis:
    return redis_server.client()


@pytest.fixture
def client(redis_server) -> Iterator[FlaskClient]:
    yield web.create_app({"REDIS_URL": redis_server.url}).test_client()


@pytest.mark.parametrize("path", ["/api/orgs", "/api/orgs.csv"])
def test_503_with_a_reason_before_the_worker_published_the_overview(client, path):
    response = client.get(path)
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert "no data yet" in response.get_json()["error"]


def test_the_overview_is_the_stored_bytes_gzipped_with_etag_and_304(client, store):
    document = publish_overview(store, sample_orgs(time.time()))
    key = DATASET_KEYS[Dataset.ORGS]
    plain = client.get("/api/orgs", headers=PLAIN)
    assert plain.status_code == 200
    assert plain.headers["Content-Type"] == "application/json"
    assert plain.headers["Cache-Control"] == "private, no-cache"
    assert "Content-Encoding" not in plain.headers
    assert plain.data == store.get(key)
    assert json.loads(plain.data) == document
    zipped = client.get("/api/orgs", headers=GZIP)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert zipped.data == store.get(key + GZ_SUFFIX)
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    for headers, etag in ((GZIP, zipped.headers["ETag"]), (PLAIN, plain.headers["ETag"])):
        again = client.get("/api/orgs", headers={**headers, "If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
    assert client.head("/api/orgs").status_code == 200
    assert client.post("/api/orgs").status_code == 405
    # A new publish moves the ETag: the old one no longer answers 304.
    publish_overview(store, sample_orgs(time.time())[:2])
    moved = client.get("/api/orgs", headers={**PLAIN, "If-None-Match": plain.headers["ETag"]})
    assert moved.status_code == 200 and len(moved.get_json()["orgs"]) == 2


def test_the_overview_csv_is_an_attachment_of_the_stored_bytes(client, store):
    publish_overview(store, sample_orgs(time.time()))
    key = DATASET_KEYS[Dataset.ORGS_CSV]
    response = client.get("/api/orgs.csv", headers=PLAIN)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="mist-orgs-') and disposition.endswith(
        '.csv"'
    )
    assert response.data == store.get(key)
    zipped = client.get("/api/orgs.csv", headers=GZIP)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == response.data


def test_the_overview_is_no_org_scoped_route(client, store):
    """Every org is listed whatever `org` the request names."""
    publish_overview(store, sample_orgs(time.time()))
    every = client.get("/api/orgs").data
    assert client.get("/api/orgs?org=00000001-0000-4000-8000-000000000001").data == every


def test_the_page_is_todays_with_one_org_or_none(client, store):
    none = client.get("/").get_data(as_text=True)
    publish_overview(store, sample_orgs(time.time())[:1])
    one = client.get("/").get_data(as_text=True)
    assert one == none
    for page in (none, one):
        assert "data-orgs" not in page and "overview" not in page and "org-select" not in page


def test_several_orgs_render_the_overview_or_the_chosen_org(client, store):
    publish_overview(store, sample_orgs(time.time()))
    landing = client.get("/").get_data(as_text=True)
    assert 'data-orgs="several" data-view="overview"' in landing
    assert "/static/js/overview.js?v=" in landing and "/static/css/overview.css?v=" in landing
    assert 'id="org-select"' in landing and 'href="/api/orgs.csv"' in landing
    chosen = client.get("/?org=00000001-0000-4000-8000-000000000001").get_data(as_text=True)
    assert 'data-orgs="several" data-view="org"' in chosen
    assert "<script>" not in landing  # the CSP allows no inline script


def test_the_page_loads_as_today_while_redis_is_away(redis_server):
    """Counting orgs never fails the page: with Redis gone it is the single-org page."""
    app = web.create_app({"REDIS_URL": redis_server.url})
    redis_server.stop()
    response = app.test_client().get("/")
    assert response.status_code == 200
    assert "data-orgs" not in response.get_data(as_text=True)

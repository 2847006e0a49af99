"""Mist's WAN SLEs end to end: real mistapi SDK → mistsim over HTTPS → real redis-server →
the web app. The values Mist gave reach /api/sites, the page's rows, the CSV and /metrics
unchanged; they are read at most once an hour; a failed read never fails the refresh.
The worst circuits document is served from the same refresh, gzipped with an ETag."""

from __future__ import annotations

import csv
import gzip
import io
import json
import time

import app as web
from tests.fixtures.mistsim_server import json_of
from tests.test_worker import calls_by_kind, make_worker, stored_status
from views.export import CSV_COLUMNS
from views.rows import compact_sle
from views.worst import COLUMNS as WORST_COLUMNS

NAMES = {"gateway-health": "gateway-health", "wan-link-health": "wan-link-health",
         "application-health": "application_health"}  # ours -> Mist's  # fmt: skip


def mist_says(sim, start: float, end: float) -> dict[str, dict]:
    """What Mist answers for the window the worker read, by site."""
    body = json_of(
        sim.get(
            f"/api/v1/orgs/{sim.org_id}/insights/sites-sle",
            sle="wan",
            start=int(start),
            end=int(end),
            limit=1000,
        )
    )
    return {result["site_id"]: result for result in body["results"]}


def test_sle_values_reach_sites_rows_csv_and_metrics_unchanged_hourly(mistsim, redis_server):
    offset = [0.0]
    instance = make_worker(mistsim, redis_server, interval=60)
    instance.clock = lambda: time.time() + offset[0]
    assert instance.refresh()
    assert calls_by_kind(mistsim)["sle"] == 1  # ⌈sites/1000⌉
    assert stored_status(redis_server.client())["datasets"]["sle"]["calls"] == 1
    web_client = web.create_app({"REDIS_URL": redis_server.url}).test_client()

    sites = web_client.get("/api/sites").get_json()
    with_sle = [site for site in sites if site["sle"] is not None]
    assert with_sle and all(site["gateway_count"] for site in with_sle)
    first = with_sle[0]["sle"]
    mist = mist_says(mistsim, first["start"], first["end"])
    assert {site["id"] for site in with_sle} == set(mist)
    for site in with_sle:
        for ours, theirs in NAMES.items():
            assert site["sle"][ours] == mist[site["id"]].get(theirs), (site["id"], ours)
        assert site["sle"]["grade"] in ("good", "fair", "poor")

    rows = web_client.get("/api/gateways/rows").get_json()
    by_id = {site["id"]: site["sle"] for site in sites}
    assert all(entry[2] == compact_sle(by_id[entry[0]]) for entry in rows["sites"])

    body = web_client.get("/api/export.csv").data.decode("utf-8-sig")
    table = list(csv.DictReader(io.StringIO(body)))
    assert list(table[0]) == list(CSV_COLUMNS)
    names = {site["name"]: site["sle"] for site in sites}
    checked = 0
    for row in table:
        sle = names[row["site"]]
        if sle is None:
            continue
        checked += 1
        expected = sle["wan-link-health"]
        assert row["site_wan_link_health"] == ("" if expected is None else str(expected))
        assert row["site_gateway_health"] == str(sle["gateway-health"])
    assert checked

    metrics = web_client.get("/metrics").data.decode()
    assert "mist_site_sle_ratio{" in metrics and 'sle="wan-link-health"' in metrics

    # the next refreshes of the hour show the kept values without asking Mist again
    mistsim.reset()  # forget this test's own look at Mist
    assert instance.refresh()
    assert instance.refresh()
    assert calls_by_kind(mistsim)["sle"] == 0
    assert "sle" not in stored_status(redis_server.client())["datasets"]
    again = {site["id"]: site["sle"] for site in web_client.get("/api/sites").get_json()}
    assert again == by_id

    # a failed read an hour later leaves the last values and the refresh publishes
    offset[0] = 3601.0
    mistsim.set_faults(error_rate=1.0, paths="/insights/sites-sle")
    assert instance.refresh()
    status = stored_status(redis_server.client())
    assert status["status"] == "idle" and status["datasets"]["sle"]["error"]
    kept = {site["id"]: site["sle"] for site in web_client.get("/api/sites").get_json()}
    assert kept == by_id
    mistsim.clear_faults()

    # ten minutes on, it is read again, once
    before = calls_by_kind(mistsim)["sle"]
    offset[0] = 3601.0 + 601
    assert instance.refresh()
    assert calls_by_kind(mistsim)["sle"] == before + 1
    assert stored_status(redis_server.client())["datasets"]["sle"]["error"] is None


def test_worst_circuits_are_served_gzipped_with_an_etag(mistsim, redis_server):
    instance = make_worker(mistsim, redis_server, interval=60)
    assert instance.refresh()
    client = web.create_app({"REDIS_URL": redis_server.url}).test_client()
    answer = client.get("/api/worst", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["Content-Encoding"] == "gzip"
    etag = answer.headers["ETag"]
    document = json.loads(gzip.decompress(answer.data))
    assert document["columns"] == list(WORST_COLUMNS) and document["limit"] == 50
    assert document["rankings"]["score"] and document["rows"]
    gateways = {g["id"] for g in client.get("/api/gateways").get_json()["gateways"]}
    assert {row[0] for row in document["rows"]} <= gateways
    again = client.get("/api/worst", headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})
    assert again.status_code == 304 and again.data == b""
    plain = client.get("/api/worst")
    assert "Content-Encoding" not in plain.headers and json.loads(plain.data) == document

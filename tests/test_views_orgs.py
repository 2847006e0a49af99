"""The MSP overview document and CSV (views/orgs.py): worst first, stale by the one rule,
Mist's names kept as data and made Excel-safe."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

from model.freshness import STALE_AFTER_INTERVALS
from store.codec import encode_json
from views.orgs import CSV_COLUMNS, ROW_FIELDS, OrgSummary, overview_csv, overview_document

NOW = 1_800_000_000.0
INTERVAL = 60


def org(name: str, **counts: object) -> OrgSummary:
    """A healthy org published just now, with `counts` changed."""
    base = OrgSummary(
        org_id=f"id-{name}",
        name=name,
        gateways_online=10,
        gateways_offline=0,
        circuits_up=20,
        circuits_down=0,
        paths_up=40,
        paths_down=0,
        circuits_degraded=0,
        last_update=NOW - 5,
        error=None,
    )
    return replace(base, **counts)  # type: ignore[arg-type]


def names(document: dict) -> list[str]:
    return [row["name"] for row in document["orgs"]]


def test_worst_first_offline_then_down_then_degraded_then_stale_then_name():
    orgs = [
        org("zeta healthy"),
        org("alpha healthy"),
        org("stale", last_update=NOW - 3 * INTERVAL),
        org("degraded", circuits_degraded=5),
        org("down", circuits_down=1),
        org("offline one", gateways_offline=1),
        org("offline many", gateways_offline=7, circuits_down=0),
        org("Beta healthy"),
    ]
    document = overview_document(orgs, now=NOW, interval=INTERVAL)
    assert names(document) == [
        "offline many",
        "offline one",
        "down",
        "degraded",
        "stale",
        "alpha healthy",
        "Beta healthy",  # names compare without case
        "zeta healthy",
    ]
    rows = document["orgs"]
    severities = [row["severity"] for row in rows]
    assert severities == sorted(severities, reverse=True)
    assert [row["level"] for row in rows] == [
        "critical",
        "critical",
        "critical",
        "warning",
        "stale",
        "ok",
        "ok",
        "ok",
    ]
    assert rows[0]["problem_text"] == "7 gateways offline"
    assert rows[2]["problem_text"] == "1 WAN circuit down"
    assert rows[-1]["problem_text"] == ""
    assert all(list(row) == list(ROW_FIELDS) for row in rows)


def test_stale_is_the_one_rule_of_model_freshness():
    limit = STALE_AFTER_INTERVALS * INTERVAL
    orgs = [
        org("just fresh", last_update=NOW - limit),
        org("just stale", last_update=NOW - limit - 1),
        org("never", last_update=None),
    ]
    rows = {row["name"]: row for row in overview_document(orgs, now=NOW, interval=INTERVAL)["orgs"]}
    assert rows["just fresh"]["stale"] is False and rows["just fresh"]["age"] == limit
    assert rows["just stale"]["stale"] is True and rows["just stale"]["level"] == "stale"
    assert rows["just stale"]["problem_text"] == "data 2 min old"
    assert rows["never"]["age"] is None and rows["never"]["stale"] is False
    assert rows["never"]["problem_text"] == "no data yet" and rows["never"]["level"] == "stale"


def test_a_failing_org_keeps_its_counts_and_says_its_error():
    orgs = [org("fine"), org("failing", error="HTTP 403 from Mist", last_update=NOW - 30)]
    document = overview_document(orgs, now=NOW, interval=INTERVAL)
    failing = document["orgs"][0]
    assert failing["name"] == "failing" and failing["error"] == "HTTP 403 from Mist"
    assert failing["gateways_online"] == 10 and failing["level"] == "stale"
    assert failing["problem_text"] == "last refresh failed"
    assert document["totals"]["orgs_failing"] == 1


def test_totals_sum_every_org():
    orgs = [org("a", gateways_offline=2, paths_down=3), org("b", circuits_degraded=1), org("c")]
    totals = overview_document(orgs, now=NOW, interval=INTERVAL)["totals"]
    assert totals["orgs"] == 3
    assert totals["gateways_online"] == 30 and totals["gateways_offline"] == 2
    assert totals["paths_down"] == 3 and totals["circuits_degraded"] == 1
    assert totals["orgs_critical"] == 1 and totals["orgs_warning"] == 1
    assert totals["orgs_stale"] == 0


def test_names_from_mist_are_data_in_json():
    hostile = '<img src=x onerror="window.__pwned=1">&amp; "Ünïcode" \u2028'
    document = overview_document([org(hostile)], now=NOW, interval=INTERVAL)
    body = encode_json(document)
    assert json.loads(body)["orgs"][0]["name"] == hostile  # verbatim: escaping is the page's
    assert overview_document([], now=NOW, interval=INTERVAL)["orgs"] == []


def read_csv(body: bytes) -> list[list[str]]:
    assert body.startswith("\ufeff".encode())
    assert b"\r\n" in body
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_csv_is_the_overview_in_order_and_excel_safe():
    orgs = [
        org('=HYPERLINK("http://evil","x")'),
        org("+1 down", circuits_down=2),
        org("a;@SUM(1)", error="-bad =thing", last_update=NOW - 4 * INTERVAL),
        org("plain"),
    ]
    rows = read_csv(overview_csv(orgs, now=NOW, interval=INTERVAL))
    assert rows[0] == list(CSV_COLUMNS)
    by_name = {row[0]: dict(zip(CSV_COLUMNS, row, strict=True)) for row in rows[1:]}
    assert [row[0] for row in rows[1:]] == [
        "'+1 down",
        "a;'@SUM(1)",
        '\'=HYPERLINK("http://evil","x")',
        "plain",
    ]
    down = by_name["'+1 down"]
    assert down["wan_circuits_down"] == "2" and down["problem"] == "2 WAN circuits down"
    failing = by_name["a;'@SUM(1)"]
    assert failing["stale"] == "yes" and failing["last_error"] == "'-bad =thing"
    assert failing["data_age_s"] == str(4 * INTERVAL)
    assert by_name["plain"]["last_update"] == "2027-01-15T07:59:55Z"
    assert by_name["plain"]["stale"] == "no"

"""views/rows.py: the page's table rows (DATA.md §3.6) and the "problems only" rule."""

from __future__ import annotations

import json
import math

import pytest

from views.rows import GatewayRows, compact_sle, has_problem


def test_gateway_rows_index_sites_and_flag_problems_for_the_table() -> None:
    """The page's table rows: one site list shared by index, and the "problems only" flag."""
    sites = [{"id": "s1", "name": "<b>Denver</b>"}, {"id": "s2", "name": "Oslo"}]
    healthy = {
        "id": "g1", "mac": "m1", "name": "gw-1", "site_id": "s1", "model": "SRX320",
        "status": "connected", "uptime": 10, "ip": "10.0.0.1", "ext_ip": "198.51.100.1",
        "ports_up": 1, "ports_total": 1, "peers_up": 2, "peers_total": 2,
        "degraded": False, "ha": False, "ports": [{"enabled": True, "up": True}],
    }  # fmt: skip
    port_down = {
        **healthy, "id": "g2", "name": "gw-2",
        "ports": [{"enabled": True, "up": False}, {"enabled": False, "up": False}],
    }  # fmt: skip
    disabled_only = {
        **healthy,
        "id": "g3",
        "site_id": "s2",
        "ports": [{"enabled": False, "up": False}],
    }
    table = GatewayRows(sites)
    for gateway in (healthy, port_down, disabled_only):
        table.add(gateway)
    document = table.document({"generated_at": 1.0, "summary": {"gateways": 3}, "thresholds": {}})
    columns = document["columns"]
    rows = [dict(zip(columns, row, strict=True)) for row in document["rows"]]
    # no SLE yet, no time zone
    assert document["sites"] == [["s1", "<b>Denver</b>", None, None], ["s2", "Oslo", None, None]]
    assert [row["id"] for row in rows] == ["g2", "g1", "g3"]  # worst first, ties as they came
    assert [row["site"] for row in rows] == [0, 0, 1]
    assert rows[0]["ip"] == "198.51.100.1"
    assert [row["problem"] for row in rows] == [True, False, False]
    assert [row["ports_down"] for row in rows] == [1, 0, 0]
    assert document["summary"] == {"gateways": 3}


def test_has_problem_rule() -> None:
    healthy = {"status": "connected", "degraded": False, "peers_up": 2, "peers_total": 2}
    port_up = {"enabled": True, "up": True}
    assert not has_problem({**healthy, "ports": [port_up]})
    assert has_problem({**healthy, "status": "disconnected", "ports": []})
    assert has_problem({**healthy, "degraded": True, "ports": []})
    assert has_problem({**healthy, "peers_up": 1, "ports": []})
    assert has_problem({**healthy, "ports": [port_up, {"enabled": True, "up": False}]})
    assert not has_problem({**healthy, "ports": [{"enabled": False, "up": False}]})


def test_the_rows_carry_the_time_zone_mist_gives_each_listed_site() -> None:
    """The page's "site time": each site's zone as Mist has it, for the sites listed only."""
    sites: list[dict] = [
        {"id": "s1", "name": "Denver", "timezone": "America/Denver"},
        {"id": "s2", "name": "Oslo", "timezone": None},
        {"id": "s3", "name": "No gateways", "timezone": "Europe/Oslo"},
        {"id": "s4", "name": "Boulder", "timezone": "America/Denver"},
    ]
    table = GatewayRows(sites)
    for n, site in enumerate(("s1", "s2", "s4")):
        table.add({"id": f"g{n}", "site_id": site, "status": "connected", "ports": []})
    document = table.document({})
    assert document["zones"] == ["America/Denver"]  # each zone listed once
    assert [site[3] for site in document["sites"]] == [0, None, 0]


def test_a_sites_sle_travels_flat_with_the_servers_grades() -> None:
    """§3.2's object as [3 values, 3 grades, the site's grade]; start/end stay in /api/sites."""
    sle = {
        "gateway-health": 1, "wan-link-health": 0.9988, "application-health": None,
        "grades": {"gateway-health": "good", "wan-link-health": "good", "application-health": None},
        "grade": "good", "start": 1.0, "end": 2.0,
    }  # fmt: skip
    assert compact_sle(sle) == [1, 0.9988, None, "good", "good", None, "good"]
    assert compact_sle(None) is None
    table = GatewayRows([{"id": "s1", "name": "Denver", "sle": sle}])
    table.add({"id": "g1", "site_id": "s1", "status": "connected", "ports": []})
    assert table.document({})["sites"][0][2] == compact_sle(sle)


def test_encoded_rows_are_ascii_json_of_the_document() -> None:
    """What the web sends: ASCII only (a `·` escaped, names in any script too), decoding to
    the very document; NaN is refused as by store.codec.encode_json."""
    sites = [{"id": "s1", "name": "Zürich · 東京"}]
    table = GatewayRows(sites)
    table.add({"id": "g1", "name": "gw·1", "site_id": "s1", "status": "connected"})
    head = {"generated_at": 1.0, "summary": {}, "thresholds": {}}
    body = table.encoded(head)
    assert body.isascii()
    assert b"\\u00b7" in body and b"\\u6771" in body
    assert json.loads(body) == table.document(head)
    bad = GatewayRows(sites)
    bad.add({"id": "g2", "site_id": "s1", "uptime": math.nan})
    with pytest.raises(ValueError):
        bad.encoded(head)


def test_the_first_screen_is_the_first_rows_with_only_their_sites_and_zones() -> None:
    """/api/gateways/first: the rows document's head and first rows (worst first), the sites
    and zones those name renumbered, the totals of all rows; ASCII as the rows."""
    sites: list[dict] = [
        {"id": "s1", "name": "Denver", "timezone": "America/Denver"},
        {"id": "s2", "name": "Oslo · Norway", "timezone": "Europe/Oslo"},
        {"id": "s3", "name": "Tokyo", "timezone": "Asia/Tokyo"},
        {"id": "s4", "name": "No zone", "timezone": None},
    ]
    table = GatewayRows(sites)
    for n, (site, status) in enumerate(
        [("s1", "connected"), ("s2", "connected"), ("s3", "disconnected"), ("s4", "disconnected")]
    ):
        table.add({"id": f"g{n}", "site_id": site, "status": status, "ports_total": n, "ports": []})
    head = {"generated_at": 1.0, "summary": {"gateways": 4}, "thresholds": {"x": 1}}
    whole = table.document(head)
    first = table.first_document(head, count=2)
    assert [row[0] for row in first["rows"]] == ["g2", "g3"]  # the offline ones: worst first
    assert [row[0] for row in whole["rows"][:2]] == ["g2", "g3"]
    assert first["sites"] == [["s3", "Tokyo", None, 0], ["s4", "No zone", None, None]]
    assert first["zones"] == ["Asia/Tokyo"]
    assert [row[3] for row in first["rows"]] == [0, 1]
    assert (first["rows_total"], first["ports_total"]) == (4, 0 + 1 + 2 + 3)
    for field in ("generated_at", "thresholds", "summary", "columns", "csv"):
        assert first[field] == whole[field]
    every = table.first_document(head)  # fewer rows than FIRST_ROWS: all of them
    assert [row[0] for row in every["rows"]] == [row[0] for row in whole["rows"]]
    assert [every["sites"][row[3]][0] for row in every["rows"]] == ["s3", "s4", "s1", "s2"]
    body = table.encoded_first(head)
    assert body.isascii() and json.loads(body) == table.first_document(head)

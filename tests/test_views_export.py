"""views/export.py: the CSV export's rows, one per WAN port, Excel-safe."""

from __future__ import annotations

import pytest

from views.export import CSV_COLUMNS, CircuitRows, excel_safe


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30", "'+49 30"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        (None, ""),
        (True, "yes"),
        (False, "no"),
        (12.5, "12.5"),
        # `;` is Excel's list separator in many locales, tab separates pasted cells
        ("x;=1+1", "x;'=1+1"),
        ("a;+1;-2;@3", "a;'+1;'-2;'@3"),
        ("a\t=b", "a\t'=b"),
        ("\t\t=", "'\t'\t'="),
        ("a;\rb", "a;'\rb"),
        ("x;;=1", "x;;'=1"),
        ("a;b=c", "a;b=c"),
        ("a=b;c", "a=b;c"),
        ("line\r\n=1", "line\r\n'=1"),  # a row may end there when quotes go unseen
        ("\r=", "'\r'="),
    ],
)
def test_excel_safe_cells(value: object, cell: str) -> None:
    assert excel_safe(value) == cell


def test_csv_rows_one_per_wan_port_excel_safe_with_the_site_name() -> None:
    sites = [{"id": "s1", "name": '=HYPERLINK("http://evil")'}]
    gateway = {
        "id": "g1", "name": "gw-1", "site_id": "s1", "model": "SRX320", "status": "connected",
        "ports": [
            {"port_id": "ge-0/0/0", "up": True, "enabled": True, "speed": 1000, "loss": 0.0,
             "description": "-cmd|' /C calc'!A0", "override": False},
            {"port_id": "ge-0/0/1", "up": False, "enabled": True, "latency": None},
        ],
    }  # fmt: skip
    rows = CircuitRows(sites).of(gateway)
    assert len(rows) == 2 and all(len(row) == len(CSV_COLUMNS) for row in rows)
    first = dict(zip(CSV_COLUMNS, rows[0], strict=True))
    assert first["site"] == '\'=HYPERLINK("http://evil")'
    assert first["description"] == "'-cmd|' /C calc'!A0"
    assert (first["port"], first["link"], first["enabled"], first["override"]) == (
        "ge-0/0/0", "up", "yes", "no",
    )  # fmt: skip
    assert (first["speed_mbps"], first["loss_pct"]) == ("1000", "0.0")
    second = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert (second["link"], second["latency_ms"], second["wan_name"]) == ("down", "", "")
    offline = CircuitRows([]).of({**gateway, "site_id": "s9", "ports": []})
    assert len(offline) == 1 and offline[0][:3] == ["", "gw-1", "g1"] and offline[0][5] == ""


def test_csv_has_the_uptime_and_the_prefix_length_in_their_own_columns() -> None:
    """A spreadsheet user filters on the /29s and sorts by uptime without splitting cells."""
    gateway = {
        "id": "g1", "name": "gw-1", "site_id": "s1", "status": "connected", "uptime": 86400,
        "ports": [
            {"port_id": "ge-0/0/0", "ip": "198.51.100.10/29"},
            {"port_id": "ge-0/0/1", "ip": "203.0.113.7"},
            {"port_id": "ge-0/0/2", "ip": "2001:db8::1/64"},
        ],
    }  # fmt: skip
    rows = [dict(zip(CSV_COLUMNS, row, strict=True)) for row in CircuitRows([]).of(gateway)]
    assert [row["uptime_s"] for row in rows] == ["86400"] * 3
    assert [row["wan_ip"] for row in rows] == ["198.51.100.10/29", "203.0.113.7", "2001:db8::1/64"]
    assert [row["wan_prefix_length"] for row in rows] == ["29", "", "64"]
    offline = CircuitRows([]).of({**gateway, "status": "disconnected"})
    assert {dict(zip(CSV_COLUMNS, row, strict=True))["uptime_s"] for row in offline} == {""}

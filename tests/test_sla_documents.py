"""The availability documents (sla/documents.py, sla/circuits.py): what /api/availability,
/api/isps and their CSV say of a snapshot's circuits after a day of refreshes."""

from __future__ import annotations

from model.events import derive_events
from sla.accumulator import DAY, HOUR, Accumulator, advance
from sla.circuits import catalogue, final_flags
from sla.documents import (
    AVAILABILITY_CSV_COLUMNS,
    ISP_CSV_COLUMNS,
    availability_csv_rows,
    by_gateway,
    isp_csv_rows,
    isps_document,
    percentile,
)
from tests.test_events import gateway, path, port, snapshot

START = 20_000 * DAY


def isp_port(port_id: str, isp: str, *, up: bool = True, latency: float = 20.0):
    return port(port_id, up=up)._replace(isp=isp, asn=None, latency=latency)


def day_of(records_at) -> tuple:
    """A day of hourly refreshes; records_at(hour) gives the gateways at that hour."""
    acc: Accumulator | None = None
    state = None
    found = None
    for hour in range(25):
        snap = snapshot(*records_at(hour), paths={("gw1", "gw1"): [path("a", True)]},
                        now=START + hour * HOUR)  # fmt: skip
        derived = derive_events(state, snap, hold=1)
        state = derived.state
        found = catalogue(snap)
        acc, _ = advance(acc, snap.generated_at, derived.events, final_flags(state, found),
                         max_gap=DAY)  # fmt: skip
    assert acc is not None and found is not None
    return found, acc


def org_at(hour: int) -> list:
    """gw1: `a` (Fiber Co) down from 10:00 to 11:00 and `b` (Cable Co, slow); gw2: Fiber Co."""
    return [
        gateway("gw1", isp_port("a", "Fiber Co", up=hour != 10),
                isp_port("b", "Cable Co", latency=80.0)),
        gateway("gw2", isp_port("a", "Fiber Co", latency=10.0)),
    ]  # fmt: skip


def test_each_gateway_part_lists_its_ports_and_paths_with_their_windows():
    found, acc = day_of(org_at)
    parts = dict(by_gateway(found, acc))
    assert list(parts) == ["gw1", "gw2"]
    first = parts["gw1"]
    assert first["gateway_name"] == "gw-gw1" and first["site_name"] == "Denver"
    down = first["ports"][0]
    assert down["port_id"] == "a" and down["isp"] == "Fiber Co"
    assert down["availability"] == [95.833, 95.833, 95.833]
    assert down["down_s"][0] == HOUR and down["flaps"] == [1, 1, 1]
    assert down["flaps_total"] == 1
    assert first["paths"][0]["peer_name"] == "hub"
    assert first["paths"][0]["availability"][0] == 100.0
    assert parts["gw2"]["paths"] == []


def test_isps_rank_by_availability_then_quality_with_their_worst_circuits():
    found, acc = day_of(org_at)
    document = isps_document(found, acc)
    ranked = [isp["isp"] for isp in document["isps"]]
    assert ranked == ["Cable Co", "Fiber Co"]
    fiber = document["isps"][1]
    assert fiber["rank"] == 2 and fiber["circuits"] == 2 and fiber["up"] == 2
    assert fiber["availability"]["24h"] == round(100 * (2 * DAY - HOUR) / (2 * DAY), 3)
    assert fiber["flaps"] == {"24h": 1, "7d": 1, "30d": 1}
    assert fiber["latency"] == {"mean": 15.0, "p95": 20.0}
    assert [w["gateway_id"] for w in fiber["worst"]] == ["gw1"]  # gw2 never went down
    assert document["isps"][0]["worst"] == []
    assert fiber["worst"][0]["availability_30d"] == 95.833
    assert document["observed_only"] is True


def test_a_port_without_isp_name_counts_under_its_asn_or_unknown():
    def records(hour: int) -> list:
        return [gateway("gw1", port("a")._replace(isp=None, asn="7922"),
                        port("b")._replace(isp=None, asn=None))]  # fmt: skip

    found, acc = day_of(records)
    names = {isp["isp"] for isp in isps_document(found, acc)["isps"]}
    assert names == {"AS7922", "Unknown ISP"}


def test_csv_rows_match_their_columns():
    found, acc = day_of(org_at)
    rows = list(availability_csv_rows(part for _, part in by_gateway(found, acc)))
    assert all(len(row) == len(AVAILABILITY_CSV_COLUMNS) for row in rows)
    assert [row[0] for row in rows] == ["port", "port", "path", "port"]
    named = dict(zip(AVAILABILITY_CSV_COLUMNS, rows[0], strict=True))
    assert named["availability_24h"] == 95.833 and named["flaps_30d"] == 1
    isp_rows = list(isp_csv_rows(isps_document(found, acc)))
    assert all(len(row) == len(ISP_CSV_COLUMNS) for row in isp_rows)
    assert "gw-gw1 a (95.833%)" in isp_rows[1][-1]


def test_p95_is_the_nearest_rank():
    assert percentile([], 0.95) is None
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([float(n) for n in range(1, 101)], 0.95) == 95.0


def test_csv_text_is_what_csv_writer_writes_of_the_excel_safe_rows():
    """The cached CSV text of a part is byte for byte csv.writer's of the safe rows, names
    with commas, quotes, line breaks and formulas included (and 1 is not the flag True)."""
    import csv
    import io

    from sla.documents import availability_csv_text
    from store.codec import excel_safe

    found, acc = day_of(org_at)
    parts = [part for _, part in by_gateway(found, acc)]
    parts[0] = {**parts[0], "gateway_name": 'Main St, "HQ"\n=1+1', "site_name": None}
    parts[0]["ports"] = [{**parts[0]["ports"][0], "wan_name": "-2", "isp": "a;@b", "asn": 1}]
    parts[0]["paths"] = [{**parts[0]["paths"][0], "peer_port_id": 1, "vpn": True}]
    for part in parts:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerows(availability_csv_rows((part,), excel_safe))
        assert availability_csv_text(part) == buffer.getvalue()


def test_each_gateways_json_is_json_encoders_own_bytes():
    """/api/availability, each gateway's part and the CSV are made from cached pieces: byte
    for byte what the JSON encoder and availability_csv_text make of the part, odd names
    included (quotes, line breaks, non-ASCII, numbers where text is usual, 1 beside True,
    no name at all, no scalar)."""
    from sla.documents import availability_csv_text
    from sla.encoded import encoded_by_gateway
    from store.codec import encode_json

    found, acc = day_of(org_at)
    first, second = list(found.ports)[:2]
    odd = 'Main St, "HQ"\n=1+1 \u00e9\u2603'
    port = found.ports[first]
    found.ports[first] = port._replace(
        gateway_name=odd, site_name=None, wan_name="-2", isp="a;@b\\", asn=1
    )
    found.ports[second] = found.ports[second]._replace(wan_name=None, asn=True, up=None)
    key = next(iter(found.paths))
    found.paths[key] = found.paths[key]._replace(
        peer_port_id=1, vpn=True, port_id=1.5, peer_name=None
    )
    found.ports["p\tgw9\tz"] = port._replace(gateway_id=7, site_name=("not", "a", "scalar"))
    kept: dict = {}
    expected: dict = {}
    encoded = list(encoded_by_gateway(found, acc, kept))
    parts = list(by_gateway(found, acc, expected))
    assert [g for g, _, _ in encoded] == [g for g, _ in parts] and len(parts) == 3
    for (_, body, csv_text), (_, part) in zip(encoded, parts, strict=True):
        assert body == encode_json(part)
        assert csv_text == availability_csv_text(part)
    assert kept == expected

"""The worst circuits document (/api/worst): each measure's N worst WAN ports, checked by hand
on a small org (availability and flaps over 24 h too), and the same order whatever N cuts
away."""

from __future__ import annotations

from typing import Any

from sla.accumulator import port_key
from sla.documents import by_gateway
from tests.test_sla_documents import day_of, org_at
from views.worst import (
    COLUMNS,
    FULL,
    MEASURES,
    QUALITY,
    PortFigures,
    WorstCircuits,
    port_figures,
    utilisation,
)

SITES = [{"id": "s1", "name": "Denver"}, {"id": "s2", "name": "Oslo"}]


def port(port_id: str, **fields: Any) -> dict[str, Any]:
    base = {"port_id": port_id, "enabled": True, "up": True, "speed": 100,
            "latency": None, "jitter": None, "loss": None, "mos": None,
            "rx_bps": None, "tx_bps": None, "worst": None, "degraded": False}  # fmt: skip
    return base | fields


def gateway(gateway_id: str, site: str, *ports: dict, status: str = "connected") -> dict:
    return {"id": gateway_id, "name": gateway_id.upper(), "site_id": site, "status": status,
            "ports": list(ports)}  # fmt: skip


ORG = [
    gateway(
        "gw-a",
        "s1",
        port(
            "ge-0/0/0",
            latency=20.0,
            jitter=2.0,
            loss=0.0,
            mos=4.4,
            rx_bps=10_000_000,
            tx_bps=1_000_000,
            worst={"score": 0.2, "metric": "latency", "peer": "hub"},
        ),
        port(
            "ge-0/0/1",
            latency=180.0,
            jitter=12.0,
            loss=0.4,
            mos=3.9,
            rx_bps=95_000_000,
            tx_bps=5_000_000,
            worst={"score": 1.8, "metric": "latency", "peer": "hub"},
            degraded=True,
        ),
    ),
    gateway(
        "gw-b",
        "s2",
        port(
            "ge-0/0/0",
            latency=60.0,
            jitter=40.0,
            loss=2.5,
            mos=3.2,
            rx_bps=50_000_000,
            tx_bps=70_000_000,
            worst={"score": 5.0, "metric": "loss", "peer": "hub"},
            degraded=True,
        ),
        port("ge-0/0/2", enabled=False, latency=999.0),  # disabled: never ranked
        port("ge-0/0/3", up=False, speed=0),  # down: no figures, nothing to rank
    ),
    gateway(
        "gw-c",
        "s2",
        port(
            "ge-0/0/0",
            latency=180.0,
            jitter=1.0,
            loss=0.1,
            mos=4.1,
            rx_bps=1_000,
            tx_bps=1_000,
            worst={"score": 1.8, "metric": "latency", "peer": "hub2"},
        ),
    ),
    gateway("gw-d", "s1", port("ge-0/0/0", latency=900.0, loss=50.0), status="disconnected"),
]


# What the availability step counted over the last 24 h (per cent, flaps), by hand: gw-b's
# first port flapped most and was up least; gw-a ge-0/0/0 was up all day (left out: FULL).
FIGURES: dict[str, PortFigures] = {
    port_key("gw-b", "ge-0/0/0"): (95.0, 6),
    port_key("gw-b", "ge-0/0/3"): (98.0, 1),  # down since a while ago
    port_key("gw-a", "ge-0/0/1"): (99.95, 1),
    port_key("gw-c", "ge-0/0/0"): (99.99, 2),
    port_key("gw-b", "ge-0/0/2"): (0.0, 9),  # disabled: never ranked
    port_key("gw-d", "ge-0/0/0"): (0.0, 9),  # its gateway offline: never ranked
}


def ranked(document: dict, measure: str) -> list[tuple[str, str]]:
    rows = document["rows"]
    g, p = COLUMNS.index("gateway_id"), COLUMNS.index("port")
    return [(rows[i][g], rows[i][p]) for i in document["rankings"][measure]]


def build(limit: int, availability: dict[str, PortFigures] | None = FIGURES) -> dict:
    worst = WorstCircuits(SITES, limit=limit, availability=availability)
    for record in ORG:
        worst.add(record)
    return worst.document(1_764_190_000.0)


def test_each_measure_lists_its_worst_ports_worst_first_by_hand() -> None:
    document = build(50)
    assert document["ports"] == 5  # enabled WAN ports of online gateways
    assert document["measures"] == list(MEASURES)
    a0, a1, b0, b3, c0 = (("gw-a", "ge-0/0/0"), ("gw-a", "ge-0/0/1"), ("gw-b", "ge-0/0/0"),
                          ("gw-b", "ge-0/0/3"), ("gw-c", "ge-0/0/0"))  # fmt: skip
    assert ranked(document, "score") == [b0, a1, c0, a0]  # a1 and c0 tie: listed first wins
    assert ranked(document, "latency") == [a1, c0, b0, a0]
    assert ranked(document, "jitter") == [b0, a1, a0, c0]
    assert ranked(document, "loss") == [b0, a1, c0]  # no loss is no problem
    assert ranked(document, "mos") == [b0, a1, c0, a0]  # lowest first
    # busier direction over speed: b0 70 % of 100 Mbit/s, a1 95 %, a0 10 %, c0 0.001 %
    assert ranked(document, "utilisation") == [a1, b0, a0, c0]
    # lowest availability first; most flaps first (a1 and b3 tie at 1: listed first wins)
    assert ranked(document, "availability") == [b0, b3, a1, c0]
    assert ranked(document, "flaps") == [b0, c0, a1, b3]
    assert b3 not in ranked(document, "score")
    rows = {(r[0], r[3]): dict(zip(COLUMNS, r, strict=True)) for r in document["rows"]}
    assert rows[b0]["site"] == "Oslo" and rows[b0]["gateway"] == "GW-B"
    assert rows[b0]["worst_metric"] == "loss" and rows[b0]["worst_peer"] == "hub"
    assert rows[a1]["utilisation"] == 0.95 and rows[a1]["degraded"] is True
    assert (rows[b0]["availability"], rows[b0]["flaps"]) == (95.0, 6)
    assert (rows[a0]["availability"], rows[a0]["flaps"]) == FULL  # up all day
    assert len(document["rows"]) == 5  # each port once, whatever measures list it
    assert document["thresholds"]["utilisation"] == [0.7, 0.9]
    assert document["thresholds"]["latency"] == [50, 100, 150]
    assert document["thresholds"]["availability"] == [99.9, 99.0]


def test_a_smaller_n_keeps_the_head_of_each_ranking() -> None:
    full = build(50)
    for limit in (1, 2, 3):
        cut = build(limit)
        for measure in full["measures"]:
            assert ranked(cut, measure) == ranked(full, measure)[:limit], (limit, measure)


def test_utilisation_needs_a_speed_and_a_rate() -> None:
    assert utilisation({"speed": 1000, "rx_bps": 500_000_000, "tx_bps": None}) == 0.5
    assert utilisation({"speed": 0, "rx_bps": 5}) is None
    assert utilisation({"speed": 100}) is None


def test_without_the_availability_figures_neither_measure_is_sent() -> None:
    """The availability step failed or did not run: the page shows the six quality measures
    and no availability or flaps column (their cells would all be empty)."""
    document = build(50, availability=None)
    assert document["measures"] == list(QUALITY)
    assert set(document["rankings"]) == set(QUALITY)
    at = COLUMNS.index("availability")
    assert all(row[at] is None and row[at + 1] is None for row in document["rows"])
    assert ranked(document, "score") == ranked(build(50), "score")  # nothing else moves


def test_a_port_down_all_day_ranks_first_and_an_unobserved_one_not_at_all() -> None:
    worst = WorstCircuits(SITES, availability={port_key("g", "p1"): (0.0, 0),
                                               port_key("g", "p2"): (None, 0),
                                               port_key("g", "p3"): (99.0, 0)})  # fmt: skip
    worst.add(gateway("g", "s1", port("p1"), port("p2"), port("p3")))
    document = worst.document(None)
    assert ranked(document, "availability") == [("g", "p1"), ("g", "p3")]
    assert ranked(document, "flaps") == []


def test_port_figures_are_the_availability_documents_own_24_h_figures() -> None:
    """After a day of hourly refreshes where gw1's port `a` was down 10:00-11:00 (one flap):
    that port, and only it, has something to say, in /api/availability's very numbers."""
    found, accumulator = day_of(org_at)
    counted = port_figures(found, accumulator)
    assert counted == {port_key("gw1", "a"): (95.833, 1)}
    for gateway_id, part in by_gateway(found, accumulator):  # every port, its 24 h figures
        for row in part["ports"]:
            key = port_key(gateway_id, row["port_id"])
            assert (row["availability"][0], row["flaps"][0]) == counted.get(key, FULL)
    del accumulator.circuits[port_key("gw2", "a")]  # as if first seen this refresh
    assert port_figures(found, accumulator)[port_key("gw2", "a")] == (None, 0)
    assert set(MEASURES) == set(QUALITY) | {"availability", "flaps"}

"""The worst circuits document (/api/worst): each measure's N worst WAN ports, checked by hand
on a small org, and the same order whatever N cuts away."""

from __future__ import annotations

from typing import Any

from views.worst import COLUMNS, MEASURES, WorstCircuits, utilisation

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


def ranked(document: dict, measure: str) -> list[tuple[str, str]]:
    rows = document["rows"]
    g, p = COLUMNS.index("gateway_id"), COLUMNS.index("port")
    return [(rows[i][g], rows[i][p]) for i in document["rankings"][measure]]


def build(limit: int) -> dict:
    worst = WorstCircuits(SITES, limit=limit)
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
    assert ranked(document, "availability") == [] and ranked(document, "flaps") == []
    assert b3 not in ranked(document, "score")
    rows = {(r[0], r[3]): dict(zip(COLUMNS, r, strict=True)) for r in document["rows"]}
    assert rows[b0]["site"] == "Oslo" and rows[b0]["gateway"] == "GW-B"
    assert rows[b0]["worst_metric"] == "loss" and rows[b0]["worst_peer"] == "hub"
    assert rows[a1]["utilisation"] == 0.95 and rows[a1]["degraded"] is True
    assert len(document["rows"]) == 4  # each port once, whatever measures list it
    assert document["thresholds"]["utilisation"] == [0.7, 0.9]
    assert document["thresholds"]["latency"] == [50, 100, 150]


def test_a_smaller_n_keeps_the_head_of_each_ranking() -> None:
    full = build(50)
    for limit in (1, 2, 3):
        cut = build(limit)
        for measure in MEASURES:
            assert ranked(cut, measure) == ranked(full, measure)[:limit], (limit, measure)


def test_utilisation_needs_a_speed_and_a_rate() -> None:
    assert utilisation({"speed": 1000, "rx_bps": 500_000_000, "tx_bps": None}) == 0.5
    assert utilisation({"speed": 0, "rx_bps": 5}) is None
    assert utilisation({"speed": 100}) is None


def test_the_availability_and_flaps_hook_ranks_them_once_ports_carry_them() -> None:
    worst = WorstCircuits(SITES)
    worst.add(gateway("g", "s1", port("p1", availability=0.999, flaps=1),
                      port("p2", availability=0.95, flaps=7)))  # fmt: skip
    document = worst.document(None)
    assert ranked(document, "availability") == [("g", "p2"), ("g", "p1")]
    assert ranked(document, "flaps") == [("g", "p2"), ("g", "p1")]

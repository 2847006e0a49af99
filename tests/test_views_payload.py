"""views/payload.py: the gateways payload (head, then drained records), the insights
records and each gateway's peer paths, as the worker encodes them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from model.quality import THRESHOLDS, degraded_causes
from model.snapshot import build_snapshot
from tests.fixtures.snapshots import (
    DENVER_GW,
    build,
    load,
    path,
    paths_of,
    payload,
    snapshot_from,
    stat,
    wan,
)
from views.payload import drain_peer_paths, gateways_payload_head, insights_records, summarize


@pytest.fixture
def mist() -> dict[str, Any]:
    return load("examples.json")


def test_reference_payload_head_summary_and_thresholds(mist):
    snapshot = snapshot_from(mist)
    document = payload(snapshot)
    assert list(document) == ["generated_at", "thresholds", "summary", "gateways"]
    assert document["summary"] == {
        "gateways": 1,
        "gateways_online": 1,
        "gateways_offline": 0,
        "circuits": 2,
        "circuits_up": 1,
        "circuits_down": 1,
        "circuits_down_online": 1,
        "circuits_down_offline": 0,
        "circuits_degraded": 0,
        "degraded_causes": ["latency ≥ 100 ms", "jitter ≥ 30 ms", "loss ≥ 0.5 %", "MOS < 3.6"],
        "peer_paths": 2,
        "peer_paths_up": 1,
        "peer_paths_down": 1,
    }
    assert document["thresholds"] == {
        "latency": [50, 100, 150],
        "jitter": [10, 30, 50],
        "loss": [0.1, 0.5, 1],
        "mos": [4, 3.6],
    }
    assert document["generated_at"] == 1721300000.0
    assert [g["id"] for g in document["gateways"]] == [DENVER_GW]
    json.dumps(document, allow_nan=False)  # publishable as strict JSON


def test_the_head_copies_the_thresholds_so_no_payload_can_change_the_bands(mist):
    head = gateways_payload_head(snapshot_from(mist))
    head["thresholds"]["latency"].append(999)
    assert THRESHOLDS["latency"] == [50, 100, 150]


def test_summary_counts_offline_gateways_degraded_and_down_circuits():
    snapshot = build(
        [
            stat("a1", {"ge-0/0/0.0": wan("ge-0/0/0", up=True)}, status="connected"),
            stat("a2", {"ge-0/0/0.0": wan("ge-0/0/0", up=False)}, status="disconnected"),
        ],
        peer_paths=[path("a1", "ge-0/0/0", latency=200), path("a2", "ge-0/0/0", up=False)],
    )
    assert summarize(snapshot.records) == {
        "gateways": 2,
        "gateways_online": 1,
        "gateways_offline": 1,
        "circuits": 2,
        "circuits_up": 1,
        "circuits_down": 1,
        "circuits_down_online": 0,
        "circuits_down_offline": 1,
        "circuits_degraded": 1,
        "degraded_causes": degraded_causes(),
        "peer_paths": 2,
        "peer_paths_up": 1,
        "peer_paths_down": 1,
    }


def test_volumes_fill_the_payload_and_the_insights(mist):
    snapshot = snapshot_from(mist)
    volumes = {(DENVER_GW, "ge-0/0/0"): (123, 456), (DENVER_GW, "ge-0/0/1"): (None, 7)}
    compact = list(snapshot.records)
    insights = dict(insights_records(snapshot, volumes))
    ports = payload(snapshot, volumes)["gateways"][0]["ports"]
    assert [(p["rx_bytes_24h"], p["tx_bytes_24h"]) for p in ports] == [(123, 456), (None, 7)]
    assert all(p["rx_bytes_24h"] is None for p in compact[0].as_dict()["ports"])
    assert insights == {
        f"{DENVER_GW}:ge-0/0/0": {
            "rx_bps": 48211000,
            "tx_bps": 9120000,
            "rx_bytes_24h": 123,
            "tx_bytes_24h": 456,
            "ts": 1721300000.0,
        },
        f"{DENVER_GW}:ge-0/0/1": {
            "rx_bps": 0,
            "tx_bps": 0,
            "rx_bytes_24h": None,
            "tx_bytes_24h": 7,
            "ts": 1721300000.0,
        },
    }


def test_draining_gives_the_records_in_order_and_releases_the_compact_ones(mist):
    """The worker encodes gateways and peer paths while releasing them (drain_*): each
    record as its compact form gives it, in the snapshot's order, and nothing left after."""
    snapshot = snapshot_from(mist)
    volumes = {(DENVER_GW, "ge-0/0/0"): (123, 456)}
    expected_gateways = [gateway.as_dict(volumes) for gateway in snapshot.records]
    expected_paths = list(paths_of(snapshot).items())
    assert payload(snapshot, volumes)["gateways"] == expected_gateways
    drained = list(drain_peer_paths(snapshot))
    assert drained == expected_paths
    assert [key for key, _ in drained] == [(DENVER_GW, "4c96144f0a10")]
    assert [p["port_id"] for p in drained[0][1]] == ["ge-0/0/0", "ge-0/0/1"]
    assert snapshot.records == [] and snapshot.paths == {}


def synthetic_org(
    gateway_count: int, ports_per_gateway: int = 4, paths_per_port: int = 6
) -> dict[str, Any]:
    """A big org in raw Mist shapes for the performance check."""
    sites = [{"id": f"site-{n}", "name": f"Site {n:05d}"} for n in range(gateway_count // 2)]
    stats, port_rows, peer_paths = [], [], []
    for n in range(gateway_count):
        mac = f"{n:012x}"
        if_stat = {}
        for p in range(ports_per_gateway):
            port_id = f"ge-0/0/{p}"
            if_stat[f"{port_id}.0"] = wan(
                port_id,
                wan_name=f"wan{p}",
                up=True,
                ips=[f"198.51.{p}.{n % 250}/24"],
                servp_info={"org": "ISP", "asn": "AS1"},
            )
            port_rows.append(
                {
                    "mac": mac,
                    "port_id": port_id,
                    "up": p != 3,
                    "speed": 1000,
                    "rx_bps": 1,
                    "tx_bps": 2,
                    "rx_bytes": n,
                    "tx_bytes": n,
                }
            )
            for q in range(paths_per_port):
                peer_paths.append(
                    {
                        "mac": mac,
                        "port_id": port_id,
                        "type": "ipsec",
                        "up": q != 5,
                        "peer_router_name": f"hub{q}",
                        "latency": 10 + q,
                        "jitter": 1,
                        "loss": 0,
                        "mos": 4.4,
                    }
                )
        stats.append(
            stat(mac, if_stat, name=f"gw-{n}", site_id=f"site-{n // 2}", status="connected")
        )
    return {
        "sites": sites,
        "gateway_stats": stats,
        "port_stats": port_rows,
        "peer_paths": peer_paths,
    }


def test_ten_thousand_gateways_build_and_drain_every_circuit_and_path():
    """The 10k-gateway build holds every circuit and path (its speed is `make bench`'s)."""
    org = synthetic_org(10_000)
    snapshot = build_snapshot(org={"id": "o"}, port_configs={}, now=1.0, **org)
    insights = sum(1 for _ in insights_records(snapshot, {}))
    paths = sum(len(paths) for _, paths in drain_peer_paths(snapshot))
    document = payload(snapshot)
    assert document["summary"]["circuits"] == 40_000 == insights
    assert document["summary"]["peer_paths"] == 240_000 == paths
    assert document["summary"]["circuits_up"] == 30_000
    assert len(document["gateways"]) == 10_000

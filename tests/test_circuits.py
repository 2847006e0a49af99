"""circuits.py: what an engineer sees on the dashboard, from raw Mist objects.

Pure functions, so no servers here: the samples are Mist-shaped bodies under
tests/data/mist_samples (see its README for their origin and licence).
"""

from __future__ import annotations

import copy
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

import circuits
from circuits import (
    PortConfig,
    build_snapshot,
    expand_port_keys,
    gateways_payload,
    index_port_configs,
    insights_summary,
    peer_paths_all,
    resolve_port_configs,
)

SAMPLES = Path(__file__).parent / "data" / "mist_samples"
DENVER_GW = "00000000-0000-0000-1000-4c96144f0a10"
DENVER_SITE = "d3c2b1a0-5e4f-4a6b-8c7d-1e2f3a4b5c6d"
DC1_SITE = "7b8c9d0e-1f2a-4b3c-9d4e-5f6a7b8c9d0e"


def load(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


@pytest.fixture
def mist() -> dict[str, Any]:
    return load("examples.json")


def configs_from(mist: dict[str, Any]) -> dict[str, dict[str, PortConfig]]:
    device = mist["getSiteDevice"]
    return index_port_configs(
        sites=mist["listOrgSites"],
        templates=[mist["getOrgGatewayTemplate"]],
        profiles=[mist["getOrgDeviceProfile"]],
        inventory=mist["getOrgInventory"],
        device_configs={device["id"]: device},
    )


def snapshot_from(mist: dict[str, Any], **overrides: Any) -> circuits.Snapshot:
    arguments: dict[str, Any] = {
        "org": mist["getOrg"],
        "sites": mist["listOrgSites"],
        "gateway_stats": mist["listOrgDevicesStats"],
        "port_stats": mist["searchOrgSwOrGwPorts"]["results"],
        "peer_paths": mist["searchOrgPeerPathStats"]["results"],
        "port_configs": configs_from(mist),
        "now": 1721300000.0,
    }
    arguments.update(overrides)
    return build_snapshot(**arguments)


def gateway(snapshot: circuits.Snapshot, gateway_id: str) -> dict:
    return next(g for g in snapshot.gateways if g["id"] == gateway_id)


def port(gateway_record: dict, port_id: str) -> dict:
    return next(p for p in gateway_record["ports"] if p["port_id"] == port_id)


def wan(port_id: str, **fields: Any) -> dict:
    return {"port_id": port_id, "port_usage": "wan", **fields}


def stat(mac: str, if_stat: dict | None = None, **fields: Any) -> dict:
    return {
        "id": f"00000000-0000-0000-1000-{mac}",
        "mac": mac,
        "type": "gateway",
        "if_stat": if_stat or {},
        **fields,
    }


def build(
    gateway_stats: list[dict], *, port_stats=(), peer_paths=(), sites=(), configs=None
) -> circuits.Snapshot:
    return build_snapshot(
        org={"id": "o", "name": "Org"},
        sites=list(sites),
        gateway_stats=gateway_stats,
        port_stats=list(port_stats),
        peer_paths=list(peer_paths),
        port_configs=configs or {},
        now=1.0,
    )


def path(mac: str, port_id: str, up: bool = True, **quality: Any) -> dict:
    return {
        "mac": mac,
        "port_id": port_id,
        "type": "ipsec",
        "up": up,
        "peer_router_name": "hub",
        **quality,
    }


# --- the reference org, end to end ------------------------------------------------------


def test_reference_gateway_shows_its_two_wan_circuits_with_config_labels(mist):
    snapshot = snapshot_from(mist)
    denver = gateway(snapshot, DENVER_GW)
    assert [p["port_id"] for p in denver["ports"]] == [
        "ge-0/0/0",
        "ge-0/0/1",
    ]  # the LAN port is not a circuit
    isp_a = port(denver, "ge-0/0/0")
    assert isp_a == {
        "port_id": "ge-0/0/0",
        "node": "node0",
        "wan_name": "wan_isp_a",
        "description": "Example Broadband circuit EB-556677",  # template {{vars}} from the device
        "isp": "Example Broadband Inc",
        "asn": "AS64500",
        "wan_type": "broadband",
        "enabled": True,
        "up": True,
        "down": False,
        "speed": 1000,
        "ip": "198.51.100.10/24",
        "gateway_ip": None,
        "vlan": 0,
        "address_mode": "dhcp",
        "override": False,
        "peers_up": 1,
        "peers_total": 1,
        "latency": 23.4,
        "jitter": 1.8,
        "loss": 0.0,
        "mos": 4.38,
        "degraded": False,
        "rx_bps": 48211000,
        "tx_bps": 9120000,
        "rx_bytes_24h": None,
        "tx_bytes_24h": None,
        "last_flapped": 1720435790.0,
    }
    isp_b = port(denver, "ge-0/0/1")
    assert (isp_b["up"], isp_b["address_mode"], isp_b["gateway_ip"]) == (
        False,
        "static",
        "203.0.113.17",
    )
    assert isp_b["description"] == "Example Fiber circuit EF-000123"
    assert (isp_b["peers_up"], isp_b["peers_total"], isp_b["latency"], isp_b["mos"]) == (
        0,
        1,
        None,
        None,
    )
    assert (
        denver["ports_up"],
        denver["ports_total"],
        denver["peers_up"],
        denver["peers_total"],
    ) == (1, 2, 1, 2)
    assert denver["ha"] is False and denver["degraded"] is False
    assert denver["status"] == "connected" and denver["model"] == "SRX320"


def test_reference_payload_summary_sites_and_org(mist):
    snapshot = snapshot_from(mist)
    payload = gateways_payload(snapshot, {})
    assert payload["summary"] == {
        "gateways": 1,
        "gateways_online": 1,
        "gateways_offline": 0,
        "circuits": 2,
        "circuits_up": 1,
        "circuits_down": 1,
        "circuits_degraded": 0,
        "peer_paths": 2,
        "peer_paths_up": 1,
        "peer_paths_down": 1,
    }
    assert payload["thresholds"] == {
        "latency": [50, 100, 150],
        "jitter": [10, 30, 50],
        "loss": [0.1, 0.5, 1],
        "mos": [4, 3.6],
    }
    assert payload["generated_at"] == 1721300000.0
    assert snapshot.org == {
        "id": mist["getOrg"]["id"],
        "name": "Example Retail Co",
        "msp_name": "Example MSP",
    }
    # sorted by name; the hub site has no gateway in the stats and still appears, with 0
    assert [(s["name"], s["gateway_count"]) for s in snapshot.sites] == [
        ("DC1 Hub", 0),
        ("Denver Branch", 1),
    ]
    assert set(snapshot.sites[0]) == {
        "id",
        "name",
        "country_code",
        "timezone",
        "address",
        "gateway_count",
    }
    json.dumps(payload, allow_nan=False)  # publishable as strict JSON


def test_org_without_msp_has_no_msp_name(mist):
    org = {k: v for k, v in mist["getOrg"].items() if not k.startswith("msp")}
    assert snapshot_from(mist, org=org).org == {"id": org["id"], "name": "Example Retail Co"}


def test_peer_paths_per_gateway_and_for_all(mist):
    snapshot = snapshot_from(mist)
    paths = snapshot.peer_paths[(DENVER_GW, "4c96144f0a10")]
    assert [p["port_id"] for p in paths] == ["ge-0/0/0", "ge-0/0/1"]
    assert paths[0] == {
        "port_id": "ge-0/0/0",
        "peer_router_name": "dc1-hub-gw01",
        "peer_port_id": "ge-0/0/3",
        "peer_mac": "4c96144f9b20",
        "peer_site_id": DC1_SITE,
        "type": "ipsec",
        "up": True,
        "is_active": True,
        "uptime": 86400,
        "latency": 23.4,
        "jitter": 1.8,
        "loss": 0.0,
        "mos": 4.38,
        "mtu": 1400,
        "last_seen": 1721299990.0,
    }
    assert peer_paths_all(snapshot) == {DENVER_GW: paths}


def test_volumes_fill_the_payload_without_touching_the_snapshot(mist):
    snapshot = snapshot_from(mist)
    volumes = {(DENVER_GW, "ge-0/0/0"): (123, 456), (DENVER_GW, "ge-0/0/1"): (None, 7)}
    payload = gateways_payload(snapshot, volumes)
    ports = payload["gateways"][0]["ports"]
    assert [(p["rx_bytes_24h"], p["tx_bytes_24h"]) for p in ports] == [(123, 456), (None, 7)]
    assert all(p["rx_bytes_24h"] is None for p in snapshot.gateways[0]["ports"])
    insights = insights_summary(snapshot, volumes)
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


def test_circuits_carry_the_port_search_counters_for_the_history(mist):
    snapshot = snapshot_from(mist)
    assert snapshot.circuits[0] == circuits.Circuit(
        gateway_id=DENVER_GW,
        mac="4c96144f0a10",
        site_id=DENVER_SITE,
        port_id="ge-0/0/0",
        rx_bytes=918273645512,
        tx_bytes=210394857712,
        rx_bps=48211000,
        tx_bps=9120000,
    )
    assert len(snapshot.circuits) == 2


# --- port configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "ports"),
    [
        ("ge-0/0/1", ["ge-0/0/1"]),
        ("ge-0/0/1-3", ["ge-0/0/1", "ge-0/0/2", "ge-0/0/3"]),
        ("ge-0/0/0,ge-7/0/0", ["ge-0/0/0", "ge-7/0/0"]),
        ("ge-0/0/0, ge-0/0/8-9", ["ge-0/0/0", "ge-0/0/8", "ge-0/0/9"]),
        ("xe-0/0/10-11", ["xe-0/0/10", "xe-0/0/11"]),
        ("{{WAN_PORT}}", ["{{WAN_PORT}}"]),
        ("ge-0-1", ["ge-0-1"]),  # an SSR port name, not a range
        ("ge-0/0/5-2", ["ge-0/0/5-2"]),  # backwards: left as written, not guessed at
        ("ge-0/0/0-99999", ["ge-0/0/0-99999"]),  # absurd: never expands into a huge list
        ("", []),
        ("reth0", ["reth0"]),
    ],
)
def test_expand_port_keys(key, ports):
    assert expand_port_keys(key) == ports


def test_device_overrides_profile_overrides_template_per_port():
    template = {
        "port_config": {
            "ge-0/0/0-1": {"usage": "wan", "name": "tmpl", "description": "from template"},
            "ge-0/0/2": {"usage": "wan", "name": "tmpl2"},
        }
    }
    profile = {"port_config": {"ge-0/0/1": {"usage": "wan", "name": "prof"}}}
    device = {
        "port_config": {
            "ge-0/0/2": {"usage": "wan", "name": "dev", "ip_config": {"type": "PPPoE"}},
            "ge-0/0/3": {"usage": "wan", "name": "dev-only", "disabled": True},
        }
    }
    configs = resolve_port_configs(site=None, template=template, profile=profile, device=device)
    assert {p: (c.name, c.source, c.override) for p, c in configs.items()} == {
        "ge-0/0/0": ("tmpl", "template", False),
        "ge-0/0/1": ("prof", "deviceprofile", False),
        "ge-0/0/2": ("dev", "device", True),
        "ge-0/0/3": ("dev-only", "device", True),
    }
    assert configs["ge-0/0/0"].description == "from template"
    assert configs["ge-0/0/1"].description is None  # a more specific entry replaces, not merges
    assert configs["ge-0/0/2"].address_mode == "pppoe"
    assert configs["ge-0/0/3"].disabled is True


def test_device_repeating_its_template_is_not_an_override():
    entry = {"usage": "wan", "name": "wan_a", "ip_config": {"type": "dhcp"}}
    configs = resolve_port_configs(
        site=None,
        template={"port_config": {"ge-0/0/0": entry}},
        profile=None,
        device={"port_config": {"ge-0/0/0": dict(entry)}},
    )
    assert configs["ge-0/0/0"].override is False
    assert configs["ge-0/0/0"].source == "device"


def test_vars_substitute_in_keys_and_values_and_unknown_vars_stay_visible():
    template = {
        "port_config": {
            "{{WAN1}}": {
                "usage": "wan",
                "name": "wan1",
                "description": "{{ ISP }} / {{CKT}}",
                "vlan_id": "{{VLAN}}",
                "ip_config": {"type": "static", "gateway": "{{GW}}"},
            },
            "ge-0/0/5": {"usage": "wan", "vlan_id": "{{NOPE}}", "description": "{{MISSING}}"},
        }
    }
    device = {
        "vars": {
            "WAN1": "ge-0/0/4",
            "ISP": "Zürich <Fibre>",
            "CKT": 7,
            "VLAN": "120",
            "GW": "192.0.2.1",
        }
    }
    configs = resolve_port_configs(site=None, template=template, profile=None, device=device)
    assert set(configs) == {"ge-0/0/4", "ge-0/0/5"}
    wan1 = configs["ge-0/0/4"]
    assert (wan1.description, wan1.vlan, wan1.gateway_ip) == (
        "Zürich <Fibre> / 7",
        120,
        "192.0.2.1",
    )
    assert configs["ge-0/0/5"].description == "{{MISSING}}"
    assert configs["ge-0/0/5"].vlan is None
    assert configs["ge-0/0/5"].address_mode == "dhcp"  # Mist's default for a WAN port


def test_site_vars_fill_in_where_the_device_has_none():
    template = {"port_config": {"ge-0/0/0": {"usage": "wan", "description": "{{A}} {{B}}"}}}
    configs = resolve_port_configs(
        site={"vars": {"A": "site-a", "B": "site-b"}},
        template=template,
        profile=None,
        device={"vars": {"B": "device-b"}},
    )
    assert configs["ge-0/0/0"].description == "site-a device-b"


def test_resolve_port_configs_tolerates_junk():
    configs = resolve_port_configs(
        site={"vars": None},
        template={"port_config": None},
        profile={"port_config": {"ge-0/0/0": None, "ge-0/0/1": "oops"}},
        device={
            "port_config": {"ge-0/0/2": {"ip_config": None, "usage": None, "vlan_id": True}},
            "vars": None,
        },
    )
    assert list(configs) == ["ge-0/0/2"]
    assert configs["ge-0/0/2"] == PortConfig(
        None, None, None, None, None, None, None, False, "device", True
    )
    assert resolve_port_configs(site=None, template=None, profile=None, device=None) == {}


def test_index_port_configs_joins_site_template_and_inventory_profile(mist):
    configs = configs_from(mist)
    denver = configs[DENVER_GW]
    assert {p: c.source for p, c in denver.items()} == {
        "ge-0/0/0": "template",
        "ge-0/0/1": "template",
        "ge-0/0/4": "template",
        "cl-1/0/0": "device",
    }
    hub = configs["00000000-0000-0000-1000-4c96144f9b20"]  # profile id from the inventory
    assert hub["ge-0/0/3"].source == "deviceprofile"
    assert hub["ge-0/0/3"].gateway_ip == "192.0.2.1"


def test_index_port_configs_with_missing_pieces():
    configs = index_port_configs(
        sites=[{"id": "s1", "gatewaytemplate_id": "gone"}],
        templates=[],
        profiles=[],
        inventory=[{"id": "g1", "site_id": "s1", "deviceprofile_id": "gone-too"}, {"mac": "no-id"}],
        device_configs={
            "g2": {"site_id": "nowhere", "port_config": {"ge-0/0/0": {"usage": "wan"}}}
        },
    )
    assert configs["g1"] == {}
    assert configs["g2"]["ge-0/0/0"].usage == "wan"


# --- gateways, WAN ports, joins -----------------------------------------------------------


def test_ha_cluster_lists_node1_wan_from_if2_stat():
    sample = load("ha_cluster.json")
    snapshot = build(
        sample["gateway_stats"], port_stats=sample["port_stats"], peer_paths=sample["peer_paths"]
    )
    cluster = snapshot.gateways[0]
    assert cluster["ha"] is True
    assert [(p["port_id"], p["node"]) for p in cluster["ports"]] == [
        ("ge-0/0/0", "node0"),
        ("ge-7/0/0", "node1"),
    ]
    node1 = cluster["ports"][1]
    assert (node1["wan_name"], node1["isp"], node1["enabled"], node1["up"]) == (
        "dc1_transit_b",
        "Transit B",
        False,
        False,
    )
    assert node1["address_mode"] == "dhcp" and node1["ip"] is None
    assert (node1["peers_up"], node1["peers_total"]) == (0, 1)
    assert cluster["ports"][0]["address_mode"] == "static"
    assert (cluster["ports_up"], cluster["ports_total"]) == (1, 2)


def test_ha_is_detected_from_if2_stat_even_without_is_ha():
    snapshot = build([stat("aa", {}, if2_stat={"ge-7/0/0.0": wan("ge-7/0/0")})])
    assert snapshot.gateways[0]["ha"] is True


def test_ssr_peer_paths_join_by_wan_name():
    sample = load("ssr.json")
    snapshot = build(
        sample["gateway_stats"], port_stats=sample["port_stats"], peer_paths=sample["peer_paths"]
    )
    ssr = snapshot.gateways[0]
    broadband, lte = ssr["ports"]
    assert (broadband["port_id"], broadband["wan_name"], broadband["peers_total"]) == (
        "ge-0-0",
        "Broadband",
        2,
    )
    assert broadband["latency"] == pytest.approx(40) and broadband["loss"] == pytest.approx(0.5)
    assert broadband["mos"] == pytest.approx(4.2)
    assert broadband["degraded"] is True  # the dc2 path loses 1 %
    assert (lte["port_id"], lte["peers_total"], lte["latency"]) == ("ge-0-1", 1, 120)
    assert lte["degraded"] is True
    assert ssr["degraded"] is True and ssr["ports_total"] == 2  # ge-0-2 is LAN


def test_ssr_join_uses_config_name_when_if_stat_has_no_wan_name():
    configs = {"00000000-0000-0000-1000-bb": {"ge-0-0": _config(name="Broadband")}}
    snapshot = build(
        [stat("bb", {"ge-0-0": {"port_id": "ge-0-0"}})],
        peer_paths=[{"mac": "bb", "port_id": "Broadband", "type": "svr", "up": True, "latency": 5}],
        configs=configs,
    )
    only = snapshot.gateways[0]["ports"][0]
    assert (only["wan_name"], only["peers_up"], only["latency"]) == ("Broadband", 1, 5)


def test_peer_path_on_a_logical_interface_joins_its_physical_port():
    snapshot = build(
        [stat("cc", {"ge-0/0/0.0": wan("ge-0/0/0")})],
        peer_paths=[path("cc", "ge-0/0/0.0", latency=9)],
    )
    assert snapshot.gateways[0]["ports"][0]["latency"] == 9


def test_peer_paths_of_unknown_gateways_are_dropped_unmatched_ones_count_for_the_gateway():
    snapshot = build(
        [stat("dd", {"ge-0/0/0.0": wan("ge-0/0/0")})],
        peer_paths=[path("dd", "ge-0/0/9"), path("ee", "ge-0/0/0"), {"port_id": "x"}],
    )
    record = snapshot.gateways[0]
    assert (record["peers_total"], record["ports"][0]["peers_total"]) == (1, 0)
    assert list(snapshot.peer_paths) == [("00000000-0000-0000-1000-dd", "dd")]
    assert gateways_payload(snapshot, {})["summary"]["peer_paths"] == 1


def test_port_quality_averages_only_up_paths_and_degrades_at_the_middle_threshold():
    def port_with(*paths: dict) -> dict:
        snapshot = build([stat("ff", {"ge-0/0/0.0": wan("ge-0/0/0")})], peer_paths=list(paths))
        return snapshot.gateways[0]["ports"][0]

    healthy = port_with(
        path("ff", "ge-0/0/0", latency=10, jitter=1, loss=0, mos=4.4),
        path("ff", "ge-0/0/0", latency=30, jitter=3, loss=0.2, mos=4.2),
        path("ff", "ge-0/0/0", up=False, latency=900, jitter=90, loss=100, mos=1),  # down: ignored
    )
    assert (healthy["latency"], healthy["jitter"], healthy["loss"]) == (20, 2, 0.1)
    assert healthy["mos"] == pytest.approx(4.3)
    assert (healthy["peers_up"], healthy["peers_total"], healthy["degraded"]) == (2, 3, False)

    for bad in ({"latency": 100}, {"jitter": 30}, {"loss": 0.5}, {"mos": 3.59}):
        assert port_with(path("ff", "ge-0/0/0", **bad))["degraded"] is True, bad
    for fine in (
        {"latency": 99.9},
        {"jitter": 29.9},
        {"loss": 0.49},
        {"mos": 3.6},
        {"latency": None},
    ):
        assert port_with(path("ff", "ge-0/0/0", **fine))["degraded"] is False, fine

    only_down = port_with(path("ff", "ge-0/0/0", up=False, latency=1))
    assert (only_down["latency"], only_down["mos"], only_down["degraded"]) == (None, None, False)
    noisy = port_with(path("ff", "ge-0/0/0", loss=0.1), path("ff", "ge-0/0/0", loss=0.2))
    assert noisy["loss"] == 0.15  # not 0.15000000000000002
    partial = port_with(
        path("ff", "ge-0/0/0", latency=10), path("ff", "ge-0/0/0", latency=None, mos=4)
    )
    assert (partial["latency"], partial["mos"]) == (10, 4)


def _config(usage: str = "wan", name: str | None = None, **fields: Any) -> PortConfig:
    values: dict[str, Any] = {
        "name": name,
        "description": None,
        "wan_type": None,
        "usage": usage,
        "address_mode": None,
        "gateway_ip": None,
        "vlan": None,
        "disabled": False,
        "source": "template",
        "override": False,
    }
    values.update(fields)
    return PortConfig(**values)


def test_wan_by_config_when_if_stat_says_otherwise_or_nothing():
    gateway_id = "00000000-0000-0000-1000-ab"
    configs = {
        gateway_id: {
            "ge-0/0/1": _config(
                name="cfg-wan", description="Ckt 1", override=True, source="device"
            ),
            "ge-0/0/2": _config(name="offline-wan", vlan=30, address_mode="static"),
            "ge-0/0/3": _config(name="phantom"),  # configured but not on this box
            "ge-0/0/4": _config(usage="lan"),
        }
    }
    snapshot = build(
        [
            stat(
                "ab",
                {
                    "ge-0/0/1.0": {
                        "port_id": "ge-0/0/1",
                        "port_usage": "lan",
                        "ips": ["192.0.2.9/30"],
                    }
                },
            )
        ],
        port_stats=[
            {"mac": "ab", "port_id": "ge-0/0/2", "up": False},
            {"mac": "ab", "port_id": "ge-0/0/4"},
        ],
        configs=configs,
    )
    ports = {p["port_id"]: p for p in snapshot.gateways[0]["ports"]}
    assert set(ports) == {"ge-0/0/1", "ge-0/0/2"}
    assert (ports["ge-0/0/1"]["wan_name"], ports["ge-0/0/1"]["description"]) == ("cfg-wan", "Ckt 1")
    assert ports["ge-0/0/1"]["override"] is True and ports["ge-0/0/1"]["enabled"] is True
    assert ports["ge-0/0/1"]["up"] is None  # Mist said nothing about the link
    offline = ports["ge-0/0/2"]
    assert (offline["up"], offline["vlan"], offline["address_mode"], offline["ip"]) == (
        False,
        30,
        "static",
        None,
    )


def test_address_mode_and_vlan_fallbacks_from_if_stat():
    snapshot = build(
        [
            stat(
                "ac",
                {
                    "ge-0/0/0.0": wan("ge-0/0/0", address_mode="Unknown", vlan=None),
                    "ge-0/0/1.0": wan("ge-0/0/1", address_mode="PPPOE", vlan=100),
                    "ge-0/0/2.0": wan("ge-0/0/2", address_mode=7, vlan="x"),
                },
            )
        ]
    )
    modes = [(p["address_mode"], p["vlan"]) for p in snapshot.gateways[0]["ports"]]
    assert modes == [(None, None), ("pppoe", 100), (None, None)]


def test_gateway_without_wan_port_and_site_without_gateway():
    snapshot = build(
        [
            stat(
                "a1",
                {"ge-0/0/4.0": {"port_id": "ge-0/0/4", "port_usage": "lan"}},
                site_id="s1",
                status="connected",
            )
        ],
        sites=[{"id": "s1", "name": "Branch"}, {"id": "s2", "name": "Empty"}],
    )
    record = snapshot.gateways[0]
    assert (record["ports"], record["ports_total"], record["ports_up"], record["degraded"]) == (
        [],
        0,
        0,
        False,
    )
    assert [(s["name"], s["gateway_count"]) for s in snapshot.sites] == [
        ("Branch", 1),
        ("Empty", 0),
    ]
    assert snapshot.peer_paths == {("00000000-0000-0000-1000-a1", "a1"): []}
    summary = gateways_payload(snapshot, {})["summary"]
    assert (summary["gateways"], summary["gateways_online"], summary["circuits"]) == (1, 1, 0)


def test_unicode_and_html_names_pass_through_verbatim():
    hostile = '<img src=x onerror=alert(1)> Zürich 北京 "☃" &amp;'
    snapshot = build(
        [
            stat(
                "a2",
                {"ge-0/0/0.0": wan("ge-0/0/0", wan_name=hostile, servp_info={"org": hostile})},
                name=hostile,
            )
        ],
        peer_paths=[path("a2", "ge-0/0/0", peer_router_name=hostile)],
        sites=[{"id": "s", "name": hostile}],
    )
    record = snapshot.gateways[0]
    assert record["name"] == hostile
    assert record["ports"][0]["wan_name"] == hostile and record["ports"][0]["isp"] == hostile
    assert snapshot.peer_paths[(record["id"], "a2")][0]["peer_router_name"] == hostile
    assert snapshot.sites[0]["name"] == hostile
    text = json.dumps(gateways_payload(snapshot, {}), ensure_ascii=False)
    assert hostile.replace('"', '\\"') in text


def test_gateways_sorted_by_site_then_gateway_name_case_insensitively():
    sites = [{"id": "s-b", "name": "bravo"}, {"id": "s-a", "name": "Alpha"}]
    stats = [
        stat("01", name="zeta", site_id="s-a"),
        stat("02", name="Beta", site_id="s-b"),
        stat("03", name="alpha", site_id="s-b"),
        stat("04", name="Gamma", site_id="s-a"),
        stat("05", name=None, site_id="s-a"),
        stat("06", name="orphan", site_id=None),
    ]
    names = [g["name"] for g in build(stats, sites=sites).gateways]
    assert names == ["orphan", None, "Gamma", "zeta", "alpha", "Beta"]


def test_stripped_down_and_null_objects_never_raise():
    stats: list[Any] = [
        {"id": "only-id"},
        {"mac": "only-mac"},
        {"id": None, "mac": None},
        {"type": "switch", "mac": "sw"},  # not a gateway: ignored
        "junk",
        {
            "id": "g-null",
            "mac": "c0ffee",
            "name": None,
            "status": None,
            "if_stat": {
                "ge-0/0/0.0": {"port_usage": "wan", "ips": None, "servp_info": None, "up": None},
                "bad": None,
            },
            "if2_stat": None,
            "uptime": "soon",
        },
    ]
    snapshot = build(
        stats,
        port_stats=[
            None,
            {
                "mac": "c0ffee",
                "port_id": "ge-0/0/0",
                "speed": None,
                "rx_bytes": -5,
                "disabled": None,
            },
        ],
        peer_paths=[None, {"mac": "c0ffee", "port_id": None, "up": None}],
        sites=[None, {"id": None}],
    )
    ids = [g["id"] for g in snapshot.gateways]
    assert set(ids) == {"only-id", "00000000-0000-0000-1000-only-mac", "g-null"}
    null_gateway = gateway(snapshot, "g-null")
    assert null_gateway["uptime"] is None
    only_port = null_gateway["ports"][0]
    assert only_port["port_id"] == "ge-0/0/0"  # from the if_stat key when port_id is missing
    assert (only_port["up"], only_port["ip"], only_port["isp"], only_port["enabled"]) == (
        None,
        None,
        None,
        None,
    )
    assert snapshot.circuits[-1].rx_bytes is None  # a negative counter is not a counter
    json.dumps(gateways_payload(snapshot, {}), allow_nan=False)


def test_random_field_removal_never_raises(mist):
    """Mist may omit any optional field: drop random keys everywhere, many times."""
    rng = random.Random(20261126)

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            kept = {k: strip(v) for k, v in value.items() if rng.random() > 0.3}
            return {k: (None if rng.random() < 0.1 else v) for k, v in kept.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    for _ in range(200):
        broken = strip(copy.deepcopy(mist))
        for key in mist:
            broken.setdefault(key, {})
        try:
            configs = index_port_configs(
                sites=broken["listOrgSites"] if isinstance(broken["listOrgSites"], list) else [],
                templates=[broken["getOrgGatewayTemplate"]],
                profiles=[broken["getOrgDeviceProfile"]],
                inventory=broken["getOrgInventory"]
                if isinstance(broken["getOrgInventory"], list)
                else [],
                device_configs={"00000000-0000-0000-1000-4c96144f0a10": broken["getSiteDevice"]},
            )
            snapshot = build_snapshot(
                org=broken["getOrg"] or {},
                sites=broken["listOrgSites"] if isinstance(broken["listOrgSites"], list) else [],
                gateway_stats=broken["listOrgDevicesStats"] or [],
                port_stats=(broken["searchOrgSwOrGwPorts"] or {}).get("results") or [],
                peer_paths=(broken["searchOrgPeerPathStats"] or {}).get("results") or [],
                port_configs=configs,
                now=1.0,
            )
            json.dumps(gateways_payload(snapshot, {}), allow_nan=False)
            json.dumps(peer_paths_all(snapshot))
        except Exception as error:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{error!r} on {json.dumps(broken)[:2000]}")


def test_duplicate_gateway_stats_are_listed_once():
    snapshot = build([stat("a3", name="first"), stat("a3", name="second")])
    assert [g["name"] for g in snapshot.gateways] == ["first"]


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


def test_ten_thousand_gateways_build_well_under_five_seconds():
    org = synthetic_org(10_000)
    started = time.process_time()  # CPU time: other test workers on the box do not count
    snapshot = build_snapshot(org={"id": "o"}, port_configs={}, now=1.0, **org)
    payload = gateways_payload(snapshot, {})
    insights_summary(snapshot, {})
    peer_paths_all(snapshot)
    seconds = time.process_time() - started
    print(f"\n10,000 gateways x 4 WAN ports x 6 peer paths: {seconds:.2f} s")
    assert payload["summary"]["circuits"] == 40_000
    assert payload["summary"]["peer_paths"] == 240_000
    assert payload["summary"]["circuits_up"] == 30_000
    assert seconds < 5.0


def test_simulated_org_matches_its_ground_truth():
    """The simulator's own model knows every circuit's truth; what circuits.py reads back
    from the rendered Mist objects (stats, port search, peer paths, config) must agree."""
    from mistsim import dynamics, generator, render

    now = 1_764_000_000.0
    org = generator.generate(
        generator.OrgOptions(sites=40, gateways=120, seed=3, edge_cases=True), now
    )
    reboots: dict[str, float] = {}

    def boot(gw: Any) -> float:
        return dynamics.boot_time(gw, dynamics.effective_time(gw, now), reboots)

    sites = [render.site_object(site, org.id) for site in org.sites]
    configs = index_port_configs(
        sites=sites,
        templates=[render.template_object(t, org.id) for t in org.templates],
        profiles=[render.config_object(p, org.id) for p in org.profiles],
        inventory=[render.inventory_item(org, g) for g in org.gateways],
        device_configs={g.id: render.device_object(org, g) for g in org.gateways},
    )
    snapshot = build_snapshot(
        org=render.org_object(org, org.id),
        sites=sites,
        gateway_stats=[render.device_stats(org, g, now, reboots, set()) for g in org.gateways],
        port_stats=[render.port_stat(org, g, p, now, boot(g)) for g, p in org.ports],
        peer_paths=[
            render.peer_stat(org, p, now, boot(p.gateway), boot(p.hub)) for p in org.peer_paths
        ],
        port_configs=configs,
        now=now,
    )
    records = {g["id"]: g for g in snapshot.gateways}
    mismatches = []
    for truth in org.gateways:
        ports = {p["port_id"]: p for p in records[truth.id]["ports"]}
        assert set(ports) == {p.port_id for p in truth.wan_ports}, truth.name
        for wan_port in truth.wan_ports:
            seen = ports[wan_port.port_id]
            expected = {
                "node": wan_port.node,
                "wan_name": wan_port.wan_name,
                "description": wan_port.description or None,
                "address_mode": wan_port.address_mode.lower() or None,
                "vlan": wan_port.vlan,
                "override": wan_port.override,
                "peers_total": sum(1 for path in truth.peer_paths if path.port is wan_port),
            }
            if not truth.sparse:  # the edge case that leaves optional fields out
                expected.update(
                    isp=wan_port.isp.name if wan_port.isp else None, wan_type=wan_port.wan_type
                )
            if wan_port.address_mode == "Static" and not truth.is_hub:  # only config knows it
                expected["gateway_ip"] = wan_port.gateway_ip
            mismatches += [
                (truth.name, wan_port.port_id, key, want, seen[key])
                for key, want in expected.items()
                if seen[key] != want
            ]
    assert mismatches == []
    assert {g.is_ha for g in org.gateways} == {True, False}
    assert {g.family for g in org.gateways} == {"srx", "ssr"}
    assert any(g.sparse for g in org.gateways)
    json.dumps(gateways_payload(snapshot, {}), allow_nan=False)


def test_an_offline_gateway_gives_the_history_no_counters():
    """Mist keeps reporting an offline gateway's last counters: charting them would draw
    0 bps where nothing is known, so its circuits carry no reading (a gap instead)."""
    port_row = {"mac": "a4", "port_id": "ge-0/0/0", "up": False, "rx_bytes": 10, "tx_bytes": 20}
    online = build(
        [stat("a4", {"ge-0/0/0.0": wan("ge-0/0/0")}, status="connected")], port_stats=[port_row]
    )
    offline = build(
        [stat("a4", {"ge-0/0/0.0": wan("ge-0/0/0")}, status="disconnected")], port_stats=[port_row]
    )
    assert (online.circuits[0].rx_bytes, online.circuits[0].tx_bytes) == (10, 20)
    assert (offline.circuits[0].rx_bytes, offline.circuits[0].tx_bytes) == (None, None)
    assert offline.gateways[0]["ports"][0]["up"] is False


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
    table = circuits.GatewayRows(sites)
    for gateway in (healthy, port_down, disabled_only):
        table.add(gateway)
    document = table.document({"generated_at": 1.0, "summary": {"gateways": 3}, "thresholds": {}})
    columns = document["columns"]
    rows = [dict(zip(columns, row, strict=True)) for row in document["rows"]]
    assert document["sites"] == [["s1", "<b>Denver</b>"], ["s2", "Oslo"]]
    assert [row["site"] for row in rows] == [0, 0, 1]
    assert rows[0]["ip"] == "198.51.100.1"
    assert [row["problem"] for row in rows] == [False, True, False]
    assert [row["ports_down"] for row in rows] == [0, 1, 0]
    assert document["summary"] == {"gateways": 3}


def test_has_problem_rule() -> None:
    healthy = {"status": "connected", "degraded": False, "peers_up": 2, "peers_total": 2}
    port_up = {"enabled": True, "up": True}
    assert not circuits.has_problem({**healthy, "ports": [port_up]})
    assert circuits.has_problem({**healthy, "status": "disconnected", "ports": []})
    assert circuits.has_problem({**healthy, "degraded": True, "ports": []})
    assert circuits.has_problem({**healthy, "peers_up": 1, "ports": []})
    assert circuits.has_problem({**healthy, "ports": [port_up, {"enabled": True, "up": False}]})
    assert not circuits.has_problem({**healthy, "ports": [{"enabled": False, "up": False}]})


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
    ],
)
def test_excel_safe_cells(value: object, cell: str) -> None:
    assert circuits.excel_safe(value) == cell


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
    rows = circuits.CircuitRows(sites).of(gateway)
    assert len(rows) == 2 and all(len(row) == len(circuits.CSV_COLUMNS) for row in rows)
    first = dict(zip(circuits.CSV_COLUMNS, rows[0], strict=True))
    assert first["site"] == '\'=HYPERLINK("http://evil")'
    assert first["description"] == "'-cmd|' /C calc'!A0"
    assert (first["port"], first["link"], first["enabled"], first["override"]) == (
        "ge-0/0/0", "up", "yes", "no",
    )  # fmt: skip
    assert (first["speed_mbps"], first["loss_pct"]) == ("1000", "0.0")
    second = dict(zip(circuits.CSV_COLUMNS, rows[1], strict=True))
    assert (second["link"], second["latency_ms"], second["wan_name"]) == ("down", "", "")
    offline = circuits.CircuitRows([]).of({**gateway, "site_id": "s9", "ports": []})
    assert len(offline) == 1 and offline[0][:3] == ["", "gw-1", "g1"] and offline[0][5] == ""


def test_draining_gives_the_payload_and_releases_the_compact_records(mist):
    """The worker encodes gateways and peer paths while releasing them (drain_*): the same
    records as gateway_records / peer_paths_all, in the same order, and nothing left after."""
    snapshot = snapshot_from(mist)
    volumes = {(DENVER_GW, "ge-0/0/0"): (123, 456)}
    expected_gateways = list(circuits.gateway_records(snapshot, volumes))
    expected_paths = peer_paths_all(snapshot)
    assert list(circuits.drain_gateway_records(snapshot, volumes)) == expected_gateways
    drained = list(circuits.drain_peer_paths(snapshot))
    assert {gateway_id: paths for (gateway_id, _mac), paths in drained} == expected_paths
    assert [key for key, _ in drained] == [(DENVER_GW, "4c96144f0a10")]
    assert snapshot.records == [] and snapshot.paths == {}


def test_compact_items_keep_only_what_the_dashboard_reads(mist):
    """gateway_stat / port_stat / peer_path: tuples, normalised once, idempotent; an item that
    is not a gateway (or names no MAC) has no compact form."""
    raw = mist["listOrgDevicesStats"][0]
    compact = circuits.gateway_stat(raw)
    assert compact is not None and compact.id == DENVER_GW
    assert circuits.gateway_stat(compact) is compact
    wan = [i for i in compact.interfaces if i.wan]
    assert wan and all(isinstance(i, circuits.InterfaceStat) for i in compact.interfaces)
    assert circuits.gateway_stat({**raw, "type": "switch"}) is None
    assert circuits.gateway_stat({"mac": None}) is None
    row = mist["searchOrgSwOrGwPorts"]["results"][0]
    port = circuits.port_stat(row)
    assert port is not None and circuits.port_stat(port) is port
    assert circuits.port_stat({**row, "mac": None}) is None
    path = circuits.peer_path({**mist["searchOrgPeerPathStats"]["results"][0], "latency": "9"})
    assert path is not None and path.latency is None  # a string is not a number
    assert list(path.as_dict()) == list(circuits.PEER_PATH_FIELDS)
    assert circuits.peer_path({"port_id": "ge-0/0/0"}) is None

"""model/snapshot.py: what an engineer sees on the dashboard, joined from raw Mist objects.

Pure functions, so no servers here: the samples are Mist-shaped bodies under
tests/data/mist_samples (see its README for their origin and licence).
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from model.items import gateway_stat
from model.port_config import index_port_configs
from model.snapshot import DEFAULT_CEILING_BPS, Circuit, build_snapshot, speed_ceiling
from tests.fixtures.snapshots import (
    DC1_SITE,
    DENVER_GW,
    DENVER_SITE,
    build,
    config,
    gateway,
    gateways_of,
    load,
    path,
    paths_of,
    payload,
    port,
    snapshot_from,
    stat,
    wan,
)
from views.payload import drain_peer_paths, summarize


@pytest.fixture
def mist() -> dict[str, Any]:
    return load("examples.json")


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
        "bytes_24h_partial": False,
        "rx_bytes_7d": None,
        "tx_bytes_7d": None,
        "bytes_7d_partial": False,
        "bytes_7d_at": None,
        "last_flapped": 1720435790.0,
        "down_since": None,
        "worst": {
            "peer": "dc1-hub-gw01",
            "peer_port": "ge-0/0/3",
            "metric": "latency",
            "score": 0.234,
            "latency": 23.4,
            "jitter": 1.8,
            "loss": 0.0,
            "mos": 4.38,
        },
        "unresolved": [],
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


def test_org_without_msp_has_no_msp_name(mist):
    org = {k: v for k, v in mist["getOrg"].items() if not k.startswith("msp")}
    assert snapshot_from(mist, org=org).org == {"id": org["id"], "name": "Example Retail Co"}


def test_reference_sites_and_org(mist):
    snapshot = snapshot_from(mist)
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
    assert list(snapshot.sites[0]) == [
        "id",
        "name",
        "country_code",
        "timezone",
        "address",
        "gateway_count",
    ]
    assert snapshot.generated_at == 1721300000.0


def test_the_gateway_record_is_its_stat_then_its_counts_in_the_documented_order(mist):
    """A Gateway holds its GatewayStat (less the interfaces, which the ports carry) and
    gives the DATA.md §3.1 record from it: the keys in the documented order."""
    snapshot = snapshot_from(mist)
    compact = snapshot.records[0]
    stat_of_denver = gateway_stat(mist["listOrgDevicesStats"][0])
    assert stat_of_denver is not None and stat_of_denver.interfaces
    assert compact.stat == stat_of_denver._replace(interfaces=())
    record = compact.as_dict()
    assert list(record) == [
        "id", "mac", "name", "site_id", "model", "version", "status", "uptime", "last_seen",
        "ip", "ext_ip", "ha", "ports_up", "ports_total", "peers_up", "peers_total",
        "degraded", "ports",
    ]  # fmt: skip
    assert (record["id"], record["mac"], record["site_id"]) == (
        DENVER_GW,
        "4c96144f0a10",
        DENVER_SITE,
    )
    assert (record["version"], record["ha"]) == (compact.stat.version, False)
    assert [list(p) for p in record["ports"]] == [
        [
            "port_id", "node", "wan_name", "description", "isp", "asn", "wan_type",
            "enabled", "up", "down", "speed", "ip", "gateway_ip", "vlan", "address_mode",
            "override", "peers_up", "peers_total", "latency", "jitter", "loss", "mos",
            "degraded", "rx_bps", "tx_bps", "rx_bytes_24h", "tx_bytes_24h",
                "bytes_24h_partial", "rx_bytes_7d", "tx_bytes_7d", "bytes_7d_partial",
                "bytes_7d_at", "last_flapped",
            "down_since", "worst", "unresolved",
        ]
    ] * 2  # fmt: skip


def test_a_gateway_without_a_mac_has_a_null_mac():
    snapshot = build([{"id": "no-mac", "if_stat": {"ge-0/0/0.0": wan("ge-0/0/0")}}])
    record = gateways_of(snapshot)[0]
    assert (record["id"], record["mac"]) == ("no-mac", None)
    assert snapshot.circuits[0].mac == ""
    assert list(snapshot.paths) == [("no-mac", "")]


def test_peer_paths_per_gateway_sorted_by_port(mist):
    snapshot = snapshot_from(mist)
    paths = paths_of(snapshot)[(DENVER_GW, "4c96144f0a10")]
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
        "vpn_name": None,
        "hop_count": None,
    }
    assert list(paths_of(snapshot)) == [(DENVER_GW, "4c96144f0a10")]


def test_circuits_carry_the_port_search_counters_for_the_history(mist):
    snapshot = snapshot_from(mist)
    assert snapshot.circuits[0] == Circuit(
        gateway_id=DENVER_GW,
        mac="4c96144f0a10",
        site_id=DENVER_SITE,
        port_id="ge-0/0/0",
        rx_bytes=918273645512,
        tx_bytes=210394857712,
        rx_bps=48211000,
        tx_bps=9120000,
        speed_bps=1e9,  # the port search's speed, in Mbit/s
    )
    assert len(snapshot.circuits) == 2
    # ge-0/0/1 is down (speed 0): held to the gateway's fastest port instead
    assert snapshot.circuits[1].speed_bps == 1e9


def test_a_port_without_a_speed_is_held_to_its_gateways_fastest_port_else_100_gbit():
    assert speed_ceiling(1000, 10000) == 1e9
    assert speed_ceiling(0, 10000) == 1e10  # a port that is down reports 0
    assert speed_ceiling(None, 2500) == 2.5e9
    assert speed_ceiling(None, 0) == speed_ceiling(0, 0) == DEFAULT_CEILING_BPS == 100e9


# --- gateways, WAN ports, joins -----------------------------------------------------------


def test_ha_cluster_lists_node1_wan_from_if2_stat():
    sample = load("ha_cluster.json")
    snapshot = build(
        sample["gateway_stats"], port_stats=sample["port_stats"], peer_paths=sample["peer_paths"]
    )
    cluster = gateways_of(snapshot)[0]
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
    assert gateways_of(snapshot)[0]["ha"] is True


def test_ssr_peer_paths_join_by_wan_name():
    sample = load("ssr.json")
    snapshot = build(
        sample["gateway_stats"], port_stats=sample["port_stats"], peer_paths=sample["peer_paths"]
    )
    ssr = gateways_of(snapshot)[0]
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
    configs = {"00000000-0000-0000-1000-bb": {"ge-0-0": config(name="Broadband")}}
    snapshot = build(
        [stat("bb", {"ge-0-0": {"port_id": "ge-0-0"}})],
        peer_paths=[{"mac": "bb", "port_id": "Broadband", "type": "svr", "up": True, "latency": 5}],
        configs=configs,
    )
    only = gateways_of(snapshot)[0]["ports"][0]
    assert (only["wan_name"], only["peers_up"], only["latency"]) == ("Broadband", 1, 5)


def test_peer_path_on_a_logical_interface_joins_its_physical_port():
    snapshot = build(
        [stat("cc", {"ge-0/0/0.0": wan("ge-0/0/0")})],
        peer_paths=[path("cc", "ge-0/0/0.0", latency=9)],
    )
    assert gateways_of(snapshot)[0]["ports"][0]["latency"] == 9


def test_peer_paths_of_unknown_gateways_are_dropped_unmatched_ones_count_for_the_gateway():
    snapshot = build(
        [stat("dd", {"ge-0/0/0.0": wan("ge-0/0/0")})],
        peer_paths=[path("dd", "ge-0/0/9"), path("ee", "ge-0/0/0"), {"port_id": "x"}],
    )
    record = gateways_of(snapshot)[0]
    assert (record["peers_total"], record["ports"][0]["peers_total"]) == (1, 0)
    assert list(paths_of(snapshot)) == [("00000000-0000-0000-1000-dd", "dd")]
    assert summarize(snapshot.records)["peer_paths"] == 1


def test_wan_by_config_when_if_stat_says_otherwise_or_nothing():
    gateway_id = "00000000-0000-0000-1000-ab"
    configs = {
        gateway_id: {
            "ge-0/0/1": config(name="cfg-wan", description="Ckt 1", override=True, source="device"),
            "ge-0/0/2": config(name="offline-wan", vlan=30, address_mode="static"),
            "ge-0/0/3": config(name="phantom"),  # configured but not on this box
            "ge-0/0/4": config(usage="lan"),
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
    ports = {p["port_id"]: p for p in gateways_of(snapshot)[0]["ports"]}
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
    modes = [(p["address_mode"], p["vlan"]) for p in gateways_of(snapshot)[0]["ports"]]
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
    record = gateways_of(snapshot)[0]
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
    assert paths_of(snapshot) == {("00000000-0000-0000-1000-a1", "a1"): []}
    summary = summarize(snapshot.records)
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
    record = gateways_of(snapshot)[0]
    assert record["name"] == hostile
    assert record["ports"][0]["wan_name"] == hostile and record["ports"][0]["isp"] == hostile
    assert paths_of(snapshot)[(record["id"], "a2")][0]["peer_router_name"] == hostile
    assert snapshot.sites[0]["name"] == hostile
    text = json.dumps(payload(snapshot), ensure_ascii=False)
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
    names = [g["name"] for g in gateways_of(build(stats, sites=sites))]
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
    ids = [g["id"] for g in gateways_of(snapshot)]
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
    json.dumps(payload(snapshot), allow_nan=False)


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
            json.dumps(list(drain_peer_paths(snapshot)), allow_nan=False)
            json.dumps(payload(snapshot), allow_nan=False)
        except Exception as error:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{error!r} on {json.dumps(broken)[:2000]}")


def test_duplicate_gateway_stats_are_listed_once():
    snapshot = build([stat("a3", name="first"), stat("a3", name="second")])
    assert [g["name"] for g in gateways_of(snapshot)] == ["first"]


def test_simulated_org_matches_its_ground_truth():
    """The simulator's own model knows every circuit's truth; what py reads back
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
    records = {g["id"]: g for g in gateways_of(snapshot)}
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
    json.dumps(payload(snapshot), allow_nan=False)


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
    assert gateways_of(offline)[0]["ports"][0]["up"] is False


def test_hostile_numbers_and_sizes_never_fail_the_snapshot():
    """A peer latency of 10**4000, two latencies of 1e308 (whose average is infinity),
    counters of 1e308 and 10**400 and a 10 MB name: the snapshot builds and encodes as
    standard JSON, quality capped to its physical range, names cut to 256 characters."""
    name = "N" * 10_000_000
    snapshot = build(
        [
            stat("a1", {"ge-0/0/0.0": wan("ge-0/0/0")}, name=name),
            stat("a2", {"ge-0/0/0.0": wan("ge-0/0/0")}, name=float("nan")),
        ],
        port_stats=[
            {"mac": "a1", "port_id": "ge-0/0/0", "rx_bytes": 1e308, "tx_bytes": 10**400},
        ],
        peer_paths=[
            path("a1", "ge-0/0/0", latency=1e308, jitter=10**4000, mos=float("nan")),
            path("a1", "ge-0/0/0", latency=1e308, loss=float("inf")),
            path("a2", "ge-0/0/0", latency=10**4000),
        ],
        sites=[{"id": "s", "name": name, "address": float("-inf")}],
    )
    assert [c.rx_bytes for c in snapshot.circuits] == [None, None]
    assert [c.tx_bytes for c in snapshot.circuits] == [None, None]
    assert snapshot.sites[0]["name"] == "N" * 256 and snapshot.sites[0]["address"] is None
    document = payload(snapshot)
    json.dumps(document, allow_nan=False)
    first, second = sorted(document["gateways"], key=lambda g: g["mac"])
    assert first["name"] == "N" * 256 and second["name"] is None
    assert (first["ports"][0]["latency"], first["ports"][0]["jitter"]) == (60_000, 60_000)
    assert (first["ports"][0]["loss"], first["ports"][0]["mos"]) == (None, None)  # no number
    assert second["ports"][0]["latency"] == 60_000


def test_a_gateway_that_cannot_be_built_is_dropped_and_logged(caplog):
    bad_config: Any = object()  # no `usage`: reading it raises inside the build
    snapshot_configs = {"00000000-0000-0000-1000-b1": {"ge-0/0/0": bad_config}}
    with caplog.at_level("WARNING", logger="model"):
        snapshot = build(
            [stat("a1", {"ge-0/0/0.0": wan("ge-0/0/0")}), stat("b1", {"ge-0/0/0.0": {}})],
            configs=snapshot_configs,
        )
    assert [g["id"] for g in gateways_of(snapshot)] == ["00000000-0000-0000-1000-a1"]
    assert [c.gateway_id for c in snapshot.circuits] == ["00000000-0000-0000-1000-a1"]
    assert "dropped gateway 00000000-0000-0000-1000-b1" in caplog.text


def test_a_template_variable_not_known_yet_is_sent_as_null_and_named_never_raw():
    gateway_id = "00000000-0000-0000-1000-ab"
    configs = {
        gateway_id: {
            "ge-0/0/0": config(
                name="{{ISP_A}}",
                description="{{ISP_A_NAME}} circuit {{ISP_A_CKT}}",
                gateway_ip="{{ISP_A_GW}}",
            ),
            "ge-0/0/1": config(name="wan_b", description="Fiber 12", gateway_ip="10.0.0.1"),
        }
    }
    if_stat = {"ge-0/0/0.0": wan("ge-0/0/0"), "ge-0/0/1.0": wan("ge-0/0/1")}
    record = gateways_of(build([stat("ab", if_stat)], configs=configs))[0]
    raw, known = (port(record, "ge-0/0/0"), port(record, "ge-0/0/1"))
    assert (raw["wan_name"], raw["description"], raw["gateway_ip"]) == (None, None, None)
    assert raw["unresolved"] == ["wan_name", "description", "gateway_ip"]
    assert (known["description"], known["gateway_ip"], known["unresolved"]) == (
        "Fiber 12",
        "10.0.0.1",
        [],
    )
    assert "{{" not in repr(record)

"""The synthetic org's realism, in-process (no sockets): determinism, shapes the worker's
circuit code relies on, counters that agree with rates and time series, reboots, drift,
down and flapping circuits, and the edge-case org."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from werkzeug.test import Client

from mistsim import dynamics
from mistsim.api import MistApi
from mistsim.generator import OrgOptions, generate
from mistsim.runtime import Runtime

NOW = 1_764_190_000.0
TOKEN = {"Authorization": "Token t"}


class Sim:
    """An in-process simulator with a controllable clock."""

    def __init__(self, keyed: bool = True, **options: Any) -> None:
        self.org = generate(OrgOptions(**options), NOW)
        self.runtime = Runtime(["t"], 10**9, None)
        self.runtime.clock_offset = NOW - time.time()
        self.api = MistApi(self.org, self.runtime, insights_keyed=keyed)
        self.client = Client(self.api)

    def get(self, path: str, status: int = 200, **params: Any) -> Any:
        path = path.replace("{org_id}", self.org.id)
        response = self.client.get(path, query_string=params, headers=TOKEN)
        assert response.status_code == status, response.get_data(as_text=True)
        return json.loads(response.get_data())

    def walk(self, path: str, **params: Any) -> list[Any]:
        """All results of a search, following `next`."""
        body = self.get(path, **params)
        results = list(body["results"])
        while body.get("next"):
            response = self.client.get(body["next"], headers=TOKEN)
            body = json.loads(response.get_data())
            results += body["results"]
        return results

    def set_now(self, t: float) -> None:
        self.runtime.clock_offset = t - time.time()


@pytest.fixture(scope="module")
def sim() -> Sim:
    return Sim(sites=60, gateways=200)


def test_same_seed_same_org_and_another_seed_another() -> None:
    first, second = generate(OrgOptions(seed=7), NOW), generate(OrgOptions(seed=7), NOW)
    assert [g.mac for g in first.gateways] == [g.mac for g in second.gateways]
    assert [s.id for s in first.sites] == [s.id for s in second.sites]
    assert first.id == second.id
    other = generate(OrgOptions(seed=8), NOW)
    assert other.id != first.id and other.gateways[0].mac != first.gateways[0].mac


def test_gateways_look_like_mist_gateways(sim: Sim) -> None:
    gateways = sim.get("/api/v1/orgs/{org_id}/stats/devices", type="gateway", limit=1000)
    assert len(gateways) == 200
    for gateway in gateways:
        assert gateway["id"] == f"00000000-0000-0000-1000-{gateway['mac']}"
        assert re.fullmatch(r"[0-9a-f]{12}", gateway["mac"])
        assert "ports" not in gateway and "vpn_peers" not in gateway
    models = {g["model"] for g in gateways}
    assert any(m.startswith("SRX") for m in models) and any(m.startswith("SSR") for m in models)
    wan = [e for g in gateways for e in g["if_stat"].values() if e["port_usage"] == "wan"]
    assert {e["wan_type"] for e in wan} == {"broadband", "dsl", "lte"}
    assert {e["address_mode"] for e in wan} == {"DHCP", "Static", "PPPoE"}
    assert any(e["vlan"] == 100 for e in wan)
    vlan_keys = [k for g in gateways for k in g["if_stat"] if k.endswith(".100")]
    assert vlan_keys and all(k.startswith("ge-0/0/1") for k in vlan_keys)
    assert all(e["ips"] and "/" in e["ips"][0] and e["servp_info"]["org"] for e in wan)
    assert any(e["ips"][0].startswith("192.168.") for e in wan)  # DHCP behind an ISP CPE
    for gateway in gateways:  # at most one WAN logical interface per physical port
        ports = [e["port_id"] for e in gateway["if_stat"].values() if e["port_usage"] == "wan"]
        assert len(ports) == len(set(ports))
    for gateway in (g for g in gateways if "-br-" in g["name"]):
        interfaces = [*gateway["if_stat"].values(), *gateway.get("if2_stat", {}).values()]
        assert 2 <= sum(e["port_usage"] == "wan" for e in interfaces) <= 4
    assert any(g["status"] == "disconnected" for g in gateways)


def test_ha_clusters_report_node1_ports_everywhere(sim: Sim) -> None:
    gateways = sim.get("/api/v1/orgs/{org_id}/stats/devices", type="gateway", limit=1000)
    clusters = [g for g in gateways if g["is_ha"]]
    assert clusters
    ports = sim.walk("/api/v1/orgs/{org_id}/stats/ports/search", device_type="gateway", limit=1000)
    for cluster in clusters:
        node1 = {e["port_id"] for e in cluster["if2_stat"].values()}
        assert node1 and all(p.startswith("ge-5/0/") for p in node1)
        searched = {p["port_id"] for p in ports if p["mac"] == cluster["mac"]}
        assert node1 <= searched


def test_fields_adds_ports_and_peer_paths_only_when_asked(sim: Sim) -> None:
    plain = sim.get("/api/v1/orgs/{org_id}/stats/devices", type="gateway", limit=5)
    full = sim.get(
        "/api/v1/orgs/{org_id}/stats/devices", type="gateway", limit=5, fields="ports,vpn_peers"
    )
    assert all("ports" not in g for g in plain)
    assert all("ports" in g and "vpn_peers" in g for g in full)
    assert sim.get("/api/v1/orgs/{org_id}/stats/devices") == []  # type defaults to ap
    assert sim.get("/api/v1/orgs/{org_id}/inventory") == []  # so does inventory's


def test_counters_grow_with_the_reported_rates(sim: Sim) -> None:
    gateway = next(g for g in sim.org.gateways if g.connected and not g.is_hub)
    port = next(p for p in gateway.wan_ports if p.link == "up")
    boot = dynamics.boot_time(gateway, NOW, {})
    t1, t2 = NOW + 600, NOW + 660
    rx1 = dynamics.port_counters(port, t1, boot)[0]
    rx2 = dynamics.port_counters(port, t2, boot)[0]
    rx_bps, _ = dynamics.current_bps(port, t2)
    assert abs((rx2 - rx1) * 8 / 60 - rx_bps) <= 1 + rx_bps * 1e-9
    assert rx2 > rx1 > 0
    # the same through the API, across a simulated 5 minutes
    sim.set_now(NOW)
    before = sim.get("/api/v1/orgs/{org_id}/stats/ports/search", mac=gateway.mac)["results"]
    sim.set_now(NOW + 300)
    after = sim.get("/api/v1/orgs/{org_id}/stats/ports/search", mac=gateway.mac)["results"]
    sim.set_now(NOW)
    by_id = {p.port_id: p for p in gateway.ports}
    for t, results in ((NOW, before), (NOW + 300, after)):
        assert results and {r["port_id"] for r in results} <= set(by_id)
        for served in results:  # the request's clock runs a little past t: allow 2 s
            port_at = by_id[served["port_id"]]
            assert served["up"] is dynamics.link_up(port_at, t), served
            low, high = (
                dynamics.port_counters(port_at, at, dynamics.boot_time(gateway, at, {}))
                for at in (t, t + 2)
            )
            counted = (served[k] for k in ("rx_bytes", "tx_bytes", "rx_pkts", "tx_pkts"))
            assert all(a <= v <= b for a, v, b in zip(low, counted, high, strict=True)), served
    stayed_up = [(o, n) for o, n in zip(before, after, strict=True) if o["up"] and n["up"]]
    assert port.port_id in {n["port_id"] for _, n in stayed_up}, "an up link stays up"
    for old, new in stayed_up:
        assert new["rx_bytes"] > old["rx_bytes"] and new["tx_pkts"] >= old["tx_pkts"]


def test_time_series_agree_with_counters_and_honour_retention(sim: Sim) -> None:
    gateway = next(g for g in sim.org.gateways if g.connected and not g.is_hub)
    port = next(p for p in gateway.wan_ports if p.link == "up")
    path = f"/api/v1/sites/{gateway.site_id}/insights/gateway/{gateway.id}/stats"
    start = int(NOW // 3600) * 3600 - 7200
    body = sim.get(
        path, metrics="rx_bps", port_id=port.port_id, interval="10m", start=start, end=start + 3600
    )
    assert body["interval"] == 600 and len(body["results"]) == 6
    assert body["rt"][0] == time.strftime("%Y-%m-%d %H:%M:%S+00:00", time.gmtime(start))
    bits = sum(value * 600 for value in body["results"])
    counted = dynamics.bits_between(port, start, start + 3600, rx=True)
    assert abs(bits - counted) / counted < 1e-6
    week = sim.get(path, metrics="rx_bps", interval="10m", duration="7d", limit=1000)
    assert week["start"] >= NOW - 86400 - 1 and len(week["results"]) <= 145
    month = sim.get(path, metrics="rx_bps", interval="1h", duration="30d", limit=1000)
    assert month["start"] >= NOW - 14 * 86400 - 1 and len(month["results"]) <= 14 * 24 + 1
    paged = sim.get(path, metrics="rx_bps", interval="1h", duration="7d", limit=100, page=2)
    assert paged["page"] == 2 and len(paged["results"]) in (68, 69)  # 7 d + partial bucket
    keyed = sim.get(path, metrics="rx_bps,tx_bps", port_id=port.port_id, duration="1d")
    assert (
        len(keyed["rx_bps"]) == len(keyed["tx_bps"]) == len(keyed["rt"]) and "results" not in keyed
    )


def test_results_only_insights_refuse_several_metrics() -> None:
    sim = Sim(keyed=False, sites=5, gateways=6)
    gateway = sim.org.gateways[3]
    path = f"/api/v1/sites/{gateway.site_id}/insights/gateway/{gateway.id}/stats"
    refused = sim.get(path, status=400, metrics="rx_bps,tx_bps")
    assert "one metric" in refused["detail"]
    assert "results" in sim.get(path, metrics="tx_bps")
    assert "detail" in sim.get(path, status=400, metrics="bogus")
    assert "detail" in sim.get(path, status=400, metrics="rx_bps", interval="5m")


def test_gateways_reboot_on_their_own_and_counters_restart(sim: Sim) -> None:
    gateway = next(g for g in sim.org.gateways if g.connected)
    port = gateway.ports[0]
    boot = dynamics.boot_time(gateway, NOW, {})
    next_boot = boot + gateway.reboot_period
    assert dynamics.boot_time(gateway, next_boot + 5, {}) == pytest.approx(next_boot)
    before = dynamics.port_counters(port, next_boot - 1, boot)[0]
    after = dynamics.port_counters(port, next_boot + 120, next_boot)[0]
    assert after < before
    assert dynamics.last_flapped(port, next_boot + 120, next_boot) >= next_boot


def test_peer_paths_follow_their_ports_and_drift(sim: Sim) -> None:
    paths = sim.walk("/api/v1/orgs/{org_id}/stats/vpn_peers/search", limit=1000)
    assert len(paths) == len(sim.org.peer_paths)
    assert {p["type"] for p in paths} == {"ipsec", "svr"}
    wan_names = {p.wan_name for _, p in sim.org.ports if p.usage == "wan"}
    for path in paths:
        if path["type"] == "svr":
            assert path["port_id"] in wan_names
        else:
            assert path["port_id"].startswith("ge-")
        if not path["up"]:
            assert path["loss"] == 100 and path["mos"] == 0
    down = [p for p in sim.org.peer_paths if p.port.link == "down" and p.gateway.connected]
    assert down
    rendered = {(p["mac"], p["port_id"], p["peer_mac"], p["peer_port_id"]): p for p in paths}
    for path in down:
        key = (path.gateway.mac, path.port_label, path.hub.mac, path.peer_port_label)
        assert rendered[key]["up"] is False
    up = next(p for p in sim.org.peer_paths if p.port.link == "up" and p.gateway.connected)
    samples = {dynamics.path_quality(up, NOW + 600 * n)[0] for n in range(12)}
    assert len(samples) > 6  # latency drifts over two hours
    degraded = [p for p in paths if p["up"] and (p["latency"] >= 100 or p["loss"] >= 0.5)]
    assert degraded


def test_flapping_circuits_go_down_and_come_back() -> None:
    org = generate(OrgOptions(sites=100, gateways=400), NOW)
    port = next(p for _, p in org.ports if p.link == "flap")
    states = [dynamics.link_up(port, NOW + 30 * n) for n in range(240)]
    assert True in states and False in states
    t = NOW + 1234
    assert dynamics.last_flapped(port, t, NOW - 86400) <= t


def test_search_cursor_returns_each_filtered_item_once(sim: Sim) -> None:
    macs = ",".join(g.mac for g in sim.org.gateways[10:30])
    everything = sim.walk(
        "/api/v1/orgs/{org_id}/stats/ports/search", mac=macs, type="gateway", limit=1000
    )
    paged = sim.walk("/api/v1/orgs/{org_id}/stats/ports/search", mac=macs, type="gateway", limit=3)
    assert [(p["mac"], p["port_id"]) for p in paged] == [
        (p["mac"], p["port_id"]) for p in everything
    ]
    down = sim.walk("/api/v1/orgs/{org_id}/stats/ports/search", up="False", limit=7)
    assert down and all(p["up"] is False for p in down)
    body = sim.get("/api/v1/orgs/{org_id}/stats/ports/search", limit=2)
    assert body["next"].startswith("/api/v1/orgs/") and "search_after=" in body["next"]
    last = sim.get("/api/v1/orgs/{org_id}/stats/ports/search", mac=sim.org.gateways[5].mac)
    assert "next" not in last
    assert sim.get("/api/v1/orgs/{org_id}/stats/ports/search", status=400, search_after="junk")
    capped = sim.client.get(
        f"/api/v1/orgs/{sim.org.id}/sites", query_string={"limit": 5000}, headers=TOKEN
    )
    assert capped.headers["X-Page-Limit"] == "1000"


def test_templates_profiles_and_devices_carry_port_config(sim: Sim) -> None:
    templates = sim.get("/api/v1/orgs/{org_id}/gatewaytemplates")
    keys = {k for t in templates for k in t["port_config"]}
    assert "ge-0/0/4-5" in keys and "ge-0/0/6,ge-0/0/7" in keys
    wan = [e for t in templates for e in t["port_config"].values() if e["usage"] == "wan"]
    assert {e["ip_config"]["type"] for e in wan} == {"dhcp", "static", "pppoe"}
    assert any(e.get("vlan_id") == 100 for e in wan)
    sites = sim.get("/api/v1/orgs/{org_id}/sites", limit=1000)
    assert {s["gatewaytemplate_id"] for s in sites[1:]} <= {t["id"] for t in templates}
    profiles = sim.get("/api/v1/orgs/{org_id}/deviceprofiles", type="gateway")
    assert profiles and all(p["type"] == "gateway" for p in profiles)
    overriding = [g for g in sim.org.gateways if any(p.override for p in g.wan_ports)]
    assert overriding
    gateway = overriding[0]
    device = sim.get(f"/api/v1/sites/{gateway.site_id}/devices/{gateway.id}")
    overridden = {p.port_id for p in gateway.wan_ports if p.override}
    assert overridden <= set(device["port_config"]) and device["vars"]


def test_edge_case_org_has_hostile_names_and_missing_pieces() -> None:
    sim = Sim(sites=12, gateways=30, edge_cases=True)
    sites = sim.get("/api/v1/orgs/{org_id}/sites")
    names = [s["name"] for s in sites]
    assert "<img src=x onerror=alert(1)>" in names
    assert "<script>window.__pwned=1</script>" in names
    assert any(len(n) == 200 for n in names)
    assert any(re.search("[\u0590-\u06ff]", n) for n in names)  # right-to-left
    assert any(re.search("[\u3040-\u30ff\u4e00-\u9fff]", n) for n in names)  # Japanese
    assert any(re.search("[\U0001f300-\U0001faff]", n) for n in names)  # emoji
    assert any(not s.gateways for s in sim.org.sites)
    gateways = sim.get("/api/v1/orgs/{org_id}/stats/devices", type="gateway", limit=1000)
    assert any(not [e for e in g["if_stat"].values() if e["port_usage"] == "wan"] for g in gateways)
    assert any("uptime" not in g for g in gateways)
    assert any("<script>" in g["name"] for g in gateways)


def test_fast_device_json_equals_the_plain_rendering() -> None:
    """The pre-encoded stats/devices path must say exactly what render.device_stats says."""
    from mistsim import render
    from mistsim.fastjson import DeviceStatsJson

    org = generate(OrgOptions(sites=100, gateways=400, edge_cases=True), NOW)
    fast = DeviceStatsJson(org)
    reboots = {org.gateways[4].mac: NOW - 30}
    checked = 0
    for t in (NOW, NOW + 4000):
        for gateway in org.gateways:
            if not fast.supports(gateway, set()):
                continue
            slow = render.device_stats(org, gateway, t, reboots, set())
            assert json.loads(fast.encode(gateway, t, reboots)) == slow, gateway.name
            checked += 1
    assert checked > 700
    assert any(g.is_ha for g in org.gateways) and any(not g.connected for g in org.gateways)


def test_even_the_default_test_org_shows_every_state() -> None:
    """The 20-gateway org other tests use always has a down, a flapping and a degraded
    circuit and an offline gateway."""
    sim = Sim(sites=10, gateways=20)
    gateways = sim.get("/api/v1/orgs/{org_id}/stats/devices", type="gateway")
    assert any(g["status"] == "disconnected" for g in gateways)
    links = {p.link for g in sim.org.gateways for p in g.wan_ports}
    assert {"up", "down", "flap"} <= links
    paths = sim.walk("/api/v1/orgs/{org_id}/stats/vpn_peers/search")
    assert any(not p["up"] for p in paths)
    assert any(p["up"] and (p["latency"] >= 100 or p["jitter"] >= 30) for p in paths)


def test_port_counts_agree_with_the_port_search(sim: Sim) -> None:
    ports = sim.walk("/api/v1/orgs/{org_id}/stats/ports/search", limit=1000)
    by_up = sim.get("/api/v1/orgs/{org_id}/stats/ports/count", distinct="up")
    counted = {bucket["up"]: bucket["count"] for bucket in by_up["results"]}
    assert counted == {
        "true": sum(p["up"] for p in ports),
        "false": sum(not p["up"] for p in ports),
    }
    site_id = sim.org.sites[1].id
    site = sim.get(f"/api/v1/sites/{site_id}/stats/ports/count", distinct="mac")
    assert sum(b["count"] for b in site["results"]) == sum(p["site_id"] == site_id for p in ports)
    assert "detail" in sim.get("/api/v1/orgs/{org_id}/stats/ports/count", 400, distinct="nope")


def test_fast_port_json_equals_the_plain_rendering() -> None:
    from mistsim import render
    from mistsim.fastjson import PortStatsJson

    org = generate(OrgOptions(sites=100, gateways=400, edge_cases=True), NOW)
    fast = PortStatsJson(org)
    reboots = {org.gateways[4].mac: NOW - 30}
    for t in (NOW, NOW + 4000):
        for gateway, port in org.ports:
            if gateway.sparse:
                continue
            boot = dynamics.boot_time(gateway, dynamics.effective_time(gateway, t), reboots)
            slow = render.port_stat(org, gateway, port, t, boot)
            assert json.loads(fast.encode(gateway, port, t, boot)) == slow, (gateway.name, port)
    sim = Sim(sites=20, gateways=40, edge_cases=True)  # spliced pages parse and page as before
    ports = sim.walk("/api/v1/orgs/{org_id}/stats/ports/search", limit=7)
    assert len(ports) == len(sim.org.ports)
    assert any("rx_bps" not in p for p in ports) and any("rx_bps" in p for p in ports)

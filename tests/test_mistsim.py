"""mistsim through the real `mistapi` SDK: every endpoint, both pagination styles, the whole
org back exactly once — what the worker will rely on."""

from __future__ import annotations

from typing import Any

import mistapi
from mistapi.api.v1.msps import orgs as msp_orgs
from mistapi.api.v1.orgs import deviceprofiles, gatewaytemplates, inventory, orgs, sites, stats
from mistapi.api.v1.self import self as self_api
from mistapi.api.v1.self import usage
from mistapi.api.v1.sites import devices
from mistapi.api.v1.sites import insights as site_insights
from mistapi.api.v1.sites import stats as site_stats

from tests.fixtures.mistsim_server import MistSim, sdk_session


def _walk(session: Any, first: Any) -> list[dict[str, Any]]:
    assert first.status_code == 200, first.data
    return list(mistapi.get_all(session, first))


def test_sdk_walks_every_list_endpoint_and_gets_the_org_exactly_once(mistsim_factory) -> None:
    sim: MistSim = mistsim_factory(gateways=30, sites=12, peer_paths=6)
    session = sdk_session(sim)
    summary = sim.org_summary()
    org_id = sim.org_id

    me = self_api.getSelf(session)
    assert me.status_code == 200
    assert [p["org_id"] for p in me.data["privileges"] if p["scope"] == "org"] == [org_id]
    assert orgs.getOrg(session, org_id).data["id"] == org_id

    all_sites = _walk(session, sites.listOrgSites(session, org_id, limit=5))
    assert len(all_sites) == summary["sites"] == 12
    assert len({s["id"] for s in all_sites}) == 12

    gateways = _walk(session, stats.listOrgDevicesStats(session, org_id, type="gateway", limit=7))
    assert sorted(g["id"] for g in gateways) == sorted(summary["gateway_ids"])
    assert all("ports" not in g and "vpn_peers" not in g for g in gateways)
    assert all("if_stat" in g for g in gateways)

    ports = _walk(
        session, stats.searchOrgSwOrGwPorts(session, org_id, device_type="gateway", limit=9)
    )
    keys = [(p["mac"], p["port_id"]) for p in ports]
    assert len(keys) == len(set(keys)) == summary["ports"]
    assert sum(1 for p in ports if p["port_usage"] == "wan") == summary["wan_ports"]

    peers = _walk(session, stats.searchOrgPeerPathStats(session, org_id, limit=11))
    peer_keys = [(p["mac"], p["port_id"], p["peer_mac"], p["peer_port_id"]) for p in peers]
    assert len(peer_keys) == len(set(peer_keys)) == summary["peer_paths"]

    count = stats.countOrgPeerPathStats(session, org_id, distinct="mac")
    assert count.status_code == 200
    assert sum(bucket["count"] for bucket in count.data["results"]) == summary["peer_paths"]

    items = _walk(session, inventory.getOrgInventory(session, org_id, type="gateway", limit=8))
    assert sorted(i["id"] for i in items) == sorted(summary["gateway_ids"])

    templates = _walk(session, gatewaytemplates.listOrgGatewayTemplates(session, org_id, limit=3))
    assert templates and all("port_config" in t for t in templates)
    one = gatewaytemplates.getOrgGatewayTemplate(session, org_id, templates[0]["id"])
    assert one.data == templates[0]

    profiles = _walk(
        session, deviceprofiles.listOrgDeviceProfiles(session, org_id, type="gateway", limit=1)
    )
    assert profiles and all(p["type"] == "gateway" and "port_config" in p for p in profiles)
    profile = deviceprofiles.getOrgDeviceProfile(session, org_id, profiles[0]["id"])
    assert profile.data == profiles[0]

    gateway = next(g for g in gateways if g["if_stat"])
    device = devices.getSiteDevice(session, gateway["site_id"], gateway["id"])
    assert device.status_code == 200 and device.data["mac"] == gateway["mac"]
    assert "port_config" in device.data and "vars" in device.data

    site_id = gateway["site_id"]
    site_ports = _walk(
        session,
        site_stats.searchSiteSwOrGwPorts(session, site_id, device_type="gateway", limit=2),
    )
    assert {p["site_id"] for p in site_ports} == {site_id}
    assert len(site_ports) == sum(1 for p in ports if p["site_id"] == site_id)

    series = site_insights.getSiteInsightMetricsForGateway(
        session, site_id, gateway["id"], metrics="rx_bps", interval="1h", duration="1d"
    )
    assert series.status_code == 200 and len(series.data["results"]) == len(series.data["rt"])

    used = usage.getSelfApiUsage(session)
    assert used.status_code == 200 and used.data["requests"] == sim.calls()["total"]


def test_one_tls_connection_serves_many_calls(mistsim: MistSim) -> None:
    """Keep-alive: a worker reuses its connection instead of a TLS handshake per call."""
    import http.client
    import ssl

    context = ssl.create_default_context(cafile=mistsim.ca_path)
    host, port = mistsim.host.rsplit(":", 1)
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
    headers = {"Authorization": f"Token {mistsim.tokens[0]}"}
    sockets = set()
    for path in ("/api/v1/self", f"/api/v1/orgs/{mistsim.org_id}", "/api/v1/self/usage"):
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Connection") != "close"
        response.read()
        sockets.add(id(connection.sock))
    assert len(sockets) == 1
    connection.close()


def test_concurrent_page_fetches_get_every_gateway_once(mistsim: MistSim) -> None:
    """The worker fetches page 1, then the remaining pages concurrently (docs/DATA.md §1)."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    path = f"{mistsim.url}/api/v1/orgs/{mistsim.org_id}/stats/devices"
    first = mistsim.get(path[len(mistsim.url) :], type="gateway", limit=3)
    pages = -(-int(first.headers["X-Page-Total"]) // 3)

    def fetch(page: int) -> list[str]:
        with requests.Session() as http:
            http.trust_env = False
            http.verify = mistsim.ca_path
            response = http.get(
                path,
                params={"type": "gateway", "limit": "3", "page": str(page)},
                headers={"Authorization": f"Token {mistsim.tokens[0]}"},
                timeout=30,
            )
            assert response.status_code == 200
            return [gateway["id"] for gateway in response.json()]

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = [gateway_id for chunk in pool.map(fetch, range(2, pages + 1)) for gateway_id in chunk]
    ids += [gateway["id"] for gateway in first.json()]
    assert sorted(ids) == sorted(mistsim.org_summary()["gateway_ids"])


def test_msp_tokens_see_the_msp_list_its_orgs_and_read_them(mistsim_factory) -> None:
    """An MSP-scoped token: /self names the MSP, `listMspOrgs` pages like every bare array."""
    sim: MistSim = mistsim_factory(orgs=3, msp_tokens=["msp-token"])
    session = sdk_session(sim, ["msp-token"])
    org_ids = sim.org_summary()["org_ids"]

    privileges = self_api.getSelf(session).data["privileges"]
    assert [(p["scope"], p["msp_id"], p["name"]) for p in privileges] == [
        ("msp", sim.msp_id, "Example MSP")
    ]
    listed = msp_orgs.listMspOrgs(session, sim.msp_id)  # the SDK sends no limit: 100 a page
    assert listed.status_code == 200 and [o["id"] for o in listed.data] == org_ids
    assert {o["msp_id"] for o in listed.data} == {sim.msp_id}
    first = session.mist_get(f"/api/v1/msps/{sim.msp_id}/orgs", query={"limit": "2"})
    assert (first.headers["X-Page-Total"], first.headers["X-Page-Page"]) == ("3", "1")
    assert [o["id"] for o in _walk(session, first)] == org_ids  # the SDK follows the headers

    assert orgs.getOrg(session, sim.org_id).data["id"] == sim.org_id
    assert len(_walk(session, sites.listOrgSites(session, sim.org_id, limit=4))) == 10

    other_msp = "11111111-2222-4333-8444-555555555555"
    assert msp_orgs.listMspOrgs(session, other_msp).status_code == 403
    org_session = sdk_session(sim)  # an org token sees orgs, not the MSP
    assert {p["scope"] for p in self_api.getSelf(org_session).data["privileges"]} == {"org"}
    assert msp_orgs.listMspOrgs(org_session, sim.msp_id).status_code == 403

    sim.set_faults(forbidden=True, paths="/msps/")  # a restricted MSP admin
    refused = msp_orgs.listMspOrgs(session, sim.msp_id)
    assert refused.status_code == 403 and "permission" in refused.data["detail"]
    assert orgs.getOrg(session, sim.org_id).status_code == 200  # only the matching paths
    sim.clear_faults()
    assert msp_orgs.listMspOrgs(session, sim.msp_id).status_code == 200


def test_the_simulator_takes_its_tokens_from_the_environment(monkeypatch) -> None:
    """`make demo` hands the token over in MISTSIM_TOKENS: argv shows in `ps`."""
    from mistsim.cli import parser

    monkeypatch.setenv("MISTSIM_TOKENS", "env-token-1,env-token-2")
    assert parser().parse_args([]).tokens == "env-token-1,env-token-2"
    assert parser().parse_args(["--tokens", "argv-token"]).tokens == "argv-token"
    monkeypatch.delenv("MISTSIM_TOKENS")
    assert parser().parse_args([]).tokens == "sim-token"

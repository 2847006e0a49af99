"""mistsim `--orgs N --spread-orgs`: one MSP whose gateways are spread over N orgs (long
tailed, deterministic), MSP org stats in the spec's shape, per-org faults, orgs leaving."""

from __future__ import annotations

import pytest

from mistsim.msp import org_sizes
from tests.fixtures.mistsim_server import json_of
from tests.test_mistsim_schema import _all_pages, _validate


@pytest.mark.parametrize(("gateways", "orgs"), [(10_000, 200), (120, 12), (5, 8), (20, 1)])
def test_org_sizes_are_long_tailed_and_add_up(gateways, orgs):
    sizes = org_sizes(gateways, orgs)
    assert len(sizes) == orgs and sum(sizes) == gateways
    assert sizes == sorted(sizes, reverse=True)
    assert sizes == org_sizes(gateways, orgs)  # deterministic
    if gateways >= orgs:
        assert min(sizes) >= 1
    if orgs >= 100:
        assert sizes[0] > 10 * sizes[orgs // 2]  # a few big orgs, many small ones
        assert sum(sizes[: orgs // 10]) > gateways / 2


def test_every_org_of_the_msp_is_a_network_of_its_own(mistsim_factory):
    sim = mistsim_factory(gateways=60, sites=12, orgs=5, spread_orgs=True, msp_tokens=["msp"])
    listed = sim.admin("GET", "orgs")["orgs"]
    assert [org["gateways"] for org in listed] == org_sizes(60, 5)
    seen_ids: set[str] = set()
    for org in listed:
        path = f"/api/v1/orgs/{org['org_id']}"
        assert json_of(sim.get(path, token="msp"))["name"] == org["name"]
        gateways = json_of(
            sim.get(f"{path}/stats/devices", token="msp", type="gateway", limit=1000)
        )
        assert len(gateways) == org["gateways"]
        assert {g["org_id"] for g in gateways} == {org["org_id"]}
        ids = {g["id"] for g in gateways}
        assert not ids & seen_ids  # gateway ids are unique across the MSP
        seen_ids |= ids
        site = gateways[0]["site_id"]
        device = json_of(sim.get(f"/api/v1/sites/{site}/devices/{gateways[0]['id']}", token="msp"))
        assert device["id"] == gateways[0]["id"]


def test_msp_org_stats_match_the_spec_and_count_each_org(mistsim_factory):
    sim = mistsim_factory(gateways=40, sites=10, orgs=4, spread_orgs=True, msp_tokens=["msp"])
    sim.tokens = ["msp"]  # _all_pages asks with the first token
    path = f"/api/v1/msps/{sim.msp_id}/stats/orgs"
    pages = _all_pages(sim, path, limit=3)
    assert len(pages) == 2
    for page in pages:
        _validate("listMspOrgStats", page)
    stats = [item for page in pages for item in page]
    listed = sim.admin("GET", "orgs")["orgs"]
    assert [(s["id"], s["name"], s["num_devices"]) for s in stats] == [
        (org["org_id"], org["name"], org["gateways"]) for org in listed
    ]
    assert all(
        s["num_devices_connected"] + s["num_devices_disconnected"] == s["num_devices"]
        for s in stats
    )
    org_token = sim.get(path, token="test-token")
    assert org_token.status_code == 403  # an org token does not read the MSP


def test_one_org_can_fail_and_orgs_can_leave_the_msp(mistsim_factory):
    sim = mistsim_factory(gateways=30, sites=6, orgs=3, spread_orgs=True, msp_tokens=["msp"])
    first, second, third = (org["org_id"] for org in sim.admin("GET", "orgs")["orgs"])
    sim.set_faults(forbidden=True, paths=f"/orgs/{second}/")
    assert sim.get(f"/api/v1/orgs/{second}/sites", token="msp").status_code == 403
    assert sim.get(f"/api/v1/orgs/{first}/sites", token="msp").status_code == 200
    sim.clear_faults()
    sim.set_faults(error_rate=1.0, paths=f"/orgs/{third}/")
    assert sim.get(f"/api/v1/orgs/{third}/sites", token="msp").status_code >= 500
    assert sim.get(f"/api/v1/orgs/{second}/sites", token="msp").status_code == 200
    sim.clear_faults()
    sim.admin("POST", "orgs", json={"leave": [second]})
    stats = json_of(sim.get(f"/api/v1/msps/{sim.msp_id}/stats/orgs", token="msp"))
    assert [item["id"] for item in stats] == [first, third]
    plain = json_of(sim.get(f"/api/v1/msps/{sim.msp_id}/orgs", token="msp"))
    assert [item["id"] for item in plain] == [first, third]
    sim.admin("POST", "orgs", json={"join": [second]})
    stats = json_of(sim.get(f"/api/v1/msps/{sim.msp_id}/stats/orgs", token="msp"))
    assert [item["id"] for item in stats] == [first, second, third]


def test_one_org_stays_the_default(mistsim):
    listed = mistsim.admin("GET", "orgs")["orgs"]
    assert [org["org_id"] for org in listed] == [mistsim.org_id]
    assert listed[0]["gateways"] == mistsim.org_summary()["gateways"]

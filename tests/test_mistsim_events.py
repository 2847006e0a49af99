"""mistsim's event record (mistsim/events.py): what its admin API does becomes Mist's device
events and alarms, served by `searchOrgDeviceEvents` and `searchOrgAlarms` in the spec's
shapes (tests/data/mist-openapi/events_schemas.json, MIT), search-paged, through the SDK."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from mistapi.api.v1.orgs import alarms, devices

from tests.fixtures.mistsim_server import MistSim, json_of, sdk_session

SPEC = json.loads((Path(__file__).parent / "data/mist-openapi/events_schemas.json").read_text())


def validate(operation: str, body: Any) -> None:
    schema = {"$ref": SPEC["responses"][operation]["$ref"], "components": SPEC["components"]}
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(body))
    assert not errors, [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:5]]


def wan_ports(sim: MistSim) -> list[dict[str, Any]]:
    ports = json_of(
        sim.get(f"/api/v1/orgs/{sim.org_id}/stats/ports/search", device_type="gateway", limit=1000)
    )["results"]
    return [entry for entry in ports if entry["port_usage"] == "wan"]


def spoke(sim: MistSim) -> tuple[str, str, str]:
    """(mac, first WAN port, second WAN port) of a connected spoke with peer paths whose
    links have been up for hours (no scheduled flap tells anything of it)."""
    paths = json_of(sim.get(f"/api/v1/orgs/{sim.org_id}/stats/vpn_peers/search", limit=1000))
    now = paths["end"]
    by_mac: dict[str, list[str]] = {}
    restless = set()
    for entry in wan_ports(sim):
        if entry["up"] and entry["last_flapped"] < now - 4 * 3600:
            by_mac.setdefault(entry["mac"], []).append(entry["port_id"])
        else:
            restless.add(entry["mac"])
    for mac in restless:
        by_mac.pop(mac, None)
    for path in paths["results"]:
        wan = by_mac.get(path["mac"], [])
        if path["up"] and path["port_id"] in wan and len(wan) >= 2:
            other = next(p for p in wan if p != path["port_id"])
            return path["mac"], path["port_id"], other
    raise AssertionError("no spoke with two WAN ports up and a path")


def search(sim: MistSim, kind: str = "devices/events", **params: Any) -> dict[str, Any]:
    params.setdefault("device_type", "gateway") if kind == "devices/events" else None
    return dict(json_of(sim.get(f"/api/v1/orgs/{sim.org_id}/{kind}/search", **params)))


@pytest.fixture
def sim(mistsim_factory) -> MistSim:
    return mistsim_factory(gateways=12, sites=6, peer_paths=2)


def test_admin_actions_become_device_events_and_alarms_in_the_specs_shape(sim: MistSim):
    mac, first, second = spoke(sim)
    assert search(sim, mac=mac)["results"] == []  # a quiet gateway tells nothing
    sim.admin("POST", "flap", json={"mac": mac, "port_id": first, "seconds": 8})
    sim.admin("POST", "link", json={"mac": mac, "port_id": second, "state": "down"})
    sim.admin("POST", "link", json={"mac": mac, "port_id": second, "state": "down"})  # no change
    sim.admin("POST", "gateway", json={"mac": mac, "connected": False})
    validate("searchOrgDeviceEvents", search(sim, limit=1000))
    body = search(sim, mac=mac, limit=1000)
    told = [(e["type"], e.get("port_id")) for e in body["results"]]
    ports = [t for t in told if t[0].startswith("GW_PORT")]
    assert ports == [("GW_PORT_DOWN", first), ("GW_PORT_UP", first), ("GW_PORT_DOWN", second)]
    assert told[-1] == ("GW_DISCONNECTED", None)
    assert any(kind == "GW_VPN_PATH_DOWN" for kind, _ in told)
    down, up, _ = (e for e in body["results"] if e["type"].startswith("GW_PORT"))
    assert up["timestamp"] - down["timestamp"] == pytest.approx(8, abs=0.01)
    assert {e["mac"] for e in body["results"]} == {mac}
    path = next(e for e in body["results"] if e["type"] == "GW_VPN_PATH_DOWN")
    assert {"port_id", "peer_mac", "peer_port_id"} <= set(path)
    assert search(sim, device_type="ap")["results"] == []  # Mist's default type is `ap`
    only = search(sim, type="GW_DISCONNECTED,GW_CONNECTED", mac=mac)["results"]
    assert [e["type"] for e in only] == ["GW_DISCONNECTED"]

    open_alarms = search(sim, "alarms", status="open", limit=1000)
    validate("searchOrgAlarms", open_alarms)
    kinds = sorted({a["type"] for a in open_alarms["results"] if a["gateways"] == [mac]})
    assert kinds == ["device_down", "gw_critical_port_down", "gw_vpn_path_down"]
    resolved = search(sim, "alarms", status="resolved", type="gw_critical_port_down")
    validate("searchOrgAlarms", resolved)
    [flap] = [a for a in resolved["results"] if a["gateways"] == [mac]]
    assert flap["gateways"] == [mac] and flap["resolved_time"] >= flap["timestamp"] - 1


def test_events_page_with_next_and_read_through_the_sdk(sim: MistSim):
    mac, first, _ = spoke(sim)
    for _ in range(3):
        sim.admin("POST", "flap", json={"mac": mac, "port_id": first, "seconds": 2})
    every = search(sim, type="GW_PORT_DOWN,GW_PORT_UP", mac=mac, limit=1000)["results"]
    assert len(every) == 6
    session = sdk_session(sim)
    pages, response = [], devices.searchOrgDeviceEvents(
        session, sim.org_id, device_type="gateway", type="GW_PORT_DOWN,GW_PORT_UP", mac=mac,
        limit=4,
    )  # fmt: skip
    while True:
        assert response.status_code == 200
        validate("searchOrgDeviceEvents", response.data)
        pages.append(response.data["results"])
        if not response.data.get("next"):
            break
        response = session.mist_get(response.data["next"])
    assert [len(page) for page in pages] == [4, 2]
    assert [e for page in pages for e in page] == every
    answer = alarms.searchOrgAlarms(session, sim.org_id, type="gw_critical_port_down")
    mine = [a for a in answer.data["results"] if a["gateways"] == [mac]]
    assert answer.status_code == 200 and len(mine) == 3
    last = int(every[-1]["timestamp"])
    window = search(sim, mac=mac, start=str(last + 5), end=str(last + 60))
    assert window["results"] == []


def test_a_peer_path_down_is_a_path_event_and_the_path_search_shows_it(sim: MistSim):
    mac, first, _ = spoke(sim)
    sim.admin("POST", "path", json={"mac": mac, "port_id": first, "state": "down"})
    sim.admin("POST", "path", json={"mac": mac, "port_id": first, "state": "down"})  # no change
    told = search(sim, type="GW_VPN_PATH_DOWN,GW_VPN_PATH_UP", mac=mac, limit=1000)["results"]
    assert told and {(e["type"], e["mac"], e["port_id"]) for e in told} == {
        ("GW_VPN_PATH_DOWN", mac, first)
    }
    paths = json_of(sim.get(f"/api/v1/orgs/{sim.org_id}/stats/vpn_peers/search", mac=mac))
    down = {(p["peer_mac"], p["peer_port_id"]) for p in paths["results"] if not p["up"]}
    assert down == {(e["peer_mac"], e["peer_port_id"]) for e in told}
    assert search(sim, type="GW_PORT_DOWN", mac=mac)["results"] == []  # the link stayed up
    sim.admin("POST", "path", json={"mac": mac, "port_id": first, "state": "up"})
    assert len(search(sim, type="GW_VPN_PATH_UP", mac=mac)["results"]) == len(told)


def test_the_generated_orgs_flapping_ports_tell_their_flaps(sim: MistSim):
    """Each outage of a flapping port is a GW_PORT_DOWN then a GW_PORT_UP, the last of them
    at the port's `last_flapped`, and its peer paths go down and up with it."""
    body = search(sim, limit=1000, duration="3h")
    validate("searchOrgDeviceEvents", body)
    told = body["results"]
    flapping = {(e["mac"], e["port_id"]) for e in told if e["type"] == "GW_PORT_DOWN"}
    assert flapping, "every org of 3+ spokes has a flapping port"
    stats = {(p["mac"], p["port_id"]): p for p in wan_ports(sim)}
    for mac, port_id in flapping:
        mine = [e for e in told if (e["mac"], e.get("port_id")) == (mac, port_id)]
        kinds = [e["type"] for e in mine if e["type"].startswith("GW_PORT")]
        assert all(a != b for a, b in pairwise(kinds)), kinds
        last = max(e["timestamp"] for e in mine if e["type"].startswith("GW_PORT"))
        assert stats[(mac, port_id)]["last_flapped"] == pytest.approx(last, abs=0.2)
    assert any(e["type"] == "GW_VPN_PATH_DOWN" for e in told)


def test_bad_time_arguments_are_a_400(sim: MistSim):
    answer = sim.get(f"/api/v1/orgs/{sim.org_id}/devices/events/search", duration="soon")
    assert answer.status_code == 400 and "duration" in json_of(answer)["detail"]
    answer = sim.get(f"/api/v1/orgs/{sim.org_id}/alarms/search", start="yesterday")
    assert answer.status_code == 400

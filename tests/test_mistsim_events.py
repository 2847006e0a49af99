"""mistsim's event record (mistsim/events.py): what its admin API does becomes Mist's device
events and alarms, served by `searchOrgDeviceEvents` and `searchOrgAlarms` in the spec's
shapes (tests/data/mist-openapi/events_schemas.json, MIT), search-paged, through the SDK."""

from __future__ import annotations

import json
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


def spoke(sim: MistSim) -> tuple[str, str, str]:
    """(mac, first WAN port, second WAN port) of a connected spoke with peer paths."""
    paths = json_of(sim.get(f"/api/v1/orgs/{sim.org_id}/stats/vpn_peers/search", limit=1000))
    ports = json_of(
        sim.get(f"/api/v1/orgs/{sim.org_id}/stats/ports/search", device_type="gateway", limit=1000)
    )["results"]
    by_mac: dict[str, list[str]] = {}
    for entry in ports:
        if entry["port_usage"] == "wan" and entry["up"]:
            by_mac.setdefault(entry["mac"], []).append(entry["port_id"])
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
    assert search(sim)["results"] == []  # a quiet org tells nothing
    sim.admin("POST", "flap", json={"mac": mac, "port_id": first, "seconds": 8})
    sim.admin("POST", "link", json={"mac": mac, "port_id": second, "state": "down"})
    sim.admin("POST", "link", json={"mac": mac, "port_id": second, "state": "down"})  # no change
    sim.admin("POST", "gateway", json={"mac": mac, "connected": False})
    body = search(sim, limit=1000)
    validate("searchOrgDeviceEvents", body)
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
    only = search(sim, type="GW_DISCONNECTED,GW_CONNECTED")["results"]
    assert [e["type"] for e in only] == ["GW_DISCONNECTED"]

    open_alarms = search(sim, "alarms", status="open", limit=1000)
    validate("searchOrgAlarms", open_alarms)
    kinds = sorted({a["type"] for a in open_alarms["results"]})
    assert kinds == ["device_down", "gw_critical_port_down", "gw_vpn_path_down"]
    resolved = search(sim, "alarms", status="resolved", type="gw_critical_port_down")
    validate("searchOrgAlarms", resolved)
    [flap] = resolved["results"]
    assert flap["gateways"] == [mac] and flap["resolved_time"] >= flap["timestamp"] - 1


def test_events_page_with_next_and_read_through_the_sdk(sim: MistSim):
    mac, first, _ = spoke(sim)
    for _ in range(3):
        sim.admin("POST", "flap", json={"mac": mac, "port_id": first, "seconds": 2})
    every = search(sim, type="GW_PORT_DOWN,GW_PORT_UP", limit=1000)["results"]
    assert len(every) == 6
    session = sdk_session(sim)
    pages, response = (
        [],
        devices.searchOrgDeviceEvents(
            session, sim.org_id, device_type="gateway", type="GW_PORT_DOWN,GW_PORT_UP", limit=4
        ),
    )
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
    assert answer.status_code == 200 and len(answer.data["results"]) == 3
    last = int(every[-1]["timestamp"])
    window = search(sim, start=str(last + 5), end=str(last + 60))
    assert window["results"] == []


def test_a_peer_path_down_is_a_path_event_and_the_path_search_shows_it(sim: MistSim):
    mac, first, _ = spoke(sim)
    sim.admin("POST", "path", json={"mac": mac, "port_id": first, "state": "down"})
    sim.admin("POST", "path", json={"mac": mac, "port_id": first, "state": "down"})  # no change
    told = search(sim, type="GW_VPN_PATH_DOWN,GW_VPN_PATH_UP", limit=1000)["results"]
    assert told and {(e["type"], e["mac"], e["port_id"]) for e in told} == {
        ("GW_VPN_PATH_DOWN", mac, first)
    }
    paths = json_of(sim.get(f"/api/v1/orgs/{sim.org_id}/stats/vpn_peers/search", mac=mac))
    down = {(p["peer_mac"], p["peer_port_id"]) for p in paths["results"] if not p["up"]}
    assert down == {(e["peer_mac"], e["peer_port_id"]) for e in told}
    assert search(sim, type="GW_PORT_DOWN")["results"] == []  # the link stayed up
    sim.admin("POST", "path", json={"mac": mac, "port_id": first, "state": "up"})
    assert len(search(sim, type="GW_VPN_PATH_UP")["results"]) == len(told)


def test_bad_time_arguments_are_a_400(sim: MistSim):
    answer = sim.get(f"/api/v1/orgs/{sim.org_id}/devices/events/search", duration="soon")
    assert answer.status_code == 400 and "duration" in json_of(answer)["detail"]
    answer = sim.get(f"/api/v1/orgs/{sim.org_id}/alarms/search", start="yesterday")
    assert answer.status_code == 400

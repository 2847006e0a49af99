"""mistsim's `GET /sites/{site_id}/devices` (listSiteDevices) against the official spec.

The worker reads it for a site with several stale gateways: one call gives every gateway's
own config (its port_config overrides) where `getSiteDevice` costs one call each. The
answer must validate against the spec's `config_devices` schema (tests/data/mist-openapi/
site_devices_schemas.json, MIT), hold exactly what `getSiteDevice` says of each gateway,
page like Mist's other arrays, and be read through the real SDK by the worker's connection.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from mist.connection import MistConnection
from mist.streams import CallCounter
from settings import load_worker_settings
from tests.fixtures.mistsim_server import MistSim, json_of
from tests.fixtures.worker_proc import worker_env

SPEC = json.loads(
    (Path(__file__).parent / "data/mist-openapi/site_devices_schemas.json").read_text()
)


def validate(body: Any) -> None:
    """The spec's `config_device` is a oneOf (AP / switch / gateway) without discriminator
    that no real object can pass alone: the branch is picked by `type`, as in
    tests/test_mistsim_schema.py."""
    schemas = dict(SPEC["components"]["schemas"])
    schemas["config_device"] = {
        "if": {"properties": {"type": {"const": "gateway"}}, "required": ["type"]},
        "then": {"$ref": "#/components/schemas/device_gateway"},
        "else": {"not": {}},
    }
    schema = {
        "$ref": SPEC["responses"]["listSiteDevices"]["$ref"],
        "components": {"schemas": schemas},
    }
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(body))
    assert not errors, [f"{list(e.absolute_path)[:5]}: {e.message[:200]}" for e in errors[:5]]


def gateways_by_site(sim: MistSim) -> dict[str, list[dict[str, Any]]]:
    inventory = json_of(sim.get(f"/api/v1/orgs/{sim.org_id}/inventory", type="gateway", limit=1000))
    by_site: dict[str, list[dict[str, Any]]] = {}
    for item in inventory:
        by_site.setdefault(item["site_id"], []).append(item)
    return by_site


@pytest.fixture
def sim(mistsim_factory) -> MistSim:
    return mistsim_factory(gateways=30, sites=8)  # several gateways a site


def test_a_sites_device_list_is_each_gateways_own_config(sim: MistSim) -> None:
    by_site = gateways_by_site(sim)
    site_id, items = max(by_site.items(), key=lambda entry: len(entry[1]))
    assert len(items) >= 3
    response = sim.get(f"/api/v1/sites/{site_id}/devices", type="gateway", limit=1000)
    assert response.status_code == 200
    listed = json_of(response)
    validate(listed)
    assert response.headers["X-Page-Total"] == str(len(items))
    assert sorted(device["id"] for device in listed) == sorted(item["id"] for item in items)
    for device in listed:
        own = json_of(sim.get(f"/api/v1/sites/{site_id}/devices/{device['id']}"))
        assert device == own  # the same object getSiteDevice answers, overrides included
    every = [
        device
        for site in by_site
        for device in json_of(sim.get(f"/api/v1/sites/{site}/devices", type="gateway"))
    ]
    validate(every)
    assert len(every) == 30 and any(device["port_config"] for device in every)  # overrides


def test_the_list_pages_and_filters_like_mist(sim: MistSim) -> None:
    site_id, items = max(gateways_by_site(sim).items(), key=lambda entry: len(entry[1]))
    path = f"/api/v1/sites/{site_id}/devices"
    first = sim.get(path, type="gateway", limit=2)
    assert (first.headers["X-Page-Total"], first.headers["X-Page-Limit"]) == (str(len(items)), "2")
    pages = [json_of(first)]
    for page in range(2, -(-len(items) // 2) + 1):
        pages.append(json_of(sim.get(path, type="gateway", limit=2, page=page)))
    for body in pages:
        validate(body)
    assert sorted(d["id"] for body in pages for d in body) == sorted(i["id"] for i in items)
    assert json_of(sim.get(path)) == []  # `type` defaults to ap, as in Mist
    named = json_of(sim.get(path, type="gateway", name=items[0]["name"]))
    assert [device["id"] for device in named] == [items[0]["id"]]
    other = sim.get("/api/v1/sites/00000000-0000-0000-0000-00000000dead/devices", type="gateway")
    assert other.status_code == 403  # a site of no org the token reads


def test_the_worker_reads_a_site_through_the_sdk(sim: MistSim, redis_server) -> None:
    settings = load_worker_settings(worker_env(sim, redis_server.url), env_file=None)
    connection = MistConnection.from_settings(settings, timeout=5.0, backoff=0.01)
    try:
        site_id, items = max(gateways_by_site(sim).items(), key=lambda entry: len(entry[1]))
        counter = CallCounter()
        configs = connection.site_device_configs(site_id, counter)
    finally:
        connection.close()
    assert counter.calls == 1
    assert sorted(config["id"] for config in configs) == sorted(item["id"] for item in items)
    assert all(config["type"] == "gateway" and "port_config" in config for config in configs)

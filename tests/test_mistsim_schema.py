"""Every mistsim answer validates against its response schema in the official Mist OpenAPI
spec (tests/data/mist-openapi, MIT), for a normal org and for the `--edge-cases` org.

Documented exceptions, where REFERENCE.md says the newer SDK/API (2602-2604) wins over the
2509.1.1 spec file:
- gateway insights (`/sites/{id}/insights/gateway/{device_id}/stats`) is not in 2509; its
  2604 schema `response_device_metrics` is the one 2509 uses for device insights, so we
  validate against that. The keyed multi-metric shape (one array per metric, no `results`)
  is the unverified live shape and is checked by hand instead.
- port search: 2509 declares `type` and a time window; the SDK sends `device_type`. The
  response schema is unchanged, so it is validated as is.
- `port_usage` of a port-search result: 2509 enumerates only `lan`; 2604 makes it a free
  string and gateways report `wan`, so the enum is relaxed to a string.
- `stats_device`, `mist_device`, `deviceprofile` are `oneOf` (AP / switch / gateway) without
  a discriminator or `additionalProperties: false`, so every real object matches several
  branches and `oneOf` can never pass. We pick the branch by the object's `type`, which is
  what the spec's examples and descriptions mean.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from tests.fixtures.mistsim_server import MistSim, json_of

SPEC = json.loads((Path(__file__).parent / "data/mist-openapi/schemas.json").read_text())


def _by_type(branches: dict[str, str]) -> dict[str, Any]:
    """A `type`-discriminated replacement for the spec's ambiguous oneOf."""
    rule: dict[str, Any] = {}
    for kind, name in reversed(list(branches.items())):
        ref = {"$ref": f"#/components/schemas/{name}"}
        rule = {
            "if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
            "then": ref,
            "else": rule or {"not": {}},
        }
    return rule


def _components() -> dict[str, Any]:
    schemas = dict(SPEC["components"]["schemas"])
    schemas["stats_switch_port_port_usage"] = {"type": "string"}
    schemas["stats_device"] = _by_type(
        {"gateway": "stats_gateway", "ap": "stats_ap", "switch": "stats_switch"}
    )
    schemas["mist_device"] = _by_type(
        {"gateway": "device_gateway", "ap": "device_ap", "switch": "device_switch"}
    )
    schemas["deviceprofile"] = _by_type(
        {
            "gateway": "deviceprofile_gateway",
            "ap": "deviceprofile_ap",
            "switch": "deviceprofile_switch",
        }
    )
    return {"schemas": schemas}


COMPONENTS = _components()


def _validate(operation: str, body: Any) -> None:
    schema = {"$ref": SPEC["responses"][operation]["$ref"], "components": COMPONENTS}
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        detail = "\n".join(f"{list(e.absolute_path)[:6]}: {e.message[:300]}" for e in errors[:10])
        pytest.fail(f"{operation}: {len(errors)} schema errors\n{detail}")


def _all_pages(sim: MistSim, path: str, **params: Any) -> list[Any]:
    """Every page's body, following X-Page headers or `next`, with limit 1000."""
    params.setdefault("limit", 1000)
    bodies = []
    response = sim.get(path, **params)
    while True:
        assert response.status_code == 200, response.text
        body = json_of(response)
        bodies.append(body)
        if isinstance(body, dict) and body.get("next"):
            response = sim.http.get(
                sim.url + body["next"],
                headers={"Authorization": f"Token {sim.tokens[0]}"},
                timeout=60,
            )
            continue
        headers = response.headers
        if isinstance(body, list) and int(headers["X-Page-Total"]) > int(
            headers["X-Page-Limit"]
        ) * int(headers["X-Page-Page"]):
            params["page"] = int(response.headers["X-Page-Page"]) + 1
            response = sim.get(path, **params)
            continue
        return bodies


@pytest.fixture(scope="module", params=["normal", "edge-cases"])
def sim(request, tmp_path_factory) -> Any:
    """Module-scoped: the schema checks only read."""
    from tests.fixtures.mistsim_server import _flag_args

    options: dict[str, Any] = {
        "gateways": 40,
        "sites": 14,
        "orgs": 3,
        "tokens": ["schema-token"],
        "msp_tokens": ["schema-msp-token"],
        "user_tokens": "schema-user=site:2:admin+org:1+msp,schema-site=site:1:helpdesk",
    }
    if request.param == "edge-cases":
        options["edge_cases"] = True
    ca = tmp_path_factory.mktemp("mistsim") / "ca.pem"
    started = MistSim(
        ["--port", "0", *_flag_args(options)], ca, ["schema-token"], ["schema-msp-token"]
    )
    yield started
    started.stop()


def test_identity_and_org_answers_match_the_spec(sim: MistSim) -> None:
    _validate("getSelf", json_of(sim.get("/api/v1/self")))
    _validate("getSelfApiUsage", json_of(sim.get("/api/v1/self/usage")))
    _validate("getOrg", json_of(sim.get(f"/api/v1/orgs/{sim.org_id}")))
    for body in _all_pages(sim, f"/api/v1/orgs/{sim.org_id}/sites"):
        _validate("listOrgSites", body)


def test_msp_token_answers_match_the_spec(sim: MistSim) -> None:
    """An MSP-scoped token: /self names the MSP; its orgs are a header-paged org list."""
    token = sim.msp_tokens[0]
    me = json_of(sim.get("/api/v1/self", token=token))
    _validate("getSelf", me)
    assert [(p["scope"], p["msp_id"]) for p in me["privileges"]] == [("msp", sim.msp_id)]
    path = f"/api/v1/msps/{sim.msp_id}/orgs"
    first = sim.get(path, token=token, limit=2)
    assert (first.headers["X-Page-Total"], first.headers["X-Page-Limit"]) == ("3", "2")
    assert first.headers["X-Page-Page"] == "1"
    pages = _all_pages(sim, path, token=token, limit=2)
    assert [len(page) for page in pages] == [2, 1]
    for page in pages:
        _validate("listMspOrgs", page)
    assert [org["id"] for page in pages for org in page] == sim.org_summary()["org_ids"]
    assert {org["msp_id"] for page in pages for org in page} == {sim.msp_id}
    refused = sim.get(path)  # an org token may not list the MSP
    assert refused.status_code == 403
    _validate("HTTP403", json_of(refused))


def test_user_token_answers_match_the_spec(sim: MistSim) -> None:
    """User tokens: /self lists mixed scopes in the order given; a site privilege reads its
    site and nothing org-wide."""
    me = json_of(sim.get("/api/v1/self", token="schema-user"))
    _validate("getSelf", me)
    assert [p["scope"] for p in me["privileges"]] == ["site", "org", "msp"]
    site_only = json_of(sim.get("/api/v1/self", token="schema-site"))
    _validate("getSelf", site_only)
    (site,) = site_only["privileges"]
    assert (site["scope"], site["role"], site["org_id"]) == ("site", "helpdesk", sim.org_id)
    org_wide = sim.get(f"/api/v1/orgs/{sim.org_id}/stats/devices", token="schema-site")
    assert org_wide.status_code == 403
    _validate("HTTP403", json_of(org_wide))
    assert sim.get(f"/api/v1/sites/{site['site_id']}/stats/ports/count", token="schema-site").ok


def test_stats_answers_match_the_spec(sim: MistSim) -> None:
    org = f"/api/v1/orgs/{sim.org_id}"
    for fields in (None, "ports,vpn_peers", "*"):
        for body in _all_pages(sim, f"{org}/stats/devices", type="gateway", fields=fields):
            _validate("listOrgDevicesStats", body)
    for body in _all_pages(sim, f"{org}/stats/ports/search", device_type="gateway", limit=50):
        _validate("searchOrgSwOrGwPorts", body)
    for body in _all_pages(sim, f"{org}/stats/vpn_peers/search", limit=50):
        _validate("searchOrgPeerPathStats", body)
    for distinct in ("mac", "up", "type"):
        _validate(
            "countOrgPeerPathStats",
            json_of(sim.get(f"{org}/stats/vpn_peers/count", distinct=distinct)),
        )
    for distinct in ("mac", "up", "port_id", "speed"):
        _validate(
            "countOrgSwOrGwPorts", json_of(sim.get(f"{org}/stats/ports/count", distinct=distinct))
        )
    site_id = json_of(sim.get(f"{org}/sites"))[1]["id"]
    for body in _all_pages(sim, f"/api/v1/sites/{site_id}/stats/ports/search", limit=3):
        _validate("searchSiteSwOrGwPorts", body)


def test_config_answers_match_the_spec(sim: MistSim) -> None:
    org = f"/api/v1/orgs/{sim.org_id}"
    inventory = [i for body in _all_pages(sim, f"{org}/inventory", type="gateway") for i in body]
    _validate("getOrgInventory", inventory)
    templates = json_of(sim.get(f"{org}/gatewaytemplates"))
    _validate("listOrgGatewayTemplates", templates)
    for template in templates:
        _validate(
            "getOrgGatewayTemplate", json_of(sim.get(f"{org}/gatewaytemplates/{template['id']}"))
        )
    for kind in ("gateway", "ap"):
        profiles = json_of(sim.get(f"{org}/deviceprofiles", type=kind))
        _validate("listOrgDeviceProfiles", profiles)
        for profile in profiles:
            _validate(
                "getOrgDeviceProfile", json_of(sim.get(f"{org}/deviceprofiles/{profile['id']}"))
            )
    for item in inventory:
        _validate(
            "getSiteDevice",
            json_of(sim.get(f"/api/v1/sites/{item['site_id']}/devices/{item['id']}")),
        )


def test_gateway_insights_match_the_device_metrics_schema(sim: MistSim) -> None:
    item = json_of(sim.get(f"/api/v1/orgs/{sim.org_id}/inventory", type="gateway"))[3]
    path = f"/api/v1/sites/{item['site_id']}/insights/gateway/{item['id']}/stats"
    for interval, duration in (("10m", "1d"), ("1h", "7d")):
        body = json_of(sim.get(path, metrics="rx_bps", interval=interval, duration=duration))
        _validate("getSiteInsightMetricsForDevice", body)
    legacy = f"/api/v1/sites/{item['site_id']}/insights/device/{item['mac']}/tx_bps"
    _validate("getSiteInsightMetricsForDevice", json_of(sim.get(legacy, duration="1d")))
    # exception (see module docstring): the keyed multi-metric shape has no `results`
    keyed = json_of(sim.get(path, metrics="rx_bps,tx_bps", interval="1h", duration="1d"))
    assert {"start", "end", "interval", "rt", "rx_bps", "tx_bps"} <= set(keyed)
    assert len(keyed["rx_bps"]) == len(keyed["tx_bps"]) == len(keyed["rt"])


def test_site_sles_match_the_spec_and_page_in_the_body(sim: MistSim) -> None:
    """getOrgSitesSle (style D: `page`, `limit`, `total` in the body, no headers): every
    page validates as the spec's WAN SLE shape and the pages hold each site once."""
    path = f"/api/v1/orgs/{sim.org_id}/insights/sites-sle"
    first = sim.get(path, sle="wan", duration="1h", limit=5)
    assert first.status_code == 200 and "X-Page-Total" not in first.headers
    body = json_of(first)
    _validate("getOrgSitesSle", body)
    sites = [r["site_id"] for r in body["results"]]
    for page in range(2, -(-body["total"] // 5) + 1):
        more = json_of(sim.get(path, sle="wan", duration="1h", limit=5, page=page))
        _validate("getOrgSitesSle", more)
        sites += [r["site_id"] for r in more["results"]]
    known = {site["id"] for site in json_of(sim.get(f"/api/v1/orgs/{sim.org_id}/sites"))}
    assert len(sites) == len(set(sites)) == body["total"] > 5 and set(sites) <= known
    whole = json_of(sim.get(path, sle="wan", duration="1h", limit=1000))["results"]
    for result in whole:
        for name in ("gateway-health", "wan-link-health", "application_health"):
            assert name not in result or 0 <= result[name] <= 1
    assert any(r.get("wan-link-health", 1) < 1 for r in whole)  # not every site is perfect
    assert sim.get(path, sle="wan", duration="soon").status_code == 400


def test_error_bodies_match_the_spec(sim: MistSim) -> None:
    org = f"/api/v1/orgs/{sim.org_id}"
    _validate("HTTP401", json_of(sim.get(f"{org}/sites", token="wrong-token")))
    other_org = "11111111-2222-4333-8444-555555555555"
    _validate("HTTP403", json_of(sim.get(f"/api/v1/orgs/{other_org}/sites")))
    _validate("HTTP404", json_of(sim.get("/api/v1/no/such/endpoint")))
    _validate("HTTP400", json_of(sim.get(f"{org}/stats/devices", type="gateway", limit="x")))

"""Regenerate schemas.json, events_schemas.json and site_devices_schemas.json: the response
schemas mistsim's contract tests validate against.

Run from the repo root with the official spec at hand (a file name last: only that one):
    python tests/data/mist-openapi/extract.py /path/to/mist.openapi.json [events_schemas.json]

It copies, for each operation mistsim serves, the 200-response schema and every component
schema it references (the closure, `$ref`s kept), and rewrites OpenAPI's `nullable: true`
into JSON Schema's `type: [..., "null"]` so `jsonschema` reads it as the spec means it.
The spec is MIT-licensed (notice in LICENSE, in this folder).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

OPERATIONS = {
    "getSelf": "/api/v1/self",
    "getSelfApiUsage": "/api/v1/self/usage",
    "getOrg": "/api/v1/orgs/{org_id}",
    "listMspOrgs": "/api/v1/msps/{msp_id}/orgs",
    "listMspOrgStats": "/api/v1/msps/{msp_id}/stats/orgs",
    "listOrgSites": "/api/v1/orgs/{org_id}/sites",
    "listOrgDevicesStats": "/api/v1/orgs/{org_id}/stats/devices",
    "searchOrgSwOrGwPorts": "/api/v1/orgs/{org_id}/stats/ports/search",
    "searchSiteSwOrGwPorts": "/api/v1/sites/{site_id}/stats/ports/search",
    "searchOrgPeerPathStats": "/api/v1/orgs/{org_id}/stats/vpn_peers/search",
    "countOrgPeerPathStats": "/api/v1/orgs/{org_id}/stats/vpn_peers/count",
    "countOrgSwOrGwPorts": "/api/v1/orgs/{org_id}/stats/ports/count",
    "getOrgInventory": "/api/v1/orgs/{org_id}/inventory",
    "listOrgGatewayTemplates": "/api/v1/orgs/{org_id}/gatewaytemplates",
    "getOrgGatewayTemplate": "/api/v1/orgs/{org_id}/gatewaytemplates/{gatewaytemplate_id}",
    "listOrgDeviceProfiles": "/api/v1/orgs/{org_id}/deviceprofiles",
    "getOrgDeviceProfile": "/api/v1/orgs/{org_id}/deviceprofiles/{deviceprofile_id}",
    "getSiteDevice": "/api/v1/sites/{site_id}/devices/{device_id}",
    "getOrgSitesSle": "/api/v1/orgs/{org_id}/insights/sites-sle",
    # not in spec 2509; the gateway insights answer uses this same schema in 2604
    "getSiteInsightMetricsForDevice": (
        "/api/v1/sites/{site_id}/insights/device/{device_mac}/{metric}"
    ),
}
ERRORS = ["HTTP400", "HTTP401", "HTTP403", "HTTP404", "HTTP429"]


def _schema_ref(spec: dict[str, Any], response: dict[str, Any]) -> str:
    if "$ref" in response:
        response = spec["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return str(response["content"]["application/json"]["schema"]["$ref"])


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[1])
            else:
                found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _nullable(node: Any) -> Any:
    if isinstance(node, dict):
        node = {key: _nullable(value) for key, value in node.items() if key != "examples"}
        if node.pop("nullable", False):
            kind = node.get("type")
            if isinstance(kind, str):
                node["type"] = [kind, "null"]
            elif "$ref" in node or "oneOf" in node or "anyOf" in node or "allOf" in node:
                node = {"anyOf": [{"type": "null"}, node]}
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        return node
    if isinstance(node, list):
        return [_nullable(value) for value in node]
    return node


def write_subset(
    spec_path: str, operations: dict[str, str], errors: Sequence[str], out_name: str
) -> None:
    """The 200 responses of `operations` and the `errors` responses, with every schema they
    reach (`nullable` rewritten), written to `out_name` beside this file."""
    spec = json.loads(Path(spec_path).read_text())
    responses: dict[str, dict[str, str]] = {}
    wanted: set[str] = set()
    for operation, path in operations.items():
        ref = _schema_ref(spec, spec["paths"][path]["get"]["responses"]["200"])
        responses[operation] = {"$ref": ref}
        wanted.add(ref.rsplit("/", 1)[1])
    for error in errors:
        ref = _schema_ref(spec, spec["components"]["responses"][error])
        responses[error] = {"$ref": ref}
        wanted.add(ref.rsplit("/", 1)[1])
    schemas = spec["components"]["schemas"]
    closure: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name not in closure:
            closure.add(name)
            wanted |= _refs(schemas[name]) - closure
    document = {
        "info": {
            "source": "mistsys/mist_openapi, mist.openapi.json",
            "version": spec["info"]["version"],
            "license": "MIT; see LICENSE in this folder",
        },
        "responses": responses,
        "components": {"schemas": {name: _nullable(schemas[name]) for name in sorted(closure)}},
    }
    out = Path(__file__).with_name(out_name)
    out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"{out}: {len(closure)} schemas, {out.stat().st_size // 1024} KB")


EVENT_OPERATIONS = {
    "searchOrgDeviceEvents": "/api/v1/orgs/{org_id}/devices/events/search",
    "searchOrgAlarms": "/api/v1/orgs/{org_id}/alarms/search",
}
SITE_DEVICE_OPERATIONS = {"listSiteDevices": "/api/v1/sites/{site_id}/devices"}
SUBSETS: dict[str, tuple[dict[str, str], Sequence[str]]] = {
    "schemas.json": (OPERATIONS, ERRORS),
    "events_schemas.json": (EVENT_OPERATIONS, ()),  # the events stream's searches
    "site_devices_schemas.json": (SITE_DEVICE_OPERATIONS, ()),  # several gateways per site
}


def main(spec_path: str, only: str | None = None) -> None:
    """Every subset, or only the file named (each regenerates on its own)."""
    for out_name, (operations, errors) in SUBSETS.items():
        if only in (None, out_name):
            write_subset(spec_path, operations, errors, out_name)


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "../shared/mist-api/mist.openapi.json",
        sys.argv[2] if len(sys.argv) > 2 else None,
    )

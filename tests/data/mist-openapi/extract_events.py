"""Regenerate events_schemas.json: the response schemas of Mist's device event and alarm
searches, which mistsim serves for the events stream (tests/test_mistsim_events.py).

Run from the repo root with the official spec at hand:
    python tests/data/mist-openapi/extract_events.py /path/to/mist.openapi.json

Same closure and `nullable` rewrite as extract.py (kept in its own file so the two subsets
regenerate independently). The spec is MIT-licensed (notice in LICENSE, in this folder).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

OPERATIONS = {
    "searchOrgDeviceEvents": "/api/v1/orgs/{org_id}/devices/events/search",
    "searchOrgAlarms": "/api/v1/orgs/{org_id}/alarms/search",
}


def _extract() -> Any:
    spec = importlib.util.spec_from_file_location("extract", Path(__file__).with_name("extract.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(spec_path: str) -> None:
    extract = _extract()
    spec = json.loads(Path(spec_path).read_text())
    responses: dict[str, dict[str, str]] = {}
    wanted: set[str] = set()
    for operation, path in OPERATIONS.items():
        ref = extract._schema_ref(spec, spec["paths"][path]["get"]["responses"]["200"])
        responses[operation] = {"$ref": ref}
        wanted.add(ref.rsplit("/", 1)[1])
    schemas = spec["components"]["schemas"]
    closure: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name not in closure:
            closure.add(name)
            wanted |= extract._refs(schemas[name]) - closure
    document = {
        "info": {
            "source": "mistsys/mist_openapi, mist.openapi.json",
            "version": spec["info"]["version"],
            "license": "MIT; see LICENSE in this folder",
        },
        "responses": responses,
        "components": {
            "schemas": {name: extract._nullable(schemas[name]) for name in sorted(closure)}
        },
    }
    out = Path(__file__).with_name("events_schemas.json")
    out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"{out}: {len(closure)} schemas, {out.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/mist-api/mist.openapi.json")

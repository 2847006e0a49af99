"""Regenerate site_devices_schemas.json: the response schema of Mist's site device list
(`listSiteDevices`), which the worker reads for a site with several gateways to learn
their own port_config in one call (tests/test_mistsim_site_devices.py).

Run from the repo root with the official spec at hand:
    python tests/data/mist-openapi/extract_site_devices.py /path/to/mist.openapi.json

extract.py's `write_subset` (the same closure and `nullable` rewrite) into a file of its own,
so the subsets regenerate independently. The spec is MIT-licensed (notice in LICENSE, in
this folder).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

OPERATIONS = {"listSiteDevices": "/api/v1/sites/{site_id}/devices"}


def _extract() -> Any:
    spec = importlib.util.spec_from_file_location("extract", Path(__file__).with_name("extract.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(spec_path: str) -> None:
    _extract().write_subset(spec_path, OPERATIONS, (), "site_devices_schemas.json")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/mist-api/mist.openapi.json")

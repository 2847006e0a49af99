"""`GET /api/v1/sites/{site_id}/devices` (listSiteDevices): every device config of one site.

The worker's way to read the configs of several gateways of one site in one call (a hub
site, or a branch with two gateways) where `getSiteDevice` costs one call each. Header-paged
like the other arrays (`limit` ≤ 1000, `page` from 1); `type` defaults to `ap` as in Mist,
so only `type=gateway` lists the simulated gateways; `name` filters by exact name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mistsim import render

if TYPE_CHECKING:
    from mistsim.api import Call, MistApi, Reply


def list_site_devices(api: MistApi, call: Call) -> Reply:
    """The site's gateways' own configs, in the org's order (the privilege check has
    already refused a site of another org)."""
    from mistsim.api import header_page

    site_id = call.params["site_id"]
    gateways = []
    if (call.arg("type") or "ap") == "gateway":
        gateways = [g for g in api.org.gateways if g.site_id == site_id]
        name = call.arg("name")
        if name:
            gateways = [g for g in gateways if g.name == name]
    return header_page(call, gateways, lambda g: render.device_object(api.org, g))
